//! Authorization through real servers: one rules file guards an axum app and a tonic service
//! (HTTP statuses, challenges, gRPC codes, path tricks, a table swapped while serving);
//! typed claims in both frameworks; a Rego policy in process, and the same policy behind a
//! remote decision point (a stand-in that speaks OPA's data API) giving the same decisions,
//! failing closed when it is down, slow or answers garbage, and caching its answers.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jsonwebtoken::Algorithm;
use meshward::authz::{AuthzLayer, RuleTable, SharedRules};
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::{Claims, Principal, Rejection};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Code;
use tonic::transport::{Channel, Server};

use crate::support::grpc::{whoami, whoami_service};
use crate::support::*;

/// One file for the whole server: HTTP routes and the gRPC method side by side.
const RULES: &str = r#"
# meshward rules: first match decides; nothing matched is refused.
[[rule]]
name = "health"
path = "/healthz"
allow = "anyone"

[[rule]]
name = "export"
methods = ["POST"]
path = "/orders/export"
require = { scopes_all = ["orders:admin"] }

[[rule]]
name = "read orders"
methods = ["GET"]
path = "/orders/**"
require = { scopes_any = ["orders:read", "orders:admin"] }

[[rule]]
name = "admin"
path = "/admin/**"
require = { roles = { from = "keycloak_realm", any = ["admin"] } }

[[rule]]
name = "me"
path = "/me"
require = { authenticated = true }

[[rule]]
name = "whoami"
path = "/meshward.test.WhoAmI/Get"
require = { all = [{ scopes_all = ["whoami"] }, { claim = { path = "tenant", equals = "acme" } }] }
"#;

#[derive(serde::Deserialize)]
struct Tenant {
    tenant: String,
}

pub fn validator(key: &SigningKey) -> Validator {
    Validator::builder(ISSUER, [AUDIENCE])
        .add_key(
            VerifyingKey::from_ec_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid(&key.kid),
        )
        .build()
        .unwrap()
}

/// The routes every guarded app serves; the refusal's label is copied into `x-refusal` so
/// that the client can see which reason the layer gave.
fn routes() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/orders/{id}",
            get(|p: Principal| async move { format!("orders for {}", p.subject().unwrap_or("?")) }),
        )
        .route("/orders/export", post(|| async { "exported" }))
        .route("/admin/{*rest}", get(|| async { "admin" }))
        .route(
            "/me",
            get(|c: Claims<Tenant>| async move {
                format!("{} {:p}", c.tenant, Arc::as_ptr(&c.clone().into_inner()))
            }),
        )
}

pub fn label_refusals(router: Router) -> Router {
    router.layer(axum::middleware::map_response(
        |mut res: axum::response::Response| async move {
            let label = res
                .extensions()
                .get::<Rejection>()
                .map(|r| r.label().to_owned());
            if let Some(label) = label {
                res.headers_mut()
                    .insert("x-refusal", label.parse().unwrap());
            }
            res
        },
    ))
}

async fn guarded_app<Q>(key: &SigningKey, requirement: Q) -> TestServer
where
    Q: meshward::authz::Requirement + Send + Sync + 'static,
{
    let app = routes()
        .layer(AuthzLayer::new(requirement))
        .layer(AuthLayer::new(validator(key)).allow_anonymous());
    serve_axum(label_refusals(app)).await
}

