//! Tests that cross concerns: a stack of layers, the one audit event they all emit, the
//! metrics beside it, and the challenge parameters they share.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tower::{ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::authz::RequireScopesLayer;
use crate::jwt::{AuthLayer, Validator};
use crate::rejection::DefaultRejectionResponse;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn validator() -> Validator {
    Validator::builder("iss", ["aud"])
        .add_hmac_secret(SECRET, Algorithm::HS256)
        .build()
        .unwrap()
}

fn token(scope: &str) -> String {
    let exp = jsonwebtoken::get_current_timestamp() + 60;
    let claims =
        serde_json::json!({"iss": "iss", "aud": "aud", "sub": "alice", "scope": scope, "exp": exp});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::get("/orders/7");
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    builder.body(()).unwrap()
}

/// An auth layer with a realm, then a scope layer with the default responder.
async fn call(request: Request<()>) -> Response<()> {
    ServiceBuilder::new()
        .layer(
            AuthLayer::new(validator())
                .with_rejection_response(DefaultRejectionResponse::new().realm("orders")),
        )
        .layer(RequireScopesLayer::all(["write"]))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
        .oneshot(request)
        .await
        .unwrap()
}

/// One captured event: its level and its fields, as text.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) level: tracing::Level,
    pub(crate) fields: Vec<(String, String)>,
}

impl Event {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Captures the events of one target (the audit events unless told otherwise).
#[derive(Clone)]
pub(crate) struct Capture(Arc<Mutex<Vec<Event>>>, &'static str);

impl Default for Capture {
    fn default() -> Self {
        Self(Arc::default(), "meshward::audit")
    }
}

/// Runs `f` with the events of `target` captured, on this thread.
pub(crate) fn capture_events<T>(target: &'static str, f: impl FnOnce() -> T) -> (T, Vec<Event>) {
    let capture = Capture(Arc::default(), target);
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let output = tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        f()
    });
    let events = capture.0.lock().unwrap().clone();
    (output, events)
}

/// Runs `future` to its end on a current-thread runtime, with the events of `target`
/// captured.
pub(crate) fn capture_async<F: Future>(target: &'static str, future: F) -> (F::Output, Vec<Event>) {
    capture_events(target, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != self.1 {
            return;
        }
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Event {
            level: *event.metadata().level(),
            fields,
        });
    }
}

/// Runs `f` on a current-thread runtime with audit events captured.
fn audited<F: Future<Output = Response<()>>>(f: impl FnOnce() -> F) -> (Response<()>, Vec<Event>) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let response = tracing::subscriber::with_default(subscriber, || {
        // A callsite first reached on another test's thread, while this subscriber was
        // being registered, may have cached "no one listens": ask every callsite again.
        tracing::callsite::rebuild_interest_cache();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f())
    });
    let events = capture.0.lock().unwrap().clone();
    (response, events)
}

const FIELDS: [&str; 9] = [
    "message", "layer", "decision", "reason", "method", "path", "sub", "iss", "peer",
];

#[test]
fn every_layer_emits_the_one_audit_event_with_one_field_set() {
    let (response, events) = audited(|| call(request(Some(&token("read")))));
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(events.len(), 2, "{events:?}");
    let (auth, authz) = (&events[0], &events[1]);

    assert_eq!(auth.level, tracing::Level::DEBUG);
    assert_eq!(auth.get("layer"), Some("auth"));
    assert_eq!(auth.get("decision"), Some("allow"));
    assert_eq!(auth.get("reason"), Some("authenticated"));
    assert_eq!(auth.get("sub"), Some("alice"));
    assert_eq!(auth.get("iss"), Some("iss"));
    assert_eq!(auth.get("method"), Some("GET"));
    assert_eq!(auth.get("path"), Some("/orders/7"));

    assert_eq!(authz.level, tracing::Level::INFO);
    assert_eq!(authz.get("layer"), Some("authz"));
    assert_eq!(authz.get("decision"), Some("deny"));
    assert_eq!(authz.get("reason"), Some("insufficient_scope"));
    assert_eq!(authz.get("sub"), Some("alice"));
    // The same field set at both levels (no peer on this request, so that one is absent).
    let expected: Vec<&str> = FIELDS.iter().copied().filter(|f| *f != "peer").collect();
    assert_eq!(auth.names(), expected);
    assert_eq!(authz.names(), expected);
    // Never the token.
    for event in &events {
        assert!(
            event.fields.iter().all(|(_, v)| !v.contains("eyJ")),
            "{event:?}"
        );
    }
}

