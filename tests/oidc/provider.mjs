// A real OpenID provider (panva's oidc-provider) for meshward's interop test.
//
// Started by tests/e2e/oidc.rs with PORT and KEYSET in the environment. It issues JWT access
// tokens (typ at+jwt) through client_credentials with resource indicators; each resource is
// signed with another algorithm. Its keys are made at start and published without `alg`, the
// way oidc-provider does, so one RSA key serves RS256 and PS256.
//
// For the introspection test it also issues opaque access tokens (resources
// urn:meshward:opaque, and urn:meshward:opaque-short living 2 seconds), revokes them, and
// answers introspection for the resource server's clients only: orders-api
// (client_secret_basic) and orders-api-jwt (private_key_jwt with the public JWK passed in
// RS_JWK); nosy-client authenticates but may introspect nothing.
//
// As a security token service it exchanges (RFC 8693, a grant registered below) an opaque
// access token of its own for one addressed to urn:meshward:inventory, for orders-api:
// the issued token names the subject token's client as `sub` and orders-api as `act.sub`,
// with the subject token's scopes or fewer.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PORT);
const keyset = process.env.KEYSET || 'a';
const issuer = `http://127.0.0.1:${port}`;

function privateJwk(type, options, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const keys = [
  privateJwk('rsa', { modulusLength: 2048 }, `rsa-${keyset}`),
  privateJwk('ec', { namedCurve: 'P-256' }, `ec-${keyset}`),
  privateJwk('ed25519', {}, `ed-${keyset}`),
];

const rsJwk = process.env.RS_JWK ? JSON.parse(process.env.RS_JWK) : undefined;
const resourceServers = new Set(['orders-api', 'orders-api-jwt']);
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const exchangeAudiences = new Set(['urn:meshward:inventory']);

const opaque = {
  'urn:meshward:opaque': 300,
  'urn:meshward:opaque-short': 2,
};

const algorithms = {
  'urn:meshward:rs256': 'RS256',
  'urn:meshward:ps256': 'PS256',
  'urn:meshward:es256': 'ES256',
  'urn:meshward:eddsa': 'EdDSA',
};

const provider = new Provider(issuer, {
  jwks: { keys },
  clients: [{
    client_id: 'orders-client',
    client_secret: 'orders-client-secret-orders-client-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
  }, {
    client_id: 'orders-api',
    client_secret: 'orders-api-secret-orders-api-secret-orders-api',
    grant_types: [TOKEN_EXCHANGE],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }, {
    client_id: 'nosy-client',
    client_secret: 'nosy-client-secret-nosy-client-secret-nosy',
    grant_types: [],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }, ...(rsJwk ? [{
    client_id: 'orders-api-jwt',
    grant_types: [],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [rsJwk] },
  }] : [])],
  scopes: ['orders:read', 'orders:write'],
  // The exchanged token's `sub` and `act` (set by the grant below), in introspection.
  extraTokenClaims: (ctx, token) => token.exchange,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: (ctx, client) => resourceServers.has(client.clientId),
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (opaque[resource]) {
          return {
            scope: 'orders:read orders:write',
            audience: resource,
            accessTokenTTL: opaque[resource],
            accessTokenFormat: 'opaque',
          };
        }
        const alg = algorithms[resource];
        if (!alg) throw new errors.InvalidTarget();
        return {
          scope: 'orders:read orders:write',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
});

provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const { params, client } = ctx.oidc;
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('unsupported subject_token_type');
  }
  const subject = await provider.ClientCredentials.find(params.subject_token);
  if (!subject || !subject.isValid) {
    throw new errors.InvalidGrant('subject token is not active');
  }
  if (!exchangeAudiences.has(params.audience)) {
    throw new errors.InvalidTarget();
  }
  const held = new Set((subject.scope || '').split(' ').filter(Boolean));
  const requested = params.scope ? params.scope.split(' ') : [...held];
  if (requested.some((scope) => !held.has(scope))) {
    throw new errors.InvalidScope('scope exceeds the subject token', params.scope);
  }
  const token = new provider.ClientCredentials({ client, scope: requested.join(' ') || undefined });
  token.aud = params.audience;
  token.exchange = { sub: subject.clientId, act: { sub: client.clientId } };
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    scope: token.scope,
  };
}, ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope', 'requested_token_type']);

provider.on('server_error', (ctx, error) => {
  console.error('oidc-provider server_error:', error);
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