pub async fn guarded_grpc<Q>(key: &SigningKey, requirement: Q) -> TestServer
where
    Q: meshward::authz::Requirement + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let layer = AuthzLayer::new(requirement);
    let auth = AuthLayer::new(validator(key)).allow_anonymous();
    let handle = tokio::spawn(async move {
        Server::builder()
            .layer(auth)
            .layer(layer)
            .add_service(whoami_service())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

pub async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub fn token(key: &SigningKey, sub: &str, scope: &str, extra: Value) -> String {
    let mut c = claims(sub, scope);
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    key.sign(&c)
}

#[tokio::test]
async fn one_rules_file_guards_an_axum_app_and_a_tonic_service() {
    let key = SigningKey::generate(Algorithm::ES256, "authz");
    let dir = pki::TempDir::new("rules");
    let file = dir.write("rules.toml", RULES);
    let rules = SharedRules::new(RuleTable::from_file(&file).unwrap());
    let http = guarded_app(&key, rules.clone()).await;
    let grpc = guarded_grpc(&key, rules.clone()).await;

    let reader = token(&key, "alice", "orders:read", json!({"tenant": "acme"}));
    let admin = token(
        &key,
        "root",
        "orders:admin",
        json!({"realm_access": {"roles": ["admin"]}}),
    );
    let bearer = |t: &str| format!("Bearer {t}");
    // (method, path, token, status, x-refusal, challenge contains)
    let cases: Vec<(&str, &str, Option<&str>, u16, Option<&str>, Option<&str>)> = vec![
        ("GET", "/healthz", None, 200, None, None),
        ("GET", "/orders/7", Some(&reader), 200, None, None),
        (
            "GET",
            "/orders/7",
            None,
            401,
            Some("unauthenticated"),
            Some("Bearer"),
        ),
        (
            "POST",
            "/orders/export",
            Some(&reader),
            403,
            Some("insufficient_scope"),
            Some("scope=\"orders:admin\""),
        ),
        ("POST", "/orders/export", Some(&admin), 200, None, None),
        (
            "DELETE",
            "/orders/7",
            Some(&admin),
            403,
            Some("no_rule"),
            None,
        ),
        (
            "GET",
            "/admin/users",
            Some(&reader),
            403,
            Some("missing_role"),
            None,
        ),
        ("GET", "/admin/users", Some(&admin), 200, None, None),
        (
            "GET",
            "/admin/users",
            None,
            401,
            Some("unauthenticated"),
            Some("Bearer"),
        ),
        // Paths that would slip past a naive prefix check.
        (
            "GET",
            "/admin/../orders/7",
            Some(&reader),
            403,
            Some("path_not_accepted"),
            None,
        ),
        (
            "GET",
            "/orders/%2e%2e/admin/users",
            Some(&reader),
            403,
            Some("path_not_accepted"),
            None,
        ),
        (
            "GET",
            "/%61dmin/users",
            Some(&reader),
            403,
            Some("missing_role"),
            None,
        ),
        (
            "GET",
            "//admin//users",
            Some(&reader),
            403,
            Some("path_not_accepted"),
            None,
        ),
        (
            "GET",
            "/admin%2Fusers",
            Some(&reader),
            403,
            Some("path_not_accepted"),
            None,
        ),
        (
            "GET",
            "/ADMIN/users",
            Some(&admin),
            403,
            Some("no_rule"),
            None,
        ),
        ("GET", "/unlisted", Some(&admin), 403, Some("no_rule"), None),
        ("GET", "/orders/7/", Some(&reader), 404, None, None),
    ];
    for (method, path, tok, status, refusal, challenge) in cases {
        let auth = tok.map(bearer);
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let seen = http_send(method, &http.url(path), &headers).await;
        assert_eq!(seen.status, status, "{method} {path}");
        assert_eq!(seen.header("x-refusal"), refusal, "{method} {path}");
        match challenge {
            Some(c) => assert!(
                seen.header("www-authenticate").unwrap().contains(c),
                "{method} {path}: {:?}",
                seen.header("www-authenticate")
            ),
            None => assert_eq!(seen.header("www-authenticate"), None, "{method} {path}"),
        }
    }

    // The gRPC method is a path in the same table.
    let with_tenant = token(&key, "alice", "whoami", json!({"tenant": "acme"}));
    let other_tenant = token(&key, "bob", "whoami", json!({"tenant": "evil"}));
    let no_scope = token(&key, "alice", "orders:read", json!({"tenant": "acme"}));
    let ch = channel(&grpc).await;
    assert_eq!(
        whoami(ch.clone(), Some(&with_tenant)).await.unwrap(),
        "sub=alice peer=- bound=- tenant=acme"
    );
    let codes = [
        (None, Code::Unauthenticated, "bearer token required"),
        (Some(&other_tenant), Code::PermissionDenied, "forbidden"),
        (
            Some(&no_scope),
            Code::PermissionDenied,
            "insufficient scope",
        ),
    ];
    for (tok, code, message) in codes {
        let status = whoami(ch.clone(), tok.map(String::as_str))
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (code, message),
            "{tok:?}"
        );
    }

    // Swapped while serving: the next request sees the new table; a bad file never replaces it.
    let opened = RULES.replace(
        "require = { roles = { from = \"keycloak_realm\", any = [\"admin\"] } }",
        "allow = \"anyone\"",
    );
    rules.replace(RuleTable::from_toml(&opened).unwrap());
    let seen = http_get(&http.url("/admin/users"), &[]).await;
    assert_eq!(seen.status, 200);
    assert!(RuleTable::from_toml("[[rule]]\nname = \"x\"\npath = \"/\"\n").is_err());
    let seen = http_get(&http.url("/admin/users"), &[]).await;
    assert_eq!(seen.status, 200, "the table in place stays");
    http.stop().await;
    grpc.stop().await;
}

#[tokio::test]
async fn typed_claims_are_deserialized_once_per_token() {
    let key = SigningKey::generate(Algorithm::ES256, "claims");
    let rules = RuleTable::from_toml(RULES).unwrap();
    let http = guarded_app(&key, rules).await;
    let acme = format!(
        "Bearer {}",
        token(&key, "alice", "", json!({"tenant": "acme"}))
    );
    let first = http_get(&http.url("/me"), &[("authorization", &acme)]).await;
    let again = http_get(&http.url("/me"), &[("authorization", &acme)]).await;
    assert_eq!(first.status, 200);
    let (tenant, pointer) = first
        .body_text()
        .split_once(' ')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    assert_eq!(tenant, "acme");
    assert_eq!(
        again.body_text(),
        format!("acme {pointer}"),
        "the same shared value"
    );
    // Another token with the same claims is another value.
    let other = format!(
        "Bearer {}",
        token(&key, "alice", "x", json!({"tenant": "acme"}))
    );
    let third = http_get(&http.url("/me"), &[("authorization", &other)]).await;
    assert_ne!(third.body_text(), first.body_text());
    // Claims of the wrong shape: 401 invalid_token, the handler is not called.
    let shapeless = format!("Bearer {}", token(&key, "alice", "", json!({"tenant": 7})));
    let seen = http_get(&http.url("/me"), &[("authorization", &shapeless)]).await;
    assert_eq!(seen.status, 401);
    assert_eq!(seen.header("x-refusal"), Some("claims_mismatch"));
    assert!(
        seen.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    http.stop().await;
}

#[cfg(all(feature = "rego", feature = "opa"))]
pub mod policies {
    //! The same decisions from Rego in process and from a remote decision point.

    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::Json;
    use axum::extract::{Path, State};
    use meshward::authz::{OpaPolicy, RegoPolicy};

    use super::*;

    pub const POLICY: &str = r#"
        package shop.authz
        import rego.v1

        default allow := false

        # Anyone may check health.
        allow if input.request.path == "/healthz"

        # Readers read orders of their own tenant, named in a header.
        allow if {
            input.request.method == "GET"
            startswith(input.request.path, "/orders/")
            "orders:read" in input.principal.scopes
            input.request.headers["x-tenant"] == input.principal.claims.tenant
        }

        # Admins are listed in data.
        allow if {
            startswith(input.request.path, "/admin/")
            input.principal.subject in data.shop.admins
        }

        # gRPC callers with the scope.
        allow if {
            input.request.grpc.service == "meshward.test.WhoAmI"
            "whoami" in input.principal.scopes
        }
    "#;

    const DATA: &str = r#"{"shop": {"admins": ["root"]}}"#;

    fn rego() -> RegoPolicy {
        RegoPolicy::builder("data.shop.authz.allow")
            .add_policy("shop.rego", POLICY)
            .add_data_json("admins", DATA)
            .input_headers(["X-Tenant"])
            .build()
            .unwrap()
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Mode {
        Up,
        Slow,
        NotJson,
        ServerError,
        WrongShape,
        /// An allowing answer of exactly this many bytes, sent in 1 KiB chunks.
        Sized(usize),
    }

    /// A decision point on 127.0.0.1 speaking OPA's data API (`POST /v1/data/<path>` with
    /// `{"input": …}`, answering `{"result": …}`, or `{}` for an undefined document), deciding
    /// with regorus: what OPA would run, without the OPA binary.
    pub struct StandIn {
        pub server: TestServer,
        pub asked: Arc<AtomicUsize>,
        pub mode: Arc<Mutex<Mode>>,
        /// Every input document it was sent, in order.
        pub inputs: Arc<Mutex<Vec<Value>>>,
    }

    #[derive(Clone)]
    struct StandInState {
        engine: regorus::Engine,
        asked: Arc<AtomicUsize>,
        mode: Arc<Mutex<Mode>>,
        inputs: Arc<Mutex<Vec<Value>>>,
    }

    async fn decide(
        State(state): State<StandInState>,
        Path(path): Path<String>,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        state.asked.fetch_add(1, Ordering::SeqCst);
        state.inputs.lock().unwrap().push(body["input"].clone());
        let mode = *state.mode.lock().unwrap();
        match mode {
            Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
            Mode::NotJson => return "<html>bad gateway</html>".into_response(),
            Mode::ServerError => {
                return (
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"code": "internal_error"})),
                )
                    .into_response();
            }
            Mode::WrongShape => return Json(json!({"result": "yes"})).into_response(),
            Mode::Sized(size) => {
                let head = br#"{"result": true, "pad": ""#;
                let tail = br#""}"#;
                let mut answer = head.to_vec();
                answer.resize(size - tail.len(), b'x');
                answer.extend_from_slice(tail);
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    answer.chunks(1024).map(|c| Ok(c.to_vec())).collect();
                return axum::body::Body::from_stream(tokio_stream::iter(chunks)).into_response();
            }
            Mode::Up => {}
        }
        let mut engine = state.engine.clone();
        engine.set_input(regorus::Value::from(body["input"].clone()));
        let rule = format!("data.{}", path.replace('/', "."));
        match engine.eval_rule(rule) {
            Ok(regorus::Value::Undefined) => Json(json!({})).into_response(),
            Ok(value) => {
                Json(json!({"result": serde_json::to_value(&value).unwrap()})).into_response()
            }
            Err(e) => (http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }

    pub async fn stand_in() -> StandIn {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("shop.rego".into(), POLICY.into())
            .unwrap();
        engine
            .add_data(regorus::Value::from_json_str(DATA).unwrap())
            .unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(Mutex::new(Mode::Up));
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let state = StandInState {
            engine,
            asked: Arc::clone(&asked),
            mode: Arc::clone(&mode),
            inputs: Arc::clone(&inputs),
        };
        let app = Router::new()
            .route("/v1/data/{*path}", post(decide))
            .with_state(state);
        StandIn {
            server: serve_axum(app).await,
            asked,
            mode,
            inputs,
        }
    }

    fn opa_cached(addr: SocketAddr, capacity: u64, ttl: Duration) -> OpaPolicy {
        OpaPolicy::builder(format!("http://{addr}"), "shop/authz/allow")
            .allow_insecure_http()
            .decision_cache(capacity, ttl)
            .build()
            .unwrap()
    }

    fn opa(addr: SocketAddr, cache: bool) -> OpaPolicy {
        let mut builder = OpaPolicy::builder(format!("http://{addr}"), "shop/authz/allow")
            .allow_insecure_http()
            .timeout(Duration::from_millis(300))
            .input_headers(["x-tenant"]);
        if !cache {
            builder = builder.decision_cache(0, Duration::from_secs(1));
        }
        builder.build().unwrap()
    }

    /// (method, path, token, x-tenant, expected status)
    fn requests(
        key: &SigningKey,
    ) -> Vec<(
        &'static str,
        &'static str,
        Option<String>,
        Option<&'static str>,
        u16,
    )> {
        let reader = Some(token(
            key,
            "alice",
            "orders:read",
            json!({"tenant": "acme"}),
        ));
        let root = Some(token(key, "root", "", json!({})));
        vec![
            ("GET", "/healthz", None, None, 200),
            ("GET", "/orders/1", reader.clone(), Some("acme"), 200),
            ("GET", "/orders/1", reader.clone(), Some("evil"), 403),
            ("GET", "/orders/1", reader.clone(), None, 403),
            ("POST", "/orders/export", reader.clone(), Some("acme"), 403),
            ("GET", "/admin/users", reader, None, 403),
            ("GET", "/admin/users", root, None, 200),
            // Refused without credentials: 401, as a rule that needs a principal answers.
            ("GET", "/orders/1", None, Some("acme"), 401),
        ]
    }

    async fn statuses(server: &TestServer, key: &SigningKey) -> Vec<u16> {
        let mut out = Vec::new();
        for (method, path, tok, tenant, _) in requests(key) {
            let auth = tok.map(|t| format!("Bearer {t}"));
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(a) = &auth {
                headers.push(("authorization", a));
            }
            if let Some(t) = tenant {
                headers.push(("x-tenant", t));
            }
            out.push(http_send(method, &server.url(path), &headers).await.status);
        }
        out
    }

    #[tokio::test]
    async fn rego_in_process_and_the_remote_decision_point_agree() {
        let key = SigningKey::generate(Algorithm::ES256, "rego");
        let expected: Vec<u16> = requests(&key).iter().map(|r| r.4).collect();
        let in_process = guarded_app(&key, rego()).await;
        let standin = stand_in().await;
        let remote = guarded_app(&key, opa(standin.server.addr, false)).await;
        assert_eq!(
            statuses(&in_process, &key).await,
            expected,
            "rego in process"
        );
        assert_eq!(
            statuses(&remote, &key).await,
            expected,
            "the remote decision point"
        );
        assert_eq!(standin.asked.load(Ordering::SeqCst), expected.len());
        // A refusal by policy is labelled as such; without credentials it asks for them.
        let reader = format!("Bearer {}", token(&key, "alice", "orders:read", json!({})));
        let seen = http_get(&remote.url("/admin/users"), &[("authorization", &reader)]).await;
        assert_eq!(seen.header("x-refusal"), Some("policy_denied"));
        let seen = http_get(&remote.url("/admin/users"), &[]).await;
        assert_eq!(seen.header("x-refusal"), Some("unauthenticated"));
        assert_eq!(seen.header("www-authenticate"), Some("Bearer"));
        in_process.stop().await;
        remote.stop().await;
        standin.server.stop().await;
    }

    #[tokio::test]
    async fn the_decision_cache_answers_the_same_input_without_asking() {
        let key = SigningKey::generate(Algorithm::ES256, "cache");
        let standin = stand_in().await;
        let remote = guarded_app(&key, opa(standin.server.addr, true)).await;
        let reader = format!(
            "Bearer {}",
            token(&key, "alice", "orders:read", json!({"tenant": "acme"}))
        );
        let headers = [("authorization", reader.as_str()), ("x-tenant", "acme")];
        for _ in 0..3 {
            assert_eq!(
                http_get(&remote.url("/orders/1"), &headers).await.status,
                200
            );
        }
        assert_eq!(
            standin.asked.load(Ordering::SeqCst),
            1,
            "one question, then cache hits"
        );
        // Another input is another question.
        assert_eq!(
            http_get(&remote.url("/orders/2"), &headers).await.status,
            200
        );
        assert_eq!(standin.asked.load(Ordering::SeqCst), 2);
        // An unavailable answer is not cached: once the point is back, it is asked again.
        *standin.mode.lock().unwrap() = Mode::ServerError;
        assert_eq!(
            http_get(&remote.url("/orders/3"), &headers).await.status,
            503
        );
        *standin.mode.lock().unwrap() = Mode::Up;
        assert_eq!(
            http_get(&remote.url("/orders/3"), &headers).await.status,
            200
        );
        assert_eq!(standin.asked.load(Ordering::SeqCst), 4);
        remote.stop().await;
        standin.server.stop().await;
    }

    #[tokio::test]
    async fn no_capacity_or_no_lifetime_means_no_decision_cache() {
        let key = SigningKey::generate(Algorithm::ES256, "nocache");
        for (capacity, ttl) in [(0, Duration::from_secs(60)), (100, Duration::ZERO)] {
            let standin = stand_in().await;
            let remote = guarded_app(&key, opa_cached(standin.server.addr, capacity, ttl)).await;
            for _ in 0..3 {
                assert_eq!(http_get(&remote.url("/healthz"), &[]).await.status, 200);
            }
            assert_eq!(
                standin.asked.load(Ordering::SeqCst),
                3,
                "capacity {capacity}, ttl {ttl:?}: asked every time"
            );
            remote.stop().await;
            standin.server.stop().await;
        }
    }

    #[tokio::test]
    async fn an_answer_is_read_up_to_64_kib() {
        let key = SigningKey::generate(Algorithm::ES256, "size");
        let standin = stand_in().await;
        let remote = guarded_app(&key, opa(standin.server.addr, false)).await;
        for (size, status) in [(2048, 200), (64 * 1024, 200), (64 * 1024 + 1, 503)] {
            *standin.mode.lock().unwrap() = Mode::Sized(size);
            let seen = http_get(&remote.url("/healthz"), &[]).await;
            assert_eq!(seen.status, status, "an answer of {size} bytes");
        }
        remote.stop().await;
        standin.server.stop().await;
    }

    #[test]
    fn the_builder_refuses_unsafe_or_senseless_settings() {
        use meshward::authz::OpaConfigErrorKind;
        let kind = |b: meshward::authz::OpaPolicyBuilder| {
            b.build().map(|_| ()).map_err(|e| e.kind().clone())
        };
        let https = || OpaPolicy::builder("https://opa.internal:8181", "authz/allow");
        assert_eq!(kind(https()), Ok(()));
        assert!(matches!(
            kind(OpaPolicy::builder("http://127.0.0.1:8181", "authz/allow")),
            Err(OpaConfigErrorKind::InsecureUrl { .. })
        ));
        assert_eq!(
            kind(OpaPolicy::builder("http://127.0.0.1:8181", "authz/allow").allow_insecure_http()),
            Ok(())
        );
        assert!(matches!(
            kind(OpaPolicy::builder("ftp://127.0.0.1", "authz/allow").allow_insecure_http()),
            Err(OpaConfigErrorKind::InsecureUrl { .. })
        ));
        assert!(matches!(
            kind(OpaPolicy::builder("not a url", "authz/allow")),
            Err(OpaConfigErrorKind::InvalidUrl { what: "server" })
        ));
        assert!(matches!(
            kind(https().timeout(Duration::ZERO)),
            Err(OpaConfigErrorKind::InvalidSetting { .. })
        ));
        assert_eq!(kind(https().timeout(Duration::from_secs(60))), Ok(()));
        assert!(matches!(
            kind(https().timeout(Duration::from_secs(61))),
            Err(OpaConfigErrorKind::InvalidSetting { .. })
        ));
        assert_eq!(
            kind(https().decision_cache(10, Duration::from_secs(3600))),
            Ok(())
        );
        assert!(matches!(
            kind(https().decision_cache(10, Duration::from_secs(3601))),
            Err(OpaConfigErrorKind::InvalidSetting { .. })
        ));
    }

    #[tokio::test]
    async fn a_decision_point_that_is_down_slow_or_talks_garbage_fails_closed() {
        let key = SigningKey::generate(Algorithm::ES256, "down");
        let standin = stand_in().await;
        let remote = guarded_app(&key, opa(standin.server.addr, false)).await;
        let cases = [
            (Mode::Slow, 503, "policy_unavailable"),
            (Mode::NotJson, 503, "policy_unavailable"),
            (Mode::ServerError, 503, "policy_unavailable"),
            (Mode::WrongShape, 403, "policy_error"),
        ];
        for (mode, status, label) in cases {
            *standin.mode.lock().unwrap() = mode;
            let seen = http_get(&remote.url("/healthz"), &[]).await;
            assert_eq!(
                (seen.status, seen.header("x-refusal")),
                (status, Some(label)),
                "{mode:?}"
            );
        }
        // Down: nothing listens on the port any more.
        let addr = standin.server.addr;
        standin.server.stop().await;
        let orphan = guarded_app(&key, opa(addr, false)).await;
        let seen = http_get(&orphan.url("/healthz"), &[]).await;
        assert_eq!(
            (seen.status, seen.header("x-refusal")),
            (503, Some("policy_unavailable"))
        );
        // gRPC: UNAVAILABLE (14).
        let grpc = guarded_grpc(&key, opa(addr, false)).await;
        let t = token(&key, "alice", "whoami", json!({}));
        let status = whoami(channel(&grpc).await, Some(&t)).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unavailable, "authorization unavailable")
        );
        // And the same call with the decision point in process: allowed.
        let local = guarded_grpc(&key, rego()).await;
        assert_eq!(
            whoami(channel(&local).await, Some(&t)).await.unwrap(),
            "sub=alice peer=- bound=-"
        );
        orphan.stop().await;
        remote.stop().await;
        grpc.stop().await;
        local.stop().await;
    }
}