#[test]
fn the_peer_of_a_request_without_a_principal_is_named_in_its_event() {
    use crate::peer::{IdentityParts, PeerIdentity};
    let mut refused = request(None);
    refused.extensions_mut().insert(PeerIdentity::from_parts(
        IdentityParts::default()
            .with_uris(vec!["spiffe://prod.example/ns/shop/sa/orders".to_owned()]),
    ));
    let (response, events) = audited(|| call(refused));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].get("sub"), None);
    assert_eq!(
        events[0].get("peer"),
        Some("spiffe://prod.example/ns/shop/sa/orders")
    );
    let expected: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| !matches!(*f, "sub" | "iss"))
        .collect();
    assert_eq!(events[0].names(), expected);
}

#[test]
fn a_refused_token_is_one_deny_event_with_its_reason() {
    let (response, events) = audited(|| call(request(Some("not.a.token"))));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].get("layer"), Some("auth"));
    assert_eq!(events[0].get("decision"), Some("deny"));
    assert_eq!(events[0].get("reason"), Some("malformed"));
    assert_eq!(events[0].get("sub"), None);
}

/// The tests that flood refusals change or depend on the process-wide limit: one at a time.
static REFUSAL_LIMIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_flood_of_refusals_writes_a_bounded_number_of_events() {
    let _limit = REFUSAL_LIMIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // An expired token: a reason no other test here floods or counts.
    let exp = jsonwebtoken::get_current_timestamp() - 3600;
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"iss": "iss", "aud": "aud", "sub": "mallory", "exp": exp}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let flood = |n: usize| {
        let expired = expired.clone();
        audited(move || async move {
            let mut last = None;
            for _ in 0..n {
                last = Some(call(request(Some(&expired))).await);
            }
            last.unwrap()
        })
    };
    let count = |events: &[Event], message: &str| {
        events
            .iter()
            .filter(|e| e.get("reason") == Some("expired") && e.get("message") == Some(message))
            .count()
    };
    let (response, events) = flood(1000);
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // 100 per second in full: at most two seconds' worth, and a summary when a second
    // boundary fell inside the flood.
    let full = count(&events, "denied");
    assert!(
        (100..=200).contains(&full),
        "{full} events in full: {:?}",
        &events[..events.len().min(3)]
    );
    let summaries: Vec<&Event> = events
        .iter()
        .filter(|e| e.get("message") == Some("refusals not logged"))
        .collect();
    assert!(summaries.len() <= 1, "{summaries:?}");
    for s in &summaries {
        assert_eq!(s.get("layer"), Some("auth"));
        assert_eq!(s.get("decision"), Some("deny"));
        assert!(s.get("suppressed").unwrap().parse::<u64>().unwrap() > 0);
    }
    // Without a limit, every refusal is an event.
    crate::audit::set_refusals_logged_per_second(None);
    let (_, events) = flood(300);
    crate::audit::set_refusals_logged_per_second(Some(
        crate::audit::DEFAULT_REFUSALS_LOGGED_PER_SECOND,
    ));
    assert_eq!(count(&events, "denied"), 300);
}

