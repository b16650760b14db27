//! Remote keys against a JWKS server on 127.0.0.1 that can rotate, fail, stall, bloat and
//! count its hits.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::Request;
use jsonwebtoken::Algorithm;
use meshward::jwt::{
    AuthLayer, Issuer, KeySource, KeySourceError, KeySourceErrorKind, RemoteKeySourceBuilder,
    TokenError, TokenErrorKind, Validator,
};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

use crate::support::*;

#[derive(Clone)]
enum Mode {
    Serve,
    Status(u16),
    Garbage,
    Huge,
    /// The keys in two chunks, with no `Content-Length`.
    Chunked,
    Slow(Duration),
    RedirectTo(String),
}

struct Behavior {
    keys: Vec<Value>,
    mode: Mode,
    cache_control: Option<String>,
    issuer: String,
}

#[derive(Clone)]
struct JwksServer {
    behavior: Arc<Mutex<Behavior>>,
    hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
}

impl JwksServer {
    fn set_keys(&self, keys: Vec<Value>) {
        self.behavior.lock().unwrap().keys = keys;
    }
    fn set_mode(&self, mode: Mode) {
        self.behavior.lock().unwrap().mode = mode;
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn jwks(State(s): State<JwksServer>, headers: HeaderMap) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let (mode, keys, cache_control) = {
        let b = s.behavior.lock().unwrap();
        (b.mode.clone(), b.keys.clone(), b.cache_control.clone())
    };
    let _ = headers;
    match mode {
        Mode::Serve | Mode::Slow(_) => {
            if let Mode::Slow(d) = mode {
                tokio::time::sleep(d).await;
            }
            let mut response = Json(json!({ "keys": keys })).into_response();
            if let Some(cc) = cache_control {
                response
                    .headers_mut()
                    .insert("cache-control", HeaderValue::from_str(&cc).unwrap());
            }
            response
        }
        Mode::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Mode::Garbage => "<html>not json</html>".into_response(),
        Mode::Huge => {
            let filler = "x".repeat(300 * 1024);
            Json(json!({ "keys": keys, "filler": filler })).into_response()
        }
        Mode::RedirectTo(location) => (StatusCode::FOUND, [("location", location)]).into_response(),
        Mode::Chunked => {
            let body = json!({ "keys": keys }).to_string().into_bytes();
            let (a, b) = body.split_at(body.len() / 2);
            let chunks = [a.to_vec(), b.to_vec()].map(Ok::<_, std::io::Error>);
            axum::body::Body::from_stream(tokio_stream::iter(chunks)).into_response()
        }
    }
}

/// Always serves the keys, whatever the mode: where a redirect may land.
async fn moved(State(s): State<JwksServer>) -> Json<Value> {
    let keys = s.behavior.lock().unwrap().keys.clone();
    Json(json!({ "keys": keys }))
}

/// `/hop/n` redirects to `/hop/n-1`, and `/hop/0` serves the keys: a chain of redirects
/// within the origin.
async fn hop(
    axum::extract::Path(n): axum::extract::Path<u32>,
    state: State<JwksServer>,
) -> axum::response::Response {
    match n.checked_sub(1) {
        Some(next) => (StatusCode::FOUND, [("location", format!("/hop/{next}"))]).into_response(),
        None => moved(state).await.into_response(),
    }
}

async fn discovery(State(s): State<JwksServer>) -> Json<Value> {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = s.behavior.lock().unwrap().issuer.clone();
    Json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") }))
}

async fn start(keys: Vec<Value>) -> (TestServer, JwksServer) {
    let state = JwksServer {
        behavior: Arc::new(Mutex::new(Behavior {
            keys,
            mode: Mode::Serve,
            cache_control: None,
            issuer: String::new(),
        })),
        hits: Arc::new(AtomicUsize::new(0)),
        discovery_hits: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route("/jwks", get(jwks))
        .route("/moved", get(moved))
        .route("/hop/{n}", get(hop))
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state(state.clone());
    let server = serve_axum(app).await;
    state.behavior.lock().unwrap().issuer = format!("http://{}", server.addr);
    (server, state)
}

fn source(server: &TestServer) -> RemoteKeySourceBuilder {
    KeySource::jwks(server.url("/jwks"))
        .allow_insecure_http()
        .fetch_timeout(Duration::from_secs(2))
}

fn validator(source: KeySource) -> Validator {
    Validator::builder(ISSUER, [AUDIENCE])
        .key_source(source)
        .token_cache_capacity(0)
        .build()
        .unwrap()
}

fn source_error(error: &TokenError) -> Option<&KeySourceError> {
    std::error::Error::source(error)?.downcast_ref::<KeySourceError>()
}

#[tokio::test]
async fn rotation_is_accepted_on_the_first_request_after_the_new_key_appears() {
    let old = SigningKey::generate(Algorithm::ES256, "2026-10");
    let new = SigningKey::generate(Algorithm::ES256, "2026-11");
    let (server, jwks) = start(vec![old.jwk_json()]).await;
    let v = validator(source(&server).build().unwrap());
    v.warm_up().await.unwrap();
    assert_eq!(jwks.hits(), 1);
    assert!(v.validate(&old.sign(&claims("a", ""))).await.is_ok());

    jwks.set_keys(vec![old.jwk_json(), new.jwk_json()]);
    let p = v.validate(&new.sign(&claims("b", ""))).await.unwrap();
    assert_eq!(p.key_id(), Some("2026-11"));
    assert_eq!(jwks.hits(), 2, "one refetch for the new kid");
    assert!(
        v.validate(&old.sign(&claims("a", ""))).await.is_ok(),
        "old key still served"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_cold_requests_cause_one_fetch() {
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    jwks.set_mode(Mode::Slow(Duration::from_millis(200)));
    let v = validator(source(&server).build().unwrap());
    // Through the AuthLayer, in-process, so the layer's async path is the one exercised.
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(v.clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let token = format!("Bearer {}", key.sign(&claims("a", "")));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let svc = svc.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::get("/")
                .header("authorization", token)
                .body(())
                .unwrap();
            svc.oneshot(req).await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    eprintln!("1000 cold requests served in {:?}", started.elapsed());
    assert_eq!(jwks.hits(), 1, "single flight");
    server.stop().await;
}

#[tokio::test]
async fn a_flood_of_random_kids_costs_one_fetch_per_cooldown() {
    let key = SigningKey::generate(Algorithm::ES256, "real");
    let rotated = SigningKey::generate(Algorithm::ES256, "rotated");
    let attacker = SigningKey::generate(Algorithm::ES256, "x");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    let cooldown = Duration::from_millis(800);
    let v = validator(source(&server).refresh_cooldown(cooldown).build().unwrap());
    v.warm_up().await.unwrap();
    let flood_started = Instant::now();
    for i in 0..200 {
        let header = json!({"alg": "ES256", "kid": format!("random-{i}")});
        let token = attacker.sign_with_header(Algorithm::ES256, &header, &claims("x", ""));
        let err = v.validate(&token).await.unwrap_err();
        assert!(
            matches!(err.kind(), TokenErrorKind::UnknownKey { .. }),
            "{err:?}"
        );
    }
    assert!(
        flood_started.elapsed() < cooldown,
        "the flood ran within one cooldown"
    );
    assert_eq!(jwks.hits(), 2, "warm-up plus one fetch for the whole flood");

    // A real rotation during the cooldown waits for it to pass, then goes through.
    jwks.set_keys(vec![key.jwk_json(), rotated.jwk_json()]);
    let token = rotated.sign(&claims("r", ""));
    assert!(v.validate(&token).await.is_err(), "still cooling down");
    tokio::time::sleep(cooldown).await;
    assert!(
        v.validate(&token).await.is_ok(),
        "accepted once the cooldown passed"
    );
    assert_eq!(jwks.hits(), 3);
    let stats = v.stats();
    assert!(
        stats.rejections.contains(&("unknown_key", 201)),
        "{stats:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn valid_tokens_keep_passing_while_the_provider_is_down() {
    let key = SigningKey::generate(Algorithm::EdDSA, "ed");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    let src = source(&server)
        .refresh_bounds(Duration::from_millis(100), Duration::from_millis(100))
        .failure_backoff(Duration::from_millis(50))
        .build()
        .unwrap();
    let v = validator(src.clone());
    v.warm_up().await.unwrap();
    for mode in [Mode::Status(500), Mode::Garbage, Mode::Status(404)] {
        jwks.set_mode(mode);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(v.validate(&key.sign(&claims("a", ""))).await.is_ok());
    }
    let failures = src.stats().unwrap().failures;
    assert!(
        failures >= 2,
        "background refreshes failed {failures} times"
    );

    // Gone entirely: connection refused.
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(v.validate(&key.sign(&claims("a", ""))).await.is_ok());
    assert_eq!(src.stats().unwrap().keys, 1);
}

#[tokio::test]
async fn no_keys_ever_loaded_is_503_not_401() {
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    jwks.set_mode(Mode::Status(500));
    let v = validator(source(&server).build().unwrap());
    let err = v.validate(&key.sign(&claims("a", ""))).await.unwrap_err();
    assert_eq!(err.kind(), &TokenErrorKind::KeysUnavailable);
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::Status { status: 500 })
    );

    // Over HTTP and over gRPC framing, through the layer.
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(v.clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let token = format!("Bearer {}", key.sign(&claims("b", "")));
    tokio::time::sleep(Duration::from_secs(5)).await; // past the failure back-off
    let http = Request::get("/")
        .header("authorization", &token)
        .body(())
        .unwrap();
    let res = svc.clone().oneshot(http).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("www-authenticate").is_none());
    let grpc = Request::post("/svc/Method")
        .header("authorization", &token)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let res = svc.oneshot(grpc).await.unwrap();
    assert_eq!(res.headers()["grpc-status"], "14");

    // Once the provider answers, the next request after the back-off loads the keys.
    jwks.set_mode(Mode::Serve);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(v.validate(&key.sign(&claims("c", ""))).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn body_cap_timeout_and_redirects_hold() {
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    let token = key.sign(&claims("a", ""));

    jwks.set_mode(Mode::Huge);
    let err = validator(source(&server).build().unwrap())
        .validate(&token)
        .await
        .unwrap_err();
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::BodyTooLarge { max: 256 * 1024 })
    );

    // A body of exactly the bound is read; one byte more is refused.
    jwks.set_mode(Mode::Serve);
    let exact = http_get(&server.url("/jwks"), &[]).await.body_text().len();
    let bounded = |max: usize| validator(source(&server).max_body_len(max).build().unwrap());
    assert!(
        bounded(exact).validate(&token).await.is_ok(),
        "{exact} bytes"
    );
    let err = bounded(exact - 1).validate(&token).await.unwrap_err();
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::BodyTooLarge { max: exact - 1 })
    );

    // The same without a Content-Length, in two chunks: counted as it is read.
    jwks.set_mode(Mode::Chunked);
    assert!(bounded(exact).validate(&token).await.is_ok(), "chunked");
    let err = bounded(exact - 1).validate(&token).await.unwrap_err();
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::BodyTooLarge { max: exact - 1 })
    );

