//! An outbound call whose token comes from the token exchange's reuse cache against one
//! whose token is self-issued and reused by the signer: the same client service behind the
//! same `MintLayer`, built with `from_source(TokenExchange)` (a stand-in token endpoint on
//! loopback, asked once) or with `new(ServiceSigner)`.
//!
//! Run with `cargo bench --bench exchange --all-features`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::Principal;
use meshward::exchange::TokenExchange;
use meshward::jwt::{Validator, VerifyingKey};
use meshward::mint::{MintLayer, ServiceSigner, SigningKey};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";
const TARGET: &str = "https://inventory.bench";

type Boxed = tower::util::BoxCloneService<Request<()>, Response<()>, tower::BoxError>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The outbound client: answers at once, after checking the token is there.
fn client()
-> impl tower::Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send>
+ Clone
+ Send {
    tower::service_fn(|request: Request<()>| async move {
        assert!(request.headers().contains_key("authorization"));
        Ok::<_, Infallible>(Response::new(()))
    })
}

fn bench_exchange(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let claims = json!({"iss": ISS, "aud": AUD, "sub": "user-1234", "scope": "orders:read",
                        "iat": now(), "exp": now() + 3600});
    let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &encoding).unwrap();
    let validator = Validator::builder(ISS, [AUD])
        .add_key(VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let principal: Principal = rt.block_on(validator.validate(&token)).unwrap();

    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|| async {
            axum::Json(
                json!({"access_token": "exchanged-token-of-typical-length-0123456789",
                              "token_type": "Bearer", "expires_in": 3600}),
            )
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let sts = TokenExchange::builder(ISS)
        .token_endpoint(format!("http://{addr}/token"))
        .client_secret_basic("bench", "secret")
        .allow_insecure_http()
        .build()
        .unwrap();
    let signer = ServiceSigner::builder(
        "https://orders.bench",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build()
    .unwrap();

    let by_signer = Boxed::new(
        ServiceBuilder::new()
            .layer(MintLayer::new(signer, TARGET))
            .service(client()),
    );
    let by_exchange = Boxed::new(
        ServiceBuilder::new()
            .layer(MintLayer::from_source(sts.clone(), TARGET))
            .service(client()),
    );
    let run = |svc: &Boxed| {
        let mut request = Request::get(TARGET).body(()).unwrap();
        request.extensions_mut().insert(principal.clone());
        rt.block_on(svc.clone().oneshot(request)).unwrap();
    };
    run(&by_signer);
    run(&by_exchange);
    assert_eq!(sts.stats().exchanges, 1);

    let mut group = c.benchmark_group("outbound token");
    group.bench_function("self-issued, reused", |b| b.iter(|| run(&by_signer)));
    group.bench_function("exchanged, reused", |b| b.iter(|| run(&by_exchange)));
    group.finish();
    assert_eq!(sts.stats().exchanges, 1, "every one from the cache");
}

criterion_group!(benches, bench_exchange);
criterion_main!(benches);
