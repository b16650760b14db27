//! A meshward-protected HTTP server to point at your own identity provider.
//!
//! Run with `cargo run --example protected_server --features axum`, configured by
//! environment variables:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `MESHWARD_LISTEN` | address to listen on | `127.0.0.1:8080` |
//! | `MESHWARD_ISSUER` | the exact `iss` of accepted tokens | required |
//! | `MESHWARD_AUDIENCE` | accepted audiences, comma-separated | required |
//! | `MESHWARD_JWKS_FILE` | a JWKS document on disk with the issuer's public keys | see below |
//! | `MESHWARD_JWKS_URL` | a JWKS URL to fetch the issuer's keys from (kept fresh in the background) | see below |
//! | `MESHWARD_ALLOW_HTTP` | `1` to allow `http://` key URLs (loopback and development only) | off |
//! | `MESHWARD_TLS_CERT` | server certificate chain (PEM file): serve HTTPS | plain HTTP |
//! | `MESHWARD_TLS_KEY` | server private key (PEM file), with `MESHWARD_TLS_CERT` | |
//! | `MESHWARD_CLIENT_CA` | CA bundle (PEM file): client certificates required and verified against it | no client auth |
//! | `MESHWARD_CLIENT_CRL` | CRLs (PEM file) for client certificates, with `MESHWARD_CLIENT_CA` | none |
//! | `MESHWARD_SERVICE_ID` | this service's identity (a URL or SPIFFE ID): it also accepts service tokens addressed to it | only end users' tokens |
//! | `MESHWARD_TRUSTED_SERVICES` | with `MESHWARD_SERVICE_ID`: the services it accepts service tokens from, comma-separated `identity=jwks_url` | |
//! | `MESHWARD_RULES` | a rules file (TOML, or JSON if it ends in `.json`; schema in the manual's authorization chapter) for the token routes | scopes only |
//! | `MESHWARD_POLICY` | a Rego policy file deciding for the token routes (build with `--features rego`) | none |
//! | `MESHWARD_POLICY_RULE` | the policy's decision rule, with `MESHWARD_POLICY` | `data.meshward.allow` |
//! | `MESHWARD_INTROSPECT` | `1`: tokens that are not JWTs (opaque reference tokens) are checked at the provider's introspection endpoint (RFC 7662, found by discovery from `MESHWARD_ISSUER`); JWTs are still validated with the keys | off: opaque tokens are refused |
//! | `MESHWARD_CLIENT_ID`, `MESHWARD_CLIENT_SECRET` | with `MESHWARD_INTROSPECT`: this server's client at the provider (`client_secret_basic`) | required with it |
//! | `MESHWARD_RATE_LIMIT` | a quota per subject on the token routes: `requests_per_second` or `requests_per_second,burst` (past it: 429 with `Retry-After`) | no quota |
//! | `MESHWARD_REPLAY_GUARD` | with `MESHWARD_SERVICE_ID`: `1` to refuse a service token presented a second time (callers must mint a fresh token per call) | off |
//! | `MESHWARD_REDIS_URL` | with `MESHWARD_RATE_LIMIT` or `MESHWARD_REPLAY_GUARD`: a Redis URL (`redis://…`, `rediss://…`) holding the quota's buckets and the service tokens seen, shared by every instance (build with `--features redis`); when Redis does not answer, the token routes answer 503 | each instance alone, in memory |
//! | `MESHWARD_RESOURCE` | this server's resource identifier (an `https` URL, usually its audience): serves its RFC 9728 metadata and names it in every challenge | no metadata |
//! | `MESHWARD_AUDIT_REFUSALS_PER_SECOND` | refusals logged in full per second for each layer and reason (a number, or `unlimited`); past it they are counted and summarised | `100` |
//!
//! With TLS, the certificate files are watched and reloaded when they change (a bad new file
//! is refused and the old one keeps serving).
//!
//! Keys come from `MESHWARD_JWKS_FILE` if set, else from `MESHWARD_JWKS_URL`, else through
//! OpenID Connect discovery from `MESHWARD_ISSUER` (`/.well-known/openid-configuration`).
//!
//! With `MESHWARD_SERVICE_ID`, the server also admits service tokens (see the manual's
//! service-token chapter) addressed to that identity from the services named in
//! `MESHWARD_TRUSTED_SERVICES`, whose keys it fetches from their JWKS URLs (over plain HTTP
//! only with `MESHWARD_ALLOW_HTTP=1`); the end users' tokens at the bottom of each chain are
//! checked against `MESHWARD_ISSUER` as above. With `MESHWARD_REPLAY_GUARD=1` each service
//! token is good once (a second presentation: 401 `replayed`); the tokens seen are kept in
//! memory, or in Redis with `MESHWARD_REDIS_URL` so that a token used at one instance is
//! refused at every other (Redis not answering: 503, never admitted unchecked).
//!
//! With `MESHWARD_RULES`, every request to the token routes (`/whoami`, `/admin`) must also
//! pass the rule table: first matching rule decides, a path no rule names is refused (403).
//! With `MESHWARD_POLICY`, the Rego policy decides over the input document of the manual's
//! authorization chapter (`true` or `{"allow": true}` allows). Both files are re-read when
//! they change (checked every 10 s); a file with a mistake is refused and the one in force
//! stays. `/admin` still needs scope `admin` on top of either.
//!
//! With `MESHWARD_INTROSPECT=1`, an opaque token is sent to the introspection endpoint and
//! admitted when the provider says it is active, for one of `MESHWARD_AUDIENCE`, and not
//! expired; answers are cached (never past the token's `exp`, at most 60 s, so a revoked
//! token is refused within a minute). An unreachable endpoint answers 503, not 401. Not
//! with `MESHWARD_SERVICE_ID` (service tokens embed JWTs).
//!
//! With `MESHWARD_RATE_LIMIT`, each subject (the token's `sub`) gets that many requests per
//! second on the token routes, up to `burst` at once (default: one second's worth); a request
//! past it is answered 429 with `Retry-After` before it reaches the handler. The buckets live
//! in memory (at most 100 000 subjects), or in Redis with `MESHWARD_REDIS_URL`, so that every
//! instance of the server counts against the same quota.
//!
//! With `MESHWARD_RESOURCE=https://api.example.com/orders`, the protected-resource metadata
//! (RFC 9728: the resource, `MESHWARD_ISSUER` as its authorization server, the scope
//! `admin`) is served at `GET /.well-known/oauth-protected-resource/orders` (the path after
//! the host, appended to the well-known one), and every `WWW-Authenticate` challenge carries
//! `resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/orders"`,
//! so that a client (an MCP client, say) finds where to get a token.
//!
//! Remote keys are loaded at start (`warm_up`); if the provider is unreachable then, the
//! server still starts and answers 503 until the keys can be had.
//!
//! Routes:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /healthz` | 200 `ok`, no token needed |
//! | `GET /whoami` | 200 with JSON `{sub, iss, scopes}` for any valid token; through services also `caller` and `chain` (the services in call order) |
//! | `GET /admin` | as `/whoami`, but the token must carry scope `admin` (else 403) |
//! | `GET /peer` | no token needed, a client certificate is: 200 with JSON `{spiffe_id, dns, uris, subject, x5t#S256}`; without one 401 with JSON `{"error": "client_certificate_required", …}` and no Bearer challenge |
//! | `GET /.well-known/oauth-protected-resource…` | with `MESHWARD_RESOURCE`: the metadata document (JSON), no token needed |
//! | `GET /bench/open` | 200 with JSON `{"sub": null}`, no token needed |
//! | `GET /bench/protected` | the same handler behind the token layer only (no rules or policy): 200 with JSON `{"sub": …}` |
//!
//! The `/bench` pair runs one handler with and without authentication, so that a load
//! generator measures what the layer costs and nothing else (`benches/load/protected_server.sh`).
//!
//! `/whoami` and `/admin` add `"peer": {…}` (the same object) when the connection carries a
//! client certificate.
//!
//! Refused requests get 401 (`WWW-Authenticate: Bearer …, error="invalid_token"`), 400 for a
//! malformed `Authorization` header, 403 `insufficient_scope`, 403 for a rule or policy that
//! refuses, 429 past the quota. Log lines, the `meshward::audit` events among them, go to
//! stderr at `info`; `RUST_LOG` filters them (`RUST_LOG=warn,meshward::audit=info`).
//!
//! The process exits with status 2 and a message naming the variable when the
//! configuration is missing or wrong.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use meshward::authz::{AuthzLayer, RequireScopesLayer, RuleTable, SharedRules};
use meshward::introspect::Introspector;
use meshward::jwt::{
    AuthLayer, KeySet, KeySource, RemoteKeySourceBuilder, ResourceMetadata, Validator, Verifier,
};
use meshward::mint::ServiceTokenVerifier;
use meshward::mtls::{MtlsAcceptor, PeerIdentity, PeerInfo, TlsIdentity};
use meshward::quota::{Limit, QuotaKey, QuotaLayer};
use meshward::{DefaultRejectionResponse, Principal};
use serde_json::{Value, json};