    jwks.set_mode(Mode::Slow(Duration::from_secs(3)));
    let started = Instant::now();
    let v = validator(
        source(&server)
            .fetch_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    let err = v.validate(&token).await.unwrap_err();
    assert_eq!(err.kind(), &TokenErrorKind::KeysUnavailable);
    assert!(matches!(
        source_error(&err).map(KeySourceError::kind),
        Some(KeySourceErrorKind::Timeout { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timed out promptly"
    );

    // Each case with a fresh validator: no keys cached from the one before.
    let fresh = || validator(source(&server).build().unwrap());
    // A redirect within the origin is followed…
    jwks.set_mode(Mode::RedirectTo(server.url("/moved")));
    assert!(
        fresh().validate(&token).await.is_ok(),
        "a same-origin redirect is followed"
    );
    // …up to three in a row (the first hop, then /hop/2, /hop/1, /hop/0 serves the keys)…
    jwks.set_mode(Mode::RedirectTo(server.url("/hop/2")));
    assert!(
        fresh().validate(&token).await.is_ok(),
        "three same-origin redirects are followed"
    );
    // …not four…
    jwks.set_mode(Mode::RedirectTo(server.url("/hop/3")));
    let err = fresh().validate(&token).await.unwrap_err();
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::Status { status: 302 }),
        "the fourth redirect is not followed"
    );
    // …and one to another origin (another port, serving valid keys) is not.
    let (elsewhere, _) = start(vec![key.jwk_json()]).await;
    jwks.set_mode(Mode::RedirectTo(elsewhere.url("/moved")));
    let err = fresh().validate(&token).await.unwrap_err();
    assert_eq!(err.kind(), &TokenErrorKind::KeysUnavailable);
    assert_eq!(
        source_error(&err).map(KeySourceError::kind),
        Some(&KeySourceErrorKind::Status { status: 302 }),
        "a redirect to another origin is not followed"
    );
    elsewhere.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_its_cached_tokens_at_once() {
    let old = SigningKey::generate(Algorithm::ES256, "old");
    let kept = SigningKey::generate(Algorithm::ES256, "kept");
    let (server, jwks) = start(vec![old.jwk_json(), kept.jwk_json()]).await;
    let v = Validator::builder(ISSUER, [AUDIENCE])
        .key_source(source(&server).build().unwrap())
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(v.clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let call = |token: String| {
        let svc = svc.clone();
        async move {
            let request = Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap();
            svc.oneshot(request).await.unwrap()
        }
    };
    let by_old = old.sign(&claims("mallory-got-this", ""));
    let by_kept = kept.sign(&claims("alice", ""));
    for _ in 0..2 {
        assert_eq!(call(by_old.clone()).await.status(), 200);
        assert_eq!(call(by_kept.clone()).await.status(), 200);
    }
    assert_eq!(
        v.stats().cache_hits,
        2,
        "both tokens are served from the cache"
    );

    // The operator pulls the old key; the next refresh (here: warm_up) sees it gone.
    jwks.set_keys(vec![kept.jwk_json()]);
    v.warm_up().await.unwrap();
    let refused = call(by_old).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer error="invalid_token", error_description="unknown signing key""#
    );
    // The kept key's token is still a cache hit.
    let hits = v.stats().cache_hits;
    assert_eq!(call(by_kept).await.status(), 200);
    assert_eq!(v.stats().cache_hits, hits + 1);
    server.stop().await;
}

#[tokio::test]
async fn stale_keys_stop_serving_when_the_stale_window_ends() {
    let key = SigningKey::generate(Algorithm::EdDSA, "ed");
    let (server, _jwks) = start(vec![key.jwk_json()]).await;
    let src = source(&server)
        .refresh_bounds(Duration::from_millis(100), Duration::from_millis(100))
        .stale_if_error(Duration::from_millis(400))
        .failure_backoff(Duration::from_millis(50))
        .build()
        .unwrap();
    let v = validator(src);
    v.warm_up().await.unwrap();
    server.stop().await;
    // Within freshness plus the stale window (0.5 s): the last good keys serve.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(v.validate(&key.sign(&claims("a", ""))).await.is_ok());
    // After it, nothing usable is loaded and the provider is down: 503, not 401.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let err = v.validate(&key.sign(&claims("b", ""))).await.unwrap_err();
    assert_eq!(err.kind(), &TokenErrorKind::KeysUnavailable);
}

#[tokio::test]
async fn cache_control_drives_background_refresh() {
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let (server, jwks) = start(vec![key.jwk_json()]).await;
    jwks.behavior.lock().unwrap().cache_control = Some("public, max-age=1".into());
    let v = validator(
        source(&server)
            .refresh_bounds(Duration::from_millis(500), Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    v.warm_up().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let hits = jwks.hits();
    assert!(
        (2..=4).contains(&hits),
        "refreshed ahead about once a second: {hits} fetches"
    );
    server.stop().await;
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_follows_jwks_uri() {
    let key = SigningKey::generate(Algorithm::RS256, "rsa");
    let (server, jwks) = start(vec![key.jwk_without_alg()]).await;
    let issuer = format!("http://{}", server.addr);
    let keys = KeySource::discovery(&issuer)
        .allow_insecure_http()
        .build()
        .unwrap();
    let v = Validator::builder(issuer.clone(), [AUDIENCE])
        .key_source(keys)
        .build()
        .unwrap();
    let mut c = claims("a", "");
    c["iss"] = json!(issuer);
    assert!(v.validate(&key.sign(&c)).await.is_ok());
    assert!(
        v.validate(&key.sign_as(Algorithm::PS256, &c)).await.is_ok(),
        "same RSA key, PS256"
    );
    assert_eq!(
        (jwks.discovery_hits.load(Ordering::SeqCst), jwks.hits()),
        (1, 1)
    );

    // A trailing slash in the configured issuer is still another issuer than the document's.
    let other = format!("{issuer}/");
    let keys = KeySource::discovery(&other)
        .allow_insecure_http()
        .build()
        .unwrap();
    let v = Validator::builder(other, [AUDIENCE])
        .key_source(keys)
        .build()
        .unwrap();
    let err = v.warm_up().await.unwrap_err();
    assert!(
        matches!(err.kind(), KeySourceErrorKind::IssuerMismatch { .. }),
        "{err:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn insecure_urls_need_to_be_named() {
    let err = KeySource::jwks("http://127.0.0.1:9/jwks")
        .build()
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        meshward::jwt::ConfigErrorKind::InsecureUrl { .. }
    ));
    let err = KeySource::discovery("http://127.0.0.1:9")
        .build()
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        meshward::jwt::ConfigErrorKind::InsecureUrl { .. }
    ));
    let err = KeySource::jwks("not a url").build().unwrap_err();
    assert!(matches!(
        err.kind(),
        meshward::jwt::ConfigErrorKind::InvalidUrl { .. }
    ));
    // A discovery source on another issuer is a configuration error.
    let keys = KeySource::discovery("https://a.example").build().unwrap();
    let err = Validator::builder("https://b.example", ["x"])
        .key_source(keys)
        .build()
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        meshward::jwt::ConfigErrorKind::DiscoveryIssuerMismatch { .. }
    ));
}

#[tokio::test]
async fn each_issuer_uses_its_own_source() {
    let a = SigningKey::generate(Algorithm::ES256, "a");
    let b = SigningKey::generate(Algorithm::ES256, "b");
    let (server_a, _) = start(vec![a.jwk_json()]).await;
    let (server_b, _) = start(vec![b.jwk_json()]).await;
    let v = Validator::builder(ISSUER, [AUDIENCE])
        .key_source(source(&server_a).build().unwrap())
        .add_issuer(
            Issuer::new("https://other.test", ["billing"])
                .key_source(source(&server_b).build().unwrap()),
        )
        .build()
        .unwrap();
    let other = |mut c: Value| {
        c["iss"] = json!("https://other.test");
        c["aud"] = json!("billing");
        c
    };
    assert!(v.validate(&a.sign(&claims("x", ""))).await.is_ok());
    assert_eq!(
        v.validate(&b.sign(&other(claims("y", ""))))
            .await
            .unwrap()
            .issuer(),
        "https://other.test"
    );
    // Issuer B's token signed with A's key (and kid): B's keys do not know it.
    let forged = a.sign(&other(claims("z", "")));
    assert!(matches!(
        v.validate(&forged).await.unwrap_err().kind(),
        TokenErrorKind::UnknownKey { .. }
    ));
    server_a.stop().await;
    server_b.stop().await;
}

#[test]
fn absurd_durations_are_configuration_errors_not_panics() {
    let huge = Duration::from_secs(u64::MAX);
    for builder in [
        KeySource::jwks("https://id.example/jwks").stale_if_error(huge),
        KeySource::jwks("https://id.example/jwks").refresh_bounds(Duration::from_secs(1), huge),
        KeySource::jwks("https://id.example/jwks").refresh_cooldown(huge),
        KeySource::jwks("https://id.example/jwks").fetch_timeout(Duration::ZERO),
    ] {
        let err = builder.build().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                meshward::jwt::ConfigErrorKind::InvalidLimit { .. }
            ),
            "{err:?}"
        );
    }
}
