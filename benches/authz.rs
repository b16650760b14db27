//! Authorization per request: a rule table of 10, 100 and 1000 rules, a Rego policy and a
//! remote OPA answering from its decision cache, each against the same service with no
//! authorization. Every subject runs behind the same cached `AuthLayer` (the principal a
//! requirement reads comes from it), so the difference is the authorization alone.
//! Run with `cargo bench --bench authz --all-features`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::authz::{AuthzLayer, Requirement, Rule, RuleTable, require};
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use serde_json::json;
use tower::{Service, ServiceBuilder, ServiceExt};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";

struct Setup {
    validator: Validator,
    header: String,
}

fn setup() -> Setup {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let verifying = VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-1234", "scope": "orders:read orders:write",
        "iat": now, "exp": now + 3600, "tenant": "acme",
        "realm_access": {"roles": ["reader"]}
    });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &encoding).unwrap();
    Setup {
        validator: Validator::builder(ISS, [AUD])
            .add_key(verifying)
            .build()
            .unwrap(),
        header: format!("Bearer {token}"),
    }
}

/// `n` rules, each for its own service's routes; the request matches the last one. Every
/// fourth rule ends in `**` so that matching cannot stop at the first literal.
fn table(n: usize) -> RuleTable {
    let mut builder = RuleTable::builder();
    for i in 0..n {
        let path = if i % 4 == 3 {
            format!("/api/v1/svc{i}/**")
        } else {
            format!("/api/v1/svc{i}/items/*")
        };
        builder = builder.rule(
            Rule::new(format!("rule {i}"))
                .methods(["GET"])
                .path(path)
                .require(require::scopes_any(["orders:read"])),
        );
    }
    builder.build().unwrap()
}

type Boxed = tower::util::BoxCloneService<Request<()>, Response<()>, Infallible>;

fn echo()
-> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
}

/// The service behind the authentication layer alone: the baseline.
fn bare(validator: &Validator) -> Boxed {
    Boxed::new(
        ServiceBuilder::new()
            .layer(AuthLayer::new(validator.clone()))
            .service(echo()),
    )
}

/// The same, with `requirement` checked after authentication.
fn guarded<Q>(validator: &Validator, requirement: Q) -> Boxed
where
    Q: Requirement + Send + Sync + 'static,
{
    Boxed::new(
        ServiceBuilder::new()
            .layer(AuthLayer::new(validator.clone()))
            .layer(AuthzLayer::new(requirement))
            .service(echo()),
    )
}

fn bench_authz(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let setup = setup();
    let request = |path: &str| {
        Request::get(path)
            .header("authorization", setup.header.as_str())
            .body(())
            .unwrap()
    };
    let run = |svc: &Boxed, path: &str| {
        let response = rt.block_on(svc.clone().oneshot(request(path))).unwrap();
        assert_eq!(response.status(), 200);
    };
    let v = &setup.validator;

    let mut group = c.benchmark_group("authz/rules");
    let baseline = bare(v);
    for n in [10usize, 100, 1000] {
        let path = format!("/api/v1/svc{}/items/42", n - 2);
        group.bench_with_input(BenchmarkId::new("no authorization", n), &path, |b, path| {
            b.iter(|| run(&baseline, path))
        });
        let svc = guarded(v, table(n));
        group.bench_with_input(BenchmarkId::new("rule table", n), &path, |b, path| {
            b.iter(|| run(&svc, path))
        });
    }
    group.finish();

    // One decision three ways: "GET /orders/* needs scope orders:read and tenant acme".
    let mut group = c.benchmark_group("authz/one decision");
    let path = "/orders/42";
    group.bench_function("no authorization", |b| b.iter(|| run(&baseline, path)));
    let rules = RuleTable::builder()
        .rule(
            Rule::new("orders")
                .methods(["GET"])
                .path("/orders/*")
                .require(require::all([
                    require::scopes_any(["orders:read"]),
                    require::claim("tenant").equals("acme"),
                ])),
        )
        .build()
        .unwrap();
    let by_rules = guarded(v, rules);
    group.bench_function("rule table", |b| b.iter(|| run(&by_rules, path)));
    policies(&rt, &mut group, v, &run, path);
    group.finish();
}

#[cfg(all(feature = "rego", feature = "opa"))]
fn policies(
    rt: &tokio::runtime::Runtime,
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    v: &Validator,
    run: &dyn Fn(&Boxed, &str),
    path: &str,
) {
    use meshward::authz::{OpaPolicy, RegoPolicy};
    const POLICY: &str = r#"
        package bench
        import rego.v1
        default allow := false
        allow if {
            input.request.method == "GET"
            regex.match(`^/orders/[^/]+$`, input.request.path)
            "orders:read" in input.principal.scopes
            input.principal.claims.tenant == "acme"
        }
    "#;
    let rego = RegoPolicy::builder("data.bench.allow")
        .add_policy("bench.rego", POLICY)
        .build()
        .unwrap();
    let by_rego = guarded(v, rego);
    group.bench_function("rego in process", |b| b.iter(|| run(&by_rego, path)));

    // A decision point on loopback that always allows; after the first request every
    // decision comes from the cache.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/v1/data/bench/allow",
        axum::routing::post(|| async { axum::Json(json!({"result": true})) }),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let opa = OpaPolicy::builder(format!("http://{addr}"), "bench/allow")
        .allow_insecure_http()
        .decision_cache(10_000, std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let by_opa = guarded(v, opa);
    run(&by_opa, path);
    group.bench_function("OPA, decision cached", |b| b.iter(|| run(&by_opa, path)));
}

#[cfg(not(all(feature = "rego", feature = "opa")))]
fn policies(
    _: &tokio::runtime::Runtime,
    _: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    _: &Validator,
    _: &dyn Fn(&Boxed, &str),
    _: &str,
) {
    eprintln!("the Rego and OPA benchmarks need --features rego,opa");
}

criterion_group!(benches, bench_authz);
criterion_main!(benches);