#[test]
fn every_refusal_of_a_flood_is_logged_or_counted_in_a_later_summary() {
    let _limit = REFUSAL_LIMIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A token not yet valid: a reason no other test here refuses.
    let nbf = jsonwebtoken::get_current_timestamp() + 3600;
    let early = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"iss": "iss", "aud": "aud", "sub": "mallory", "nbf": nbf, "exp": nbf + 60}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let (_, events) = audited(move || async move {
        for _ in 0..300 {
            call(request(Some(&early))).await;
        }
        // The next second's first refusal reports what the last one did not log.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        call(request(Some(&early))).await
    });
    let ours: Vec<&Event> = events
        .iter()
        .filter(|e| e.get("reason") == Some("not_yet_valid"))
        .collect();
    let logged = ours
        .iter()
        .filter(|e| e.get("message") == Some("denied"))
        .count() as u64;
    let summaries: Vec<u64> = ours
        .iter()
        .filter(|e| e.get("message") == Some("refusals not logged"))
        .map(|e| e.get("suppressed").unwrap().parse().unwrap())
        .collect();
    assert!(!summaries.is_empty(), "no summary of the flood");
    assert!(summaries.iter().all(|&n| n > 0), "{summaries:?}");
    assert!(logged <= 300, "{logged} logged");
    assert_eq!(logged + summaries.iter().sum::<u64>(), 301);
}

#[test]
fn the_realm_configured_once_reaches_every_layer() {
    let (response, _) = audited(|| call(request(Some(&token("read")))));
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="orders", error="insufficient_scope", error_description="insufficient scope", scope="write""#
    );
    let (response, _) = audited(|| call(request(None)));
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="orders""#
    );
}

#[test]
fn a_scope_layer_behind_an_anonymous_auth_layer_answers_401() {
    let run = |token: Option<String>| {
        audited(move || async move {
            ServiceBuilder::new()
                .layer(AuthLayer::new(validator()).allow_anonymous())
                .layer(RequireScopesLayer::any(["read", "write"]))
                .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
                .oneshot(request(token.as_deref()))
                .await
                .unwrap()
        })
    };
    let (response, events) = run(None);
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let rejection = response.extensions().get::<crate::Rejection>().unwrap();
    assert_eq!(rejection.label(), "unauthenticated");
    assert_eq!(events[0].get("reason"), Some("anonymous"));
    assert_eq!(events[1].get("reason"), Some("unauthenticated"));
    // `any`: one of the two scopes is enough.
    let (response, _) = run(Some(token("write")));
    assert_eq!(response.status(), StatusCode::OK);
    let (response, _) = run(Some(token("admin")));
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[cfg(feature = "metrics")]
#[test]
fn each_decision_is_counted_and_timed() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(call(request(Some(&token("read write")))));
        rt.block_on(call(request(Some(&token("read")))));
        rt.block_on(call(request(None)));
    });
    let mut counters = Vec::new();
    let mut histograms = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        match value {
            DebugValue::Counter(n) => {
                assert_eq!(key.key().name(), "meshward_decisions_total");
                counters.push((labels.join(","), n));
            }
            DebugValue::Histogram(samples) => {
                assert_eq!(key.key().name(), "meshward_decision_duration_seconds");
                histograms += samples.len();
            }
            DebugValue::Gauge(_) => panic!("no gauge expected"),
        }
    }
    counters.sort();
    assert_eq!(
        counters,
        [
            (
                "layer=auth,decision=allow,reason=authenticated".to_owned(),
                2
            ),
            ("layer=auth,decision=deny,reason=missing".to_owned(), 1),
            ("layer=authz,decision=allow,reason=allowed".to_owned(), 1),
            (
                "layer=authz,decision=deny,reason=insufficient_scope".to_owned(),
                1
            ),
        ]
    );
    assert_eq!(histograms, 5, "one latency sample per decision");
}

#[test]
fn hmac_secrets_are_only_held_in_zeroizing_keys() {
    // The manual says HMAC secrets are zeroized when dropped: the crate keeps them only in
    // jsonwebtoken's DecodingKey, which is ZeroizeOnDrop (aws-lc cleanses its HMAC contexts).
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroized_on_drop::<jsonwebtoken::DecodingKey>();
}