#[tokio::test]
async fn the_authz_examples_print_their_decisions() {
    let out = tokio::process::Command::new(crate::protected_server::built_example("authz_rules"))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "5 rules from examples/authz/rules.toml",
        "alice   GET     /orders/7                  200 an order for alice",
        "nobody  GET     /orders/7                  401 refused: unauthenticated",
        "alice   GET     /admin/../orders/7         403 refused: path_not_accepted",
        "bob     gRPC    /demo.Inventory/Reserve    PermissionDenied (forbidden)",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    #[cfg(feature = "rego")]
    {
        let out =
            tokio::process::Command::new(crate::protected_server::built_example("rego_policy"))
                .output()
                .await
                .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("The policy and the rule table gave the same answers to all 12 calls."),
            "{text}"
        );
        assert!(
            text.contains("alice   GET     /admin/users               403 refused: policy_denied"),
            "{text}"
        );
    }
}

/// Requirements of one's own, through a real server: one that waits
/// (`require::from_async_fn`) and an implementation of `Requirement`.
#[tokio::test]
async fn requirements_of_ones_own_decide_at_once_or_after_a_wait() {
    use meshward::authz::{AuthzErrorKind, AuthzRequest, Decision, Requirement, require};

    #[derive(Debug)]
    struct OfficeHours;

    impl Requirement for OfficeHours {
        fn check(&self, request: &AuthzRequest<'_>) -> Decision {
            if request
                .headers()
                .get("x-office")
                .is_some_and(|v| v == "open")
            {
                Decision::allow()
            } else {
                Decision::deny(AuthzErrorKind::Custom { reason: "closed" }.into())
            }
        }
    }

    let key = SigningKey::generate(Algorithm::ES256, "own");
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let directory = require::from_async_fn("tenant is active", move |request| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tenant = request
            .principal()
            .and_then(|p| p.claim("tenant"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            tenant.is_some_and(|t| t != "suspended")
        }
    });
    let server = guarded_app(
        &key,
        require::all([meshward::authz::BoxRequirement::new(OfficeHours), directory]),
    )
    .await;
    let active = format!(
        "Bearer {}",
        token(&key, "alice", "read", json!({"tenant": "acme"}))
    );
    let suspended = format!(
        "Bearer {}",
        token(&key, "bob", "read", json!({"tenant": "suspended"}))
    );
    for (auth, office, status, refusal) in [
        (Some(&active), Some("open"), 200, None),
        (Some(&suspended), Some("open"), 403, Some("custom")),
        (Some(&active), None, 403, Some("custom")),
        (None, Some("open"), 403, Some("custom")),
    ] {
        let mut headers = Vec::new();
        if let Some(auth) = auth {
            headers.push(("authorization", auth.as_str()));
        }
        if let Some(office) = office {
            headers.push(("x-office", office));
        }
        let seen = http_get(&server.url("/orders/7"), &headers).await;
        assert_eq!(
            (seen.status, seen.header("x-refusal")),
            (status, refusal),
            "{auth:?} {office:?}"
        );
    }
    // The office check refused at once, before the directory was asked.
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3);
    server.stop().await;
}