struct Config {
    listen: SocketAddr,
    issuer: String,
    audiences: Vec<String>,
    keys: Keys,
    allow_http: bool,
    tls: Option<Tls>,
    service: Option<ServiceConfig>,
    rules: Option<String>,
    #[cfg_attr(not(feature = "rego"), allow(dead_code))]
    policy: Option<(String, String)>,
    rate_limit: Option<RateLimit>,
    replay_guard: bool,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis: Option<String>,
    /// `MESHWARD_INTROSPECT=1`: the client id and secret.
    introspect: Option<(String, String)>,
    resource: Option<ResourceMetadata>,
}

struct RateLimit {
    per_second: u32,
    burst: u32,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis: Option<String>,
}

struct ServiceConfig {
    identity: String,
    trusted: Vec<(String, String)>,
}

struct Tls {
    cert: String,
    key: String,
    client_ca: Option<String>,
    client_crl: Option<String>,
}

enum Keys {
    File(String),
    Url(String),
    Discovery,
}

fn config() -> Result<Config, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let listen = var("MESHWARD_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen
        .parse()
        .map_err(|e| format!("MESHWARD_LISTEN={listen:?} is not a socket address: {e}"))?;
    let issuer = var("MESHWARD_ISSUER")
        .ok_or("MESHWARD_ISSUER is required: the exact `iss` of the tokens to accept")?;
    let audiences: Vec<String> = var("MESHWARD_AUDIENCE")
        .ok_or("MESHWARD_AUDIENCE is required: the audiences to accept, comma-separated")?
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    if audiences.is_empty() {
        return Err("MESHWARD_AUDIENCE names no audience".into());
    }
    let keys = match (var("MESHWARD_JWKS_FILE"), var("MESHWARD_JWKS_URL")) {
        (Some(file), _) => Keys::File(file),
        (None, Some(url)) => Keys::Url(url),
        (None, None) => Keys::Discovery,
    };
    let allow_http = match var("MESHWARD_ALLOW_HTTP").as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(format!("MESHWARD_ALLOW_HTTP={other:?}: use 1 or 0")),
    };
    let tls = match (
        var("MESHWARD_TLS_CERT"),
        var("MESHWARD_TLS_KEY"),
        var("MESHWARD_CLIENT_CA"),
        var("MESHWARD_CLIENT_CRL"),
    ) {
        (None, None, None, None) => None,
        (Some(cert), Some(key), client_ca, client_crl) => {
            if client_crl.is_some() && client_ca.is_none() {
                return Err("MESHWARD_CLIENT_CRL needs MESHWARD_CLIENT_CA".into());
            }
            Some(Tls {
                cert,
                key,
                client_ca,
                client_crl,
            })
        }
        (None, None, _, _) => {
            return Err("MESHWARD_CLIENT_CA and MESHWARD_CLIENT_CRL need MESHWARD_TLS_CERT and MESHWARD_TLS_KEY".into());
        }
        _ => return Err("MESHWARD_TLS_CERT and MESHWARD_TLS_KEY go together".into()),
    };
    let service = match (var("MESHWARD_SERVICE_ID"), var("MESHWARD_TRUSTED_SERVICES")) {
        (None, None) => None,
        (Some(identity), Some(trusted)) => {
            let trusted = trusted
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(|entry| {
                    entry
                        .split_once('=')
                        .map(|(id, url)| (id.trim().to_owned(), url.trim().to_owned()))
                        .filter(|(id, url)| !id.is_empty() && !url.is_empty())
                        .ok_or_else(|| {
                            format!(
                                "MESHWARD_TRUSTED_SERVICES entry {entry:?} is not identity=jwks_url"
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if trusted.is_empty() {
                return Err("MESHWARD_TRUSTED_SERVICES names no service".into());
            }
            Some(ServiceConfig { identity, trusted })
        }
        (Some(_), None) => {
            return Err(
                "MESHWARD_SERVICE_ID needs MESHWARD_TRUSTED_SERVICES (identity=jwks_url,…)".into(),
            );
        }
        (None, Some(_)) => {
            return Err("MESHWARD_TRUSTED_SERVICES needs MESHWARD_SERVICE_ID".into());
        }
    };
    match var("MESHWARD_AUDIT_REFUSALS_PER_SECOND").as_deref() {
        None => {}
        Some("unlimited") => meshward::audit::set_refusals_logged_per_second(None),
        Some(n) => match n.parse::<u32>() {
            Ok(n) => meshward::audit::set_refusals_logged_per_second(Some(n)),
            Err(_) => {
                return Err(format!(
                    "MESHWARD_AUDIT_REFUSALS_PER_SECOND={n:?}: a number, or unlimited"
                ));
            }
        },
    }
    let rules = var("MESHWARD_RULES");
    let policy = match (var("MESHWARD_POLICY"), var("MESHWARD_POLICY_RULE")) {
        (None, None) => None,
        (Some(file), rule) => {
            if !cfg!(feature = "rego") {
                return Err("MESHWARD_POLICY needs the example built with --features rego".into());
            }
            Some((file, rule.unwrap_or_else(|| "data.meshward.allow".into())))
        }
        (None, Some(_)) => return Err("MESHWARD_POLICY_RULE needs MESHWARD_POLICY".into()),
    };
    let rate_limit = match (var("MESHWARD_RATE_LIMIT"), var("MESHWARD_REDIS_URL")) {
        (None, None) => None,
        (None, Some(_)) => None,
        (Some(limit), redis) => Some(rate_limit(&limit, redis)?),
    };
    let replay_guard = match var("MESHWARD_REPLAY_GUARD").as_deref() {
        None | Some("0") => false,
        Some("1") if service.is_some() => true,
        Some("1") => return Err("MESHWARD_REPLAY_GUARD needs MESHWARD_SERVICE_ID".into()),
        Some(other) => return Err(format!("MESHWARD_REPLAY_GUARD={other:?}: use 1 or 0")),
    };
    let introspect = match var("MESHWARD_INTROSPECT").as_deref() {
        None | Some("0") => None,
        Some("1") => {
            if service.is_some() {
                return Err("MESHWARD_INTROSPECT does not go with MESHWARD_SERVICE_ID".into());
            }
            match (var("MESHWARD_CLIENT_ID"), var("MESHWARD_CLIENT_SECRET")) {
                (Some(id), Some(secret)) => Some((id, secret)),
                _ => {
                    return Err(
                        "MESHWARD_INTROSPECT needs MESHWARD_CLIENT_ID and MESHWARD_CLIENT_SECRET"
                            .into(),
                    );
                }
            }
        }
        Some(other) => return Err(format!("MESHWARD_INTROSPECT={other:?}: use 1 or 0")),
    };
    let resource = match var("MESHWARD_RESOURCE") {
        None => None,
        Some(resource) => {
            let builder = ResourceMetadata::builder(resource.clone())
                .authorization_server(issuer.clone())
                .scopes_supported(["admin"]);
            let builder = if allow_http {
                builder.allow_insecure_http()
            } else {
                builder
            };
            Some(
                builder
                    .build()
                    .map_err(|e| format!("MESHWARD_RESOURCE={resource:?}: {e}"))?,
            )
        }
    };
    let redis = var("MESHWARD_REDIS_URL");
    if redis.is_some() {
        if rate_limit.is_none() && !replay_guard {
            return Err(
                "MESHWARD_REDIS_URL needs MESHWARD_RATE_LIMIT or MESHWARD_REPLAY_GUARD".into(),
            );
        }
        if !cfg!(feature = "redis") {
            return Err("MESHWARD_REDIS_URL needs the example built with --features redis".into());
        }
    }
    Ok(Config {
        listen,
        issuer,
        audiences,
        keys,
        allow_http,
        tls,
        service,
        rules,
        policy,
        rate_limit,
        replay_guard,
        redis,
        introspect,
        resource,
    })
}

/// `requests_per_second` or `requests_per_second,burst`, each a whole number above zero.
fn rate_limit(value: &str, redis: Option<String>) -> Result<RateLimit, String> {
    let wrong = || {
        format!(
            "MESHWARD_RATE_LIMIT={value:?}: use requests_per_second or requests_per_second,burst (whole numbers above 0)"
        )
    };
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(wrong)
    };
    let (per_second, burst) = match value.split_once(',') {
        None => (number(value)?, None),
        Some((rate, burst)) => (number(rate)?, Some(number(burst)?)),
    };
    Ok(RateLimit {
        per_second,
        burst: burst.unwrap_or(per_second),
        redis,
    })
}

/// The Redis of `MESHWARD_REDIS_URL` (connected on first use, reconnecting after).
#[cfg(feature = "redis")]
fn redis_state(url: &str) -> Result<meshward::state::RedisState, String> {
    meshward::state::RedisState::builder(url)
        .build()
        .map_err(|e| format!("MESHWARD_REDIS_URL: {e}"))
}

fn quota(limit: &RateLimit) -> Result<QuotaLayer, String> {
    let builder = Limit::builder()
        .requests(limit.per_second, std::time::Duration::from_secs(1))
        .burst(limit.burst)
        .key(QuotaKey::Subject)
        .max_keys(100_000);
    #[cfg(feature = "redis")]
    let builder = match &limit.redis {
        None => builder,
        Some(url) => builder.state(redis_state(url)?),
    };
    builder
        .build()
        .map(QuotaLayer::new)
        .map_err(|e| format!("MESHWARD_RATE_LIMIT: {e}"))
}

fn peer_json(id: &PeerIdentity) -> Value {
    json!({
        "spiffe_id": id.spiffe_id().map(|s| s.as_str()),
        "dns": id.dns_names(),
        "uris": id.uris(),
        "subject": id.subject(),
        "x5t#S256": id.thumbprint_sha256(),
    })
}

async fn whoami(principal: Principal) -> Json<Value> {
    let mut body = json!({
        "sub": principal.subject(),
        "iss": principal.issuer(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    });
    if let Some(peer) = principal.peer() {
        body["peer"] = peer_json(peer);
    }
    if principal.is_delegated() {
        body["caller"] = json!(principal.caller());
        body["chain"] = json!(principal.actor_chain());
    }
    Json(body)
}

/// The client certificate's identity; without one (plain HTTP, or TLS without a client
/// certificate) a 401 that says what is missing, with no Bearer challenge: no token helps.
async fn peer(identity: Option<PeerIdentity>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match identity {
        Some(identity) => Json(peer_json(&identity)).into_response(),
        None => (
            http::StatusCode::UNAUTHORIZED,
            Json(json!({"error": "client_certificate_required",
                        "error_description": "this route needs a client certificate (mutual TLS)"})),
        )
            .into_response(),
    }
}

fn key_source(config: &Config) -> Result<KeySource, String> {
    let remote = |builder: RemoteKeySourceBuilder, what: &str| {
        let builder = if config.allow_http {
            builder.allow_insecure_http()
        } else {
            builder
        };
        builder.build().map_err(|e| format!("{what}: {e}"))
    };
    match &config.keys {
        Keys::File(file) => KeySet::from_jwks_file(file)
            .map(KeySource::from_keys)
            .map_err(|e| format!("MESHWARD_JWKS_FILE={file:?}: {e}")),
        Keys::Url(url) => remote(KeySource::jwks(url), &format!("MESHWARD_JWKS_URL={url:?}")),
        Keys::Discovery => remote(
            KeySource::discovery(&config.issuer),
            "discovery from MESHWARD_ISSUER",
        ),
    }
}

fn validator(config: &Config) -> Result<Validator, String> {
    Validator::builder(config.issuer.clone(), config.audiences.clone())
        .key_source(key_source(config)?)
        .build()
        .map_err(|e| format!("invalid configuration: {e}"))
}

/// Service tokens addressed to this service, over end users' tokens checked by `validator`
/// (which also admits them directly).
fn service_verifier(
    service: &ServiceConfig,
    validator: Validator,
    config: &Config,
) -> Result<ServiceTokenVerifier, String> {
    let allow_http = config.allow_http;
    let mut builder = ServiceTokenVerifier::builder(service.identity.clone())
        .user_tokens(validator)
        .accept_user_tokens_directly();
    if config.replay_guard {
        builder = match &config.redis {
            #[cfg(feature = "redis")]
            Some(url) => builder.replay_guard_on(redis_state(url)?),
            _ => builder.replay_guard(meshward::mint::InMemoryReplayGuard::default()),
        };
    }
    for (identity, url) in &service.trusted {
        let source = KeySource::jwks(url);
        let source = if allow_http {
            source.allow_insecure_http()
        } else {
            source
        };
        let keys = source
            .build()
            .map_err(|e| format!("MESHWARD_TRUSTED_SERVICES {identity}={url}: {e}"))?;
        builder = builder.trust_service(identity.clone(), keys);
    }
    builder
        .build()
        .map_err(|e| format!("MESHWARD_SERVICE_ID / MESHWARD_TRUSTED_SERVICES: {e}"))
}

/// The rule table of `MESHWARD_RULES`, and the Rego policy of `MESHWARD_POLICY`, each
/// re-read when its file changes.
struct Authorization {
    rules: Option<SharedRules>,
    #[cfg(feature = "rego")]
    policy: Option<meshward::authz::RegoPolicy>,
}

fn authorization(config: &Config) -> Result<Authorization, String> {
    let rules = match &config.rules {
        None => None,
        Some(file) => {
            let table =
                RuleTable::from_file(file).map_err(|e| format!("MESHWARD_RULES={file:?}: {e}"))?;
            let shared = SharedRules::new(table);
            let swap = shared.clone();
            let path = file.clone();
            watch(file.clone(), move || match RuleTable::from_file(&path) {
                Ok(table) => {
                    swap.replace(table);
                    tracing::info!("MESHWARD_RULES reloaded");
                }
                Err(e) => {
                    tracing::error!("MESHWARD_RULES not reloaded, the rules in force stay: {e}")
                }
            });
            Some(shared)
        }
    };
    #[cfg(feature = "rego")]
    let policy = match config.policy.clone() {
        None => None,
        Some((file, rule)) => {
            let path = file.clone();
            let builder =
                move || meshward::authz::RegoPolicy::builder(rule.clone()).add_policy_file(&path);
            let policy = builder()
                .build()
                .map_err(|e| format!("MESHWARD_POLICY={file:?}: {e}"))?;
            let swap = policy.clone();
            watch(file, move || match swap.replace(builder()) {
                Ok(()) => tracing::info!("MESHWARD_POLICY reloaded"),
                Err(e) => {
                    tracing::error!("MESHWARD_POLICY not reloaded, the policy in force stays: {e}")
                }
            });
            Some(policy)
        }
    };
    Ok(Authorization {
        rules,
        #[cfg(feature = "rego")]
        policy,
    })
}

/// Calls `reload` whenever the contents of `file` change (checked every 10 s).
fn watch(file: String, reload: impl Fn() + Send + 'static) {
    tokio::spawn(async move {
        let mut last = std::fs::read(&file).ok();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = std::fs::read(&file).ok();
            if now.is_some() && now != last {
                last = now;
                reload();
            }
        }
    });
}

fn app<V: Verifier + std::fmt::Debug>(
    verifier: V,
    config: &Config,
    authz: Authorization,
    quota: Option<QuotaLayer>,
) -> Router {
    let mut responder = DefaultRejectionResponse::new().realm(config.issuer.clone());
    if let Some(metadata) = &config.resource {
        responder = responder.resource_metadata(metadata.url());
    }
    let auth = AuthLayer::new(verifier).with_rejection_response(responder);
    let mut protected = Router::new()
        .route(
            "/admin",
            get(whoami).route_layer(RequireScopesLayer::all(["admin"])),
        )
        .route("/whoami", get(whoami));
    #[cfg(feature = "rego")]
    if let Some(policy) = authz.policy {
        protected = protected.layer(AuthzLayer::new(policy));
    }
    if let Some(rules) = authz.rules {
        protected = protected.layer(AuthzLayer::new(rules));
    }
    // Inside the token layer (the quota counts per subject), outside authorization (a
    // caller over quota is not worth a policy evaluation).
    if let Some(quota) = quota {
        protected = protected.layer(quota);
    }
    // The same structure on both: a router of one route with one layer on it, the token
    // layer or one that passes requests on as they are.
    let bench_protected = Router::new()
        .route("/bench/protected", get(subject))
        .layer(auth.clone());
    let bench_open = Router::new()
        .route("/bench/open", get(subject))
        .layer(tower::layer::util::Identity::new());
    let protected = protected.layer(auth);
    let mut open = Router::new();
    if let Some(metadata) = &config.resource {
        open = open.route_service(&metadata.path(), metadata.clone());
    }
    open.route("/healthz", get(|| async { "ok" }))
        .route("/peer", get(peer))
        .merge(bench_open)
        .merge(bench_protected)
        .merge(protected)
}

/// The `/bench` pair's one handler: the same work with a principal or without.
async fn subject(principal: Option<Principal>) -> Json<Value> {
    Json(json!({"sub": principal.as_ref().and_then(Principal::subject)}))
}

fn acceptor(tls: &Tls) -> Result<MtlsAcceptor, String> {
    let mut builder = MtlsAcceptor::builder(TlsIdentity::pem_files(&tls.cert, &tls.key));
    if let Some(ca) = &tls.client_ca {
        builder = builder.add_client_ca_pem_file(ca);
    }
    if let Some(crl) = &tls.client_crl {
        builder = builder.add_client_crl_pem_file(crl);
    }
    builder
        .build()
        .map_err(|e| format!("TLS configuration: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG-style filtering (`RUST_LOG=meshward::audit=warn`), `info` by default; every
    // line, audit events included, on stderr.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let validator = match validator(&config) {
        Ok(validator) => validator,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = validator.warm_up().await {
        eprintln!("protected_server: keys not loaded yet ({e}); answering 503 until they are");
    }
    let authz = match authorization(&config) {
        Ok(authz) => authz,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let quota = match config.rate_limit.as_ref().map(quota).transpose() {
        Ok(quota) => quota,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let app = match (&config.service, &config.introspect) {
        (None, Some((id, secret))) => {
            let mut builder =
                Introspector::builder(config.issuer.clone(), config.audiences.clone())
                    .client_secret_basic(id.clone(), secret.clone())
                    .jwt(validator);
            if config.allow_http {
                builder = builder.allow_insecure_http();
            }
            match builder.build() {
                Ok(introspector) => {
                    if let Err(e) = introspector.warm_up().await {
                        eprintln!(
                            "protected_server: introspection endpoint not found yet ({e}); opaque tokens get 503 until it is"
                        );
                    }
                    app(introspector, &config, authz, quota)
                }
                Err(e) => {
                    eprintln!("protected_server: MESHWARD_INTROSPECT: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, None) => app(validator, &config, authz, quota),
        (Some(service), _) => match service_verifier(service, validator, &config) {
            Ok(verifier) => app(verifier, &config, authz, quota),
            Err(message) => {
                eprintln!("protected_server: {message}");
                return ExitCode::from(2);
            }
        },
    };
    let acceptor = match config.tls.as_ref().map(acceptor).transpose() {
        Ok(acceptor) => acceptor,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("protected_server: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(2);
        }
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    eprintln!(
        "protected_server: listening on {scheme}://{} for issuer {} (audiences {:?})",
        config.listen, config.issuer, config.audiences
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let served = match acceptor {
        Some(acceptor) => {
            let _watch = acceptor.watch(std::time::Duration::from_secs(10));
            axum::serve(
                acceptor.incoming(listener),
                app.into_make_service_with_connect_info::<PeerInfo>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("protected_server: {e}");
            ExitCode::FAILURE
        }
    }
}