#[test]
fn minting_is_the_one_audit_event_too() {
    use crate::mint::{MintLayer, ServiceSigner, SigningKey};

    let signer = ServiceSigner::builder(
        "spiffe://td/ns/a/sa/gateway",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build()
    .unwrap();
    let client = |signer: ServiceSigner| {
        ServiceBuilder::new()
            .layer(MintLayer::new(signer, "spiffe://td/ns/a/sa/orders"))
            .service_fn(|request: Request<()>| async move {
                let auth = request.headers().get(header::AUTHORIZATION).cloned();
                let mut response = Response::new(());
                if let Some(auth) = auth {
                    assert!(auth.is_sensitive(), "the token is marked sensitive");
                    response.headers_mut().insert("x-auth", auth);
                }
                Ok::<_, Infallible>(response)
            })
    };
    let principal = crate::principal::test_principal("read");
    let with_principal = signer.clone();
    let (response, events) = audited(move || async move {
        let mut request = Request::get("/reserve").body(()).unwrap();
        request.extensions_mut().insert(principal);
        client(with_principal).oneshot(request).await.unwrap()
    });
    assert!(
        response.headers()["x-auth"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ey")
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].get("layer"), Some("mint"));
    assert_eq!(events[0].get("decision"), Some("allow"));
    assert_eq!(events[0].get("reason"), Some("minted"));
    assert_eq!(
        events[0].get("audience"),
        Some("spiffe://td/ns/a/sa/orders")
    );
    assert_eq!(events[0].get("sub"), Some("alice"));
    assert!(events[0].fields.iter().all(|(_, v)| !v.contains("eyJ")));

    // No principal, and the layer was not told to call as the service: refused, not sent.
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let failed = tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(client(signer).oneshot(Request::get("/reserve").body(()).unwrap()))
    });
    let error = failed.unwrap_err();
    let mint = error.downcast_ref::<crate::mint::MintError>().unwrap();
    assert_eq!(mint.kind(), &crate::mint::MintErrorKind::NoPrincipal);
    let events = capture.0.lock().unwrap().clone();
    assert_eq!(events[0].get("decision"), Some("deny"));
    assert_eq!(events[0].get("reason"), Some("no_principal"));
}

/// An inner service that is never ready: it failed.
#[derive(Clone)]
struct Broken;

impl tower::Service<Request<()>> for Broken {
    type Response = Response<()>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Response<()>, std::io::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        std::task::Poll::Ready(Err(std::io::Error::other("inner service failed")))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(())))
    }
}

#[test]
fn every_layer_passes_its_inner_services_readiness_on() {
    use tower::Layer as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut auth = AuthLayer::new(validator()).layer(Broken);
    let error = rt.block_on(auth.ready()).err().map(|e| e.to_string());
    assert_eq!(error.as_deref(), Some("inner service failed"));
    let mut authz = RequireScopesLayer::all(["read"]).layer(Broken);
    let error = rt.block_on(authz.ready()).err().map(|e| e.to_string());
    assert_eq!(error.as_deref(), Some("inner service failed"));
    let signer = crate::mint::ServiceSigner::builder(
        "https://a.test",
        crate::mint::SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build()
    .unwrap();
    let mut mint = crate::mint::MintLayer::new(signer, "https://b.test").layer(Broken);
    let error = rt.block_on(mint.ready()).err().map(|e| e.to_string());
    assert_eq!(error.as_deref(), Some("inner service failed"));
    let mut quota = crate::quota::QuotaLayer::new(crate::quota::Limit::builder().build().unwrap())
        .layer(Broken);
    let error = rt.block_on(quota.ready()).err().map(|e| e.to_string());
    assert_eq!(error.as_deref(), Some("inner service failed"));
    #[cfg(feature = "mtls")]
    {
        let mut xfcc = crate::mtls::XfccLayer::new().layer(Broken);
        let error = rt.block_on(xfcc.ready()).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("inner service failed"));
    }
}

