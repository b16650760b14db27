//! Opaque tokens by introspection against a real OpenID provider (panva's oidc-provider,
//! the one the interop test runs; `MESHWARD_SKIP_OIDC=1` skips it as it skips that one):
//! active, revoked, expired, another audience, a client not allowed to introspect, a wrong
//! secret, `private_key_jwt`, cache hits and single flight counted, JWTs beside, the
//! provider down (503) and back. Faults the provider cannot be made to commit (a slow, an
//! oversized, a malformed answer) come from a stand-in on loopback.

use std::time::Duration;

use axum::routing::{get, post};
use jsonwebtoken::Algorithm;
use meshward::Principal;
use meshward::introspect::{IntrospectionErrorKind, Introspector, IntrospectorBuilder};
use meshward::jwt::{AuthLayer, KeySource, TokenError, TokenErrorKind, Validator};
use serde_json::{Value, json};

use crate::oidc::{CLIENT_ID, Provider, free_port, tools_dir};
use crate::support::*;

const OPAQUE: &str = "urn:meshward:opaque";
const SHORT: &str = "urn:meshward:opaque-short";
const RS: &str = "orders-api";
const RS_SECRET: &str = "orders-api-secret-orders-api-secret-orders-api";

fn kind(result: Result<Principal, TokenError>) -> TokenErrorKind {
    result.map(|_| ()).unwrap_err().kind().clone()
}

fn source_kind(result: Result<Principal, TokenError>) -> IntrospectionErrorKind {
    let error = result.map(|_| ()).unwrap_err();
    assert_eq!(error.kind(), &TokenErrorKind::IntrospectionUnavailable);
    let source = std::error::Error::source(&error).expect("a source");
    source
        .downcast_ref::<meshward::introspect::IntrospectionError>()
        .expect("an IntrospectionError")
        .kind()
        .clone()
}

async fn whoami(principal: Principal) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": principal.subject(),
        "client_id": principal.claim("client_id"),
        "aud": principal.audiences(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
        "introspected": principal.is_introspected(),
    }))
}

