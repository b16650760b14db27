//! The quota check per request: a `QuotaLayer` on the in-memory store and on a real
//! `redis-server` on loopback, each against the same service with no quota. Every subject
//! runs behind the same cached `AuthLayer` (the quota counts per subject, read from the
//! principal that layer inserts), so the difference is the quota alone; the quota is large
//! enough that every request is allowed.
//!
//! Run with `cargo bench --bench quota --all-features` (the Redis subject needs
//! `redis-server` on the PATH; without it, it is left out with a line saying so).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::quota::{Limit, LimitBuilder, QuotaKey, QuotaLayer};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";

type Boxed = tower::util::BoxCloneService<Request<()>, Response<()>, Infallible>;

fn setup() -> (Validator, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let verifying = VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-1234", "scope": "orders:read",
        "iat": now, "exp": now + 3600,
    });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &encoding).unwrap();
    let validator = Validator::builder(ISS, [AUD])
        .add_key(verifying)
        .build()
        .unwrap();
    (validator, format!("Bearer {token}"))
}

/// A million requests a second per subject, as many at once: never refused here.
fn generous() -> LimitBuilder {
    Limit::builder()
        .requests(1_000_000, Duration::from_secs(1))
        .burst(1_000_000)
        .key(QuotaKey::Subject)
}

/// The same service and authentication layer, with `quota` or with a layer that passes
/// requests on as they are: the same structure in baseline and subject.
fn service(validator: &Validator, quota: Option<QuotaLayer>) -> Boxed {
    let echo = tower::service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let auth = AuthLayer::new(validator.clone());
    match quota {
        Some(quota) => Boxed::new(ServiceBuilder::new().layer(auth).layer(quota).service(echo)),
        None => Boxed::new(
            ServiceBuilder::new()
                .layer(auth)
                .layer(tower::layer::util::Identity::new())
                .service(echo),
        ),
    }
}

fn bench_quota(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (validator, header) = setup();
    let run = |svc: &Boxed| {
        let request = Request::get("/orders")
            .header("authorization", header.as_str())
            .body(())
            .unwrap();
        let response = rt.block_on(svc.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), 200);
    };
    let mut group = c.benchmark_group("quota");
    let baseline = service(&validator, None);
    run(&baseline);
    group.bench_function("no quota", |b| b.iter(|| run(&baseline)));
    let memory = service(
        &validator,
        Some(QuotaLayer::new(generous().build().unwrap())),
    );
    run(&memory);
    group.bench_function("quota in memory", |b| b.iter(|| run(&memory)));
    redis(&rt, &mut group, &validator, &run);
    group.finish();
}

#[cfg(feature = "redis")]
fn redis(
    rt: &tokio::runtime::Runtime,
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    validator: &Validator,
    run: &dyn Fn(&Boxed),
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("quota on Redis: left out, redis-server is not on the PATH");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}/");
    let _guard = rt.enter();
    let store = meshward::state::RedisState::builder(url).build().unwrap();
    let on_redis = service(
        validator,
        Some(QuotaLayer::new(generous().state(store).build().unwrap())),
    );
    // Wait for the server, then warm the connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run(&on_redis);
    group.bench_function("quota on Redis (loopback)", |b| b.iter(|| run(&on_redis)));
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(not(feature = "redis"))]
fn redis(
    _: &tokio::runtime::Runtime,
    _: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    _: &Validator,
    _: &dyn Fn(&Boxed),
) {
    eprintln!("quota on Redis: left out, build with --features redis");
}

criterion_group!(benches, bench_quota);
criterion_main!(benches);