#[test]
fn a_requirement_sees_the_request() {
    use crate::authz::AuthzRequest;
    let request = Request::post("/orders/7?x=1")
        .header("x-tenant", "acme")
        .body(())
        .unwrap();
    let view = AuthzRequest::new(&request);
    assert_eq!(view.method(), http::Method::POST);
    assert_eq!(view.uri().path(), "/orders/7");
    assert_eq!(view.uri().query(), Some("x=1"));
    assert_eq!(view.headers()["x-tenant"], "acme");
    assert!(view.principal().is_none());
    assert!(view.peer().is_none());
    assert!(format!("{view:?}").contains("/orders/7"));
}

#[tokio::test]
async fn a_cached_token_is_answered_at_once_until_it_expires_and_never_excuses_a_bad_credential() {
    let validator = Validator::builder("iss", ["aud"])
        .add_hmac_secret(SECRET, Algorithm::HS256)
        .leeway(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 1;
    let claims = serde_json::json!({"iss": "iss", "aud": "aud", "sub": "alice", "exp": exp});
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(validator.clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let send = |value: String| {
        let request = Request::get("/")
            .header(header::AUTHORIZATION, value)
            .body(())
            .unwrap();
        service.clone().oneshot(request)
    };
    assert_eq!(send(format!("Bearer {t}")).await.unwrap().status(), 200);
    assert_eq!(send(format!("Bearer {t}")).await.unwrap().status(), 200);
    assert_eq!(
        validator.stats().cache_hits,
        1,
        "the second was a cache hit"
    );
    // The cached token with something after it is another credential, and a malformed one.
    for bad in [
        format!("Bearer {t} x"),
        format!("Bearer {t},"),
        format!("Bearer {t}\t"),
    ] {
        assert_eq!(send(bad.clone()).await.unwrap().status(), 400, "{bad:?}");
    }
    // Past its exp the cached answer no longer holds.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = send(format!("Bearer {t}")).await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(challenge.contains("expired"), "{challenge}");
}

/// `ServiceBuilderExt` has one method per layer, and each adds that layer.
#[tokio::test]
async fn service_builder_has_a_method_for_every_layer() {
    use crate::ServiceBuilderExt;
    use crate::authz::require;
    use crate::mint::{ServiceSigner, SigningKey};
    use crate::quota::Limit;

    let inbound = ServiceBuilder::new()
        .authenticate(validator())
        .authorize(require::scopes_any(["read"]))
        .quota(
            Limit::builder()
                .requests(1, std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let status = |response: Response<()>| {
        (
            response.status(),
            response
                .extensions()
                .get::<crate::Rejection>()
                .map(|r| r.label().to_owned()),
        )
    };
    let first = inbound
        .clone()
        .oneshot(request(Some(&token("read"))))
        .await
        .unwrap();
    assert_eq!(status(first), (StatusCode::OK, None));
    let wrong = inbound
        .clone()
        .oneshot(request(Some(&token("write"))))
        .await
        .unwrap();
    assert_eq!(
        status(wrong),
        (StatusCode::FORBIDDEN, Some("insufficient_scope".into()))
    );
    let again = inbound
        .clone()
        .oneshot(request(Some(&token("read"))))
        .await
        .unwrap();
    assert_eq!(
        status(again),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded".into()))
    );
    let anonymous = inbound.oneshot(request(None)).await.unwrap();
    assert_eq!(
        status(anonymous),
        (StatusCode::UNAUTHORIZED, Some("missing".into()))
    );

    let signer = ServiceSigner::builder(
        "spiffe://td/ns/a/sa/gateway",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build()
    .unwrap();
    let outbound = ServiceBuilder::new()
        .mint(signer, "spiffe://td/ns/a/sa/orders")
        .service_fn(|request: Request<()>| async move {
            let minted = request.headers().contains_key(header::AUTHORIZATION);
            Ok::<_, Infallible>(Response::new(minted))
        });
    let mut call = Request::get("/reserve").body(()).unwrap();
    call.extensions_mut()
        .insert(crate::principal::test_principal("read"));
    assert!(*outbound.oneshot(call).await.unwrap().body());
}
