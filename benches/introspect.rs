//! An opaque token answered from the introspection cache against a JWT answered from the
//! verified-token cache: the same service behind the same `AuthLayer`, with an
//! `Introspector` (its endpoint a stand-in on loopback, asked once) or a `Validator`.
//!
//! Run with `cargo bench --bench introspect --all-features`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::introspect::Introspector;
use meshward::jwt::{AuthLayer, Validator, Verifier, VerifyingKey};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";

type Boxed = tower::util::BoxCloneService<Request<()>, Response<()>, Infallible>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn service<V: Verifier + std::fmt::Debug>(verifier: V) -> Boxed {
    Boxed::new(
        ServiceBuilder::new()
            .layer(AuthLayer::new(verifier))
            .service(tower::service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(()))
            })),
    )
}

fn bench_introspect(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    // A JWT of the same claims, cached after its first validation.
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-1234", "scope": "orders:read",
        "iat": now(), "exp": now() + 3600,
    });
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &encoding).unwrap();
    let validator = Validator::builder(ISS, [AUD])
        .add_key(VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes()).unwrap())
        .build()
        .unwrap();

    // The stand-in endpoint: always active, the same claims.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = json!({"active": true, "iss": ISS, "aud": AUD, "sub": "user-1234",
                        "scope": "orders:read", "iat": now(), "exp": now() + 3600,
                        "token_type": "Bearer"});
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move || {
            let answer = answer.clone();
            async move { axum::Json(answer) }
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let introspector = Introspector::builder(ISS, [AUD])
        .endpoint(format!("http://{addr}/introspect"))
        .client_secret_basic("bench", "secret")
        .allow_insecure_http()
        .cache_ceiling(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let opaque = "2YotnFZFEjr1zCsicMWpAA-an-opaque-reference-token-of-typical-length";

    let run = |svc: &Boxed, token: &str| {
        let request = Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let response = rt.block_on(svc.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), 200);
    };
    let by_jwt = service(validator);
    let by_introspection = service(introspector.clone());
    run(&by_jwt, &jwt);
    run(&by_introspection, opaque);
    assert_eq!(introspector.stats().introspections, 1);

    let mut group = c.benchmark_group("introspect");
    group.bench_function("JWT, cached", |b| b.iter(|| run(&by_jwt, &jwt)));
    group.bench_function("opaque, introspection cached", |b| {
        b.iter(|| run(&by_introspection, opaque))
    });
    group.finish();
    assert_eq!(
        introspector.stats().introspections,
        1,
        "every one a cache hit"
    );
}

criterion_group!(benches, bench_introspect);
criterion_main!(benches);
