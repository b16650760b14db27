// A service of the mesh written in JavaScript, with panva's `jose` and nothing of meshward:
// it mints and verifies service tokens following only the manual's specification
// (src/manual/_05_service_tokens.rs). Run by tests/e2e/polyglot.rs:
//
//   node service_token.mjs mint   < {"identity","audience","subject_token"?,"scope"?}
//       prints {"token", "jwks"} (a fresh ES256 key, its public JWKS)
//   node service_token.mjs verify < {"token","me","trusted":{id: jwks},"idp":{issuer,audiences,jwks},"max_depth"}
//       prints {"ok": true, "user", "caller", "chain", "scope"} or {"ok": false, "error"}
import * as jose from 'jose';
import { randomBytes } from 'node:crypto';

const TYP = 'svc+jwt';
const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const typeOf = (token) => {
  try {
    const typ = jose.decodeProtectedHeader(token).typ ?? '';
    return typ.toLowerCase().replace(/^application\//, '');
  } catch { return ''; }
};
const scopes = (claims) => new Set((claims.scope ?? '').split(' ').filter((s) => s));
const equal = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

async function mint() {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  jwk.kid = 'node-1'; jwk.alg = 'ES256'; jwk.use = 'sig';
  const now = Math.floor(Date.now() / 1000);
  // Minting, step 1 and 2: what the token received says.
  let sub = input.identity;
  let scope;
  let act = { sub: input.identity };
  let exp = now + 60;
  if (input.subject_token) {
    const received = jose.decodeJwt(input.subject_token); // verified by the caller beforehand
    sub = received.sub;
    scope = input.scope ?? received.scope;
    if (typeOf(input.subject_token) === TYP) act.act = received.act;
    exp = Math.min(exp, received.exp);
  }
  const claims = { iss: input.identity, aud: input.audience, sub, iat: now, exp,
    jti: jose.base64url.encode(randomBytes(16)), act };
  if (scope) claims.scope = scope;
  if (input.subject_token) claims.subject_token = input.subject_token;
  // Step 3: sign under {alg, kid, typ}.
  const token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', kid: 'node-1', typ: TYP })
    .sign(privateKey);
  return { token, jwks: { keys: [jwk] } };
}

async function verify() {
  const { token, me, trusted, idp } = input;
  const maxDepth = input.max_depth ?? 4;
  // Verifying, step 1.
  if (token.length > 16 * 1024) throw new Error('too large');
  // Step 2: level by level.
  const levels = [];
  let expectedAud = me;
  let current = token;
  let user = null;
  for (;;) {
    if (levels.length >= maxDepth) throw new Error('too deep');
    if (typeOf(current) !== TYP) throw new Error('not a service token');
    const iss = jose.decodeJwt(current).iss;
    if (!(iss in trusted)) throw new Error(`untrusted issuer ${iss}`);
    const { payload } = await jose.jwtVerify(current, jose.createLocalJWKSet(trusted[iss]), {
      issuer: iss, audience: expectedAud, typ: TYP, clockTolerance: 30, requiredClaims: ['exp', 'sub'],
    });
    if (typeof payload.act !== 'object' || payload.act === null || payload.act.sub !== iss) {
      throw new Error('act does not name the issuer');
    }
    levels.push(payload);
    if (payload.subject_token === undefined) {
      if (payload.sub !== iss || payload.act.act !== undefined) throw new Error('self call mismatch');
      break;
    }
    if (typeof payload.subject_token !== 'string') throw new Error('subject_token not a string');
    if (typeOf(payload.subject_token) === TYP) {
      expectedAud = iss;
      current = payload.subject_token;
      continue;
    }
    const verified = await jose.jwtVerify(payload.subject_token, jose.createLocalJWKSet(idp.jwks), {
      issuer: idp.issuer, audience: idp.audiences, clockTolerance: 30, requiredClaims: ['exp'],
    });
    user = verified.payload;
    break;
  }
  // Step 3: each level against the one below.
  levels.forEach((level, i) => {
    const below = levels[i + 1] ?? user;
    if (!below) return;
    if (level.sub !== below.sub) throw new Error('subject mismatch');
    for (const s of scopes(level)) if (!scopes(below).has(s)) throw new Error('scope widened');
    if (!equal(level.act.act, below.act)) throw new Error('actor mismatch');
  });
  // Step 5.
  return { ok: true, user: (user ?? levels[levels.length - 1]).sub, caller: levels[0].iss,
    chain: levels.map((l) => l.iss).reverse(), scope: levels[0].scope ?? '' };
}

try {
  const out = process.argv[2] === 'mint' ? await mint() : await verify();
  process.stdout.write(JSON.stringify(out));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e.message ?? e) }));
}