/// The status and reason label of a GET with `token` through the app.
async fn call(server: &TestServer, token: &str) -> (u16, String, Seen) {
    let seen = http_get(
        &server.url("/whoami"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    let reason = seen
        .header("www-authenticate")
        .and_then(|h| h.split("error=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_owned();
    (seen.status, reason, seen)
}

fn builder(provider: &Provider, audiences: &[&str]) -> IntrospectorBuilder {
    Introspector::builder(provider.issuer.clone(), audiences.iter().copied())
        .allow_insecure_http()
        .timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn opaque_tokens_from_a_real_provider_are_introspected() {
    let Some(dir) = tools_dir("introspect::opaque_tokens_from_a_real_provider_are_introspected")
    else {
        return;
    };
    let rs_key = meshward::mint::SigningKey::generate(Algorithm::ES256).unwrap();
    let envs = [("RS_JWK", rs_key.public_jwk().to_string())];
    let port = free_port();
    let provider = Provider::start_with(&dir, port, "a", &envs).await;

    let introspector = builder(&provider, &[OPAQUE, SHORT])
        .client_secret_basic(RS, RS_SECRET)
        .build()
        .unwrap();
    introspector.warm_up().await.unwrap();
    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .layer(AuthLayer::new(introspector.clone()));
    let server = serve_axum(app).await;

    // Active: the same Principal as for a JWT, from the answer.
    let token = provider.token(OPAQUE).await;
    assert_ne!(token.matches('.').count(), 2, "an opaque token: {token}");
    let (status, _, seen) = call(&server, &token).await;
    assert_eq!(status, 200, "{}", seen.body_text());
    assert_eq!(
        seen.json(),
        json!({"sub": null, "client_id": CLIENT_ID, "aud": [OPAQUE],
               "scopes": ["orders:read"], "introspected": true})
    );
    assert_eq!(introspector.stats().introspections, 1);
    // Seen again: from the cache, no request.
    for _ in 0..3 {
        assert_eq!(call(&server, &token).await.0, 200);
    }
    let stats = introspector.stats();
    assert_eq!(
        (stats.introspections, stats.cache_hits),
        (1, 3),
        "{stats:?}"
    );

    // Garbage and unknown tokens: inactive, 401; the answer is cached (negative cache).
    for _ in 0..2 {
        let (status, reason, _) = call(&server, "no-such-token").await;
        assert_eq!((status, reason.as_str()), (401, "invalid_token"));
    }
    assert_eq!(
        introspector.stats().introspections,
        2,
        "the second came from the cache"
    );
    assert_eq!(introspector.stats().inactive, 1);
    assert_eq!(
        kind(introspector.verify("no-such-token").await),
        TokenErrorKind::Inactive
    );

    // Revoked: refused by an introspector that has not cached it; one that has keeps its
    // answer until the cache ceiling (documented), so a short ceiling bounds that.
    let revoked = provider.token(OPAQUE).await;
    assert_eq!(call(&server, &revoked).await.0, 200);
    provider.revoke(&revoked).await;
    let fresh = builder(&provider, &[OPAQUE])
        .client_secret_basic(RS, RS_SECRET)
        .build()
        .unwrap();
    assert_eq!(kind(fresh.verify(&revoked).await), TokenErrorKind::Inactive);
    assert_eq!(
        call(&server, &revoked).await.0,
        200,
        "cached until the ceiling"
    );
    let short_ceiling = builder(&provider, &[OPAQUE])
        .client_secret_basic(RS, RS_SECRET)
        .cache_ceiling(Duration::from_millis(300))
        .build()
        .unwrap();
    let soon_revoked = provider.token(OPAQUE).await;
    assert!(short_ceiling.verify(&soon_revoked).await.is_ok());
    provider.revoke(&soon_revoked).await;
    assert!(short_ceiling.verify(&soon_revoked).await.is_ok(), "cached");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        kind(short_ceiling.verify(&soon_revoked).await),
        TokenErrorKind::Inactive
    );

    // Another audience: active at the provider, refused here.
    let elsewhere = builder(&provider, &["urn:meshward:other"])
        .client_secret_basic(RS, RS_SECRET)
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            kind(elsewhere.verify(&token).await),
            TokenErrorKind::InvalidAudience {
                expected: vec!["urn:meshward:other".into()]
            }
        );
    }
    assert_eq!(
        elsewhere.stats().introspections,
        1,
        "a refusal is cached like an inactive answer"
    );

    // A client the provider does not let introspect: "not active" for it.
    let nosy = builder(&provider, &[OPAQUE])
        .client_secret_basic("nosy-client", "nosy-client-secret-nosy-client-secret-nosy")
        .build()
        .unwrap();
    assert_eq!(kind(nosy.verify(&token).await), TokenErrorKind::Inactive);
    // A wrong secret: the provider answers 401 to the client, so this is 503 here, never
    // a 401 for a token that may be good.
    let wrong = builder(&provider, &[OPAQUE])
        .client_secret_basic(RS, "not-the-secret")
        .build()
        .unwrap();
    assert_eq!(
        source_kind(wrong.verify(&token).await),
        IntrospectionErrorKind::Status { status: 401 }
    );
    assert_eq!(wrong.stats().failures, 1);

    // private_key_jwt.
    let by_key = builder(&provider, &[OPAQUE])
        .private_key_jwt("orders-api-jwt", rs_key.clone())
        .build()
        .unwrap();
    let principal = by_key.verify(&token).await.unwrap();
    assert_eq!(principal.claim("client_id"), Some(&json!(CLIENT_ID)));

    // Expired: never served from the cache past `exp`; asked again, the provider says no.
    let short = provider.token(SHORT).await;
    assert_eq!(call(&server, &short).await.0, 200);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let before = introspector.stats().introspections;
    assert_eq!(call(&server, &short).await.0, 401);
    assert_eq!(
        introspector.stats().introspections,
        before + 1,
        "asked again"
    );

    // Single flight: ten requests with one new token, one introspection.
    let once = builder(&provider, &[OPAQUE])
        .client_secret_basic(RS, RS_SECRET)
        .build()
        .unwrap();
    once.warm_up().await.unwrap();
    let new = provider.token(OPAQUE).await;
    let all = futures_join(&once, &new, 10).await;
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    assert_eq!(once.stats().introspections, 1, "{:?}", once.stats());

    // JWTs beside: validated locally, never introspected.
    let keys = KeySource::discovery(&provider.issuer)
        .allow_insecure_http()
        .build()
        .unwrap();
    let validator = Validator::builder(provider.issuer.clone(), ["urn:meshward:es256"])
        .key_source(keys)
        .build()
        .unwrap();
    let both = builder(&provider, &[OPAQUE])
        .client_secret_basic(RS, RS_SECRET)
        .jwt(validator)
        .build()
        .unwrap();
    let jwt = provider.token("urn:meshward:es256").await;
    let principal = both.verify(&jwt).await.unwrap();
    assert!(!principal.is_introspected());
    assert_eq!(principal.signature_algorithm(), Some(Algorithm::ES256));
    assert!(both.verify(&token).await.unwrap().is_introspected());
    assert_eq!(both.stats().introspections, 1, "only the opaque one");

    // The provider down: 503 for a token not cached, the cached ones still admitted.
    let pending = provider.token(OPAQUE).await;
    provider.stop().await;
    let (status, _, seen) = call(&server, &pending).await;
    assert_eq!(status, 503, "{}", seen.body_text());
    assert_eq!(call(&server, &token).await.0, 200, "cached");
    assert_eq!(
        source_kind(introspector.verify(&pending).await),
        IntrospectionErrorKind::Request
    );
    // Back (an in-memory provider: it has forgotten its tokens): new ones are admitted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let provider = Provider::start_with(&dir, port, "a", &envs).await;
    let after = provider.token(OPAQUE).await;
    assert_eq!(call(&server, &after).await.0, 200);
    assert_eq!(
        call(&server, &pending).await.0,
        401,
        "forgotten: not active"
    );

    server.stop().await;
    provider.stop().await;
}

#[tokio::test]
async fn protected_server_introspects_opaque_tokens() {
    use crate::protected_server::{example_binary, start};
    let Some(dir) = tools_dir("introspect::protected_server_introspects_opaque_tokens") else {
        return;
    };
    let port = free_port();
    let provider = Provider::start(&dir, port, "a").await;
    let envs = [
        ("MESHWARD_ISSUER", provider.issuer.clone()),
        ("MESHWARD_AUDIENCE", format!("{OPAQUE},urn:meshward:es256")),
        ("MESHWARD_ALLOW_HTTP", "1".to_owned()),
        ("MESHWARD_INTROSPECT", "1".to_owned()),
        ("MESHWARD_CLIENT_ID", RS.to_owned()),
        ("MESHWARD_CLIENT_SECRET", RS_SECRET.to_owned()),
    ];
    let (child, server) = start(&envs).await;
    let get = |token: String| async move {
        http_get(
            &format!("http://127.0.0.1:{server}/whoami"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await
    };
    let opaque = provider.token(OPAQUE).await;
    let seen = get(opaque.clone()).await;
    assert_eq!(seen.status, 200, "{}", seen.body_text());
    assert_eq!(
        seen.json(),
        json!({"sub": null, "iss": provider.issuer, "scopes": ["orders:read"]})
    );
    // JWTs still validated with the keys; unknown opaque tokens refused.
    let jwt = provider.token("urn:meshward:es256").await;
    assert_eq!(get(jwt).await.status, 200);
    assert_eq!(get("no-such-token".into()).await.status, 401);
    provider.revoke(&opaque).await;
    drop(child);

    // Half the configuration stops it at start.
    let out = tokio::process::Command::new(example_binary())
        .env_clear()
        .envs(envs[..4].iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MESHWARD_CLIENT_ID"));
    provider.stop().await;
}

async fn futures_join(
    introspector: &Introspector,
    token: &str,
    n: usize,
) -> Vec<Result<Principal, TokenError>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (i, t) = (introspector.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move { i.verify(&t).await }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.push(task.await.unwrap());
    }
    all
}

/// A stand-in endpoint on loopback answering with `answer` for every introspection.
async fn stand_in(answer: fn() -> axum::response::Response) -> TestServer {
    serve_axum(axum::Router::new().route("/introspect", post(move || async move { answer() })))
        .await
}

/// An active answer is good until the token's `exp` and no longer: neither the cache nor a
/// hit on it outlives it (checked against a stand-in, so that the mutation runs, which skip
/// the real provider, hold the property too).
#[tokio::test]
async fn a_cached_answer_ends_at_the_tokens_exp() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let exp = now() + 2;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let server = serve_axum(axum::Router::new().route(
        "/introspect",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                axum::Json(json!({"active": true, "aud": "orders", "exp": exp, "sub": "alice"}))
            }
        }),
    ))
    .await;
    let introspector = Introspector::builder("https://idp.test", ["orders"])
        .endpoint(server.url("/introspect"))
        .client_secret_basic(RS, RS_SECRET)
        .allow_insecure_http()
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let app = serve_axum(
        axum::Router::new()
            .route("/whoami", get(whoami))
            .layer(AuthLayer::new(introspector.clone())),
    )
    .await;
    assert!(
        format!("{introspector:?}").contains(&server.url("/introspect")),
        "the configured endpoint is shown: {introspector:?}"
    );
    let (status, _, _) = call(&app, "opaque-until-exp").await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&app, "opaque-until-exp").await;
    assert_eq!((status, asked.load(Ordering::SeqCst)), (200, 1), "cached");
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, error, _) = call(&app, "opaque-until-exp").await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    let refused = kind(introspector.verify("opaque-until-exp").await);
    assert!(
        matches!(refused, TokenErrorKind::Expired { exp: at, .. }
            if at == std::time::UNIX_EPOCH + Duration::from_secs(exp as u64)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_endpoint_that_misbehaves_is_a_503_never_a_401() {
    use axum::response::IntoResponse;

    fn introspector(server: &TestServer) -> Introspector {
        Introspector::builder("https://idp.test", ["orders"])
            .endpoint(server.url("/introspect"))
            .client_secret_basic(RS, RS_SECRET)
            .allow_insecure_http()
            .timeout(Duration::from_millis(300))
            .max_answer_len(1024)
            .build()
            .unwrap()
    }
    let good = || {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60;
        axum::Json(json!({"active": true, "aud": "orders", "exp": exp, "sub": "alice"}))
            .into_response()
    };
    let cases: Vec<(
        &str,
        fn() -> axum::response::Response,
        IntrospectionErrorKind,
    )> = vec![
        (
            "a 500",
            || http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            IntrospectionErrorKind::Status { status: 500 },
        ),
        (
            "a redirect (not followed)",
            || axum::response::Redirect::temporary("/elsewhere").into_response(),
            IntrospectionErrorKind::Status { status: 307 },
        ),
        (
            "not JSON",
            || "<html>".into_response(),
            IntrospectionErrorKind::Malformed,
        ),
        (
            "no active",
            || axum::Json(json!({"sub": "alice"})).into_response(),
            IntrospectionErrorKind::Malformed,
        ),
        (
            "active as a string",
            || axum::Json(json!({"active": "true"})).into_response(),
            IntrospectionErrorKind::Malformed,
        ),
        (
            "over the size bound",
            || axum::Json(json!({"active": true, "pad": "x".repeat(2048)})).into_response(),
            IntrospectionErrorKind::TooLarge { max: 1024 },
        ),
    ];
    for (name, answer, expected) in cases {
        let server = stand_in(answer).await;
        let i = introspector(&server);
        assert_eq!(source_kind(i.verify("opaque").await), expected, "{name}");
        // Through a layer: 503 and the stable label.
        let app = axum::Router::new()
            .route("/whoami", get(whoami))
            .layer(AuthLayer::new(i.clone()));
        let app_server = serve_axum(app).await;
        let seen = http_get(
            &app_server.url("/whoami"),
            &[("authorization", "Bearer opaque-2")],
        )
        .await;
        assert_eq!(seen.status, 503, "{name}");
        assert_eq!(i.stats().failures, 2, "{name}: failures are not cached");
        app_server.stop().await;
        server.stop().await;
    }

    // Slow: the timeout, then 503.
    let slow = serve_axum(axum::Router::new().route(
        "/introspect",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "{}"
        }),
    ))
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        source_kind(introspector(&slow).verify("opaque").await),
        IntrospectionErrorKind::Timeout {
            after: Duration::from_millis(300)
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    slow.stop().await;

    // Nothing listening.
    let gone = stand_in(good).await;
    let i = introspector(&gone);
    assert!(i.verify("opaque").await.is_ok());
    gone.stop().await;
    assert!(i.verify("opaque").await.is_ok(), "cached");
    assert_eq!(
        source_kind(i.verify("another").await),
        IntrospectionErrorKind::Request
    );

    // What the stand-in received: the form and Basic credentials (RFC 6749 §2.3.1).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<(String, String)>));
    let record = seen.clone();
    let server = serve_axum(axum::Router::new().route(
        "/introspect",
        post(move |headers: http::HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                *record.lock().unwrap() = Some((auth, body));
                axum::Json(json!({"active": false}))
            }
        }),
    ))
    .await;
    let i = Introspector::builder("https://idp.test", ["orders"])
        .endpoint(server.url("/introspect"))
        .client_secret_basic("rs:1", "p@ss word")
        .allow_insecure_http()
        .build()
        .unwrap();
    assert_eq!(kind(i.verify("tok+en/=").await), TokenErrorKind::Inactive);
    let (auth, body) = seen.lock().unwrap().clone().unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), "rs%3A1:p%40ss+word");
    assert_eq!(body, "token=tok%2Ben%2F%3D&token_type_hint=access_token");
    server.stop().await;
}

#[tokio::test]
async fn builders_refuse_what_cannot_work() {
    use meshward::introspect::IntrospectorConfigErrorKind as Kind;
    let config = |b: IntrospectorBuilder| b.build().unwrap_err().kind().clone();
    let base = || Introspector::builder("https://idp.test", ["orders"]);
    assert_eq!(config(base()), Kind::MissingClientAuth);
    assert_eq!(
        config(
            Introspector::builder("https://idp.test", Vec::<String>::new())
                .client_secret_basic("a", "b")
        ),
        Kind::MissingIssuerOrAudience
    );
    assert_eq!(
        config(
            base()
                .client_secret_basic("a", "b")
                .endpoint("http://idp.test/i")
        ),
        Kind::InsecureUrl {
            url: "http://idp.test/i".into()
        }
    );
    assert_eq!(
        config(Introspector::builder("http://idp.test", ["orders"]).client_secret_basic("a", "b")),
        Kind::InsecureUrl {
            url: "http://idp.test/".into()
        }
    );
    assert_eq!(
        config(base().client_secret_basic("a", "b").endpoint("not a url")),
        Kind::InvalidUrl {
            what: "the endpoint"
        }
    );
    assert_eq!(
        config(base().client_secret_basic("a", "b").max_answer_len(0)),
        Kind::InvalidLimit {
            what: "lengths and the timeout must be above zero"
        }
    );
    // Oversized tokens are refused before any request.
    let i = base()
        .client_secret_basic("a", "b")
        .max_token_len(16)
        .build()
        .unwrap();
    assert_eq!(
        kind(i.verify(&"x".repeat(17)).await),
        TokenErrorKind::TooLarge { len: 17, max: 16 }
    );
    assert_eq!(i.stats().introspections, 0);
    // One of exactly the bound is asked about (here: no endpoint to be found, 503).
    assert_eq!(
        kind(i.verify(&"x".repeat(16)).await),
        TokenErrorKind::IntrospectionUnavailable
    );

    // Refusals the layer makes itself (no token) are counted by the JWT validator beside.
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(meshward::jwt::VerifyingKey::from_jwk_json(&key.jwk_json().to_string()).unwrap())
        .build()
        .unwrap();
    let both = base()
        .client_secret_basic("a", "b")
        .jwt(validator.clone())
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .layer(AuthLayer::new(both));
    let server = serve_axum(app).await;
    assert_eq!(http_get(&server.url("/whoami"), &[]).await.status, 401);
    assert_eq!(validator.stats().rejections, vec![("missing", 1)]);
    server.stop().await;

    // warm_up finds the endpoint now, and says when it cannot.
    let nowhere = Introspector::builder("http://127.0.0.1:1", ["orders"])
        .client_secret_basic("a", "b")
        .allow_insecure_http()
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    let error = nowhere.warm_up().await.unwrap_err();
    assert_eq!(error.kind(), &IntrospectionErrorKind::Discovery);
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}
