//! The cached path, step by step: what a request whose token was verified before costs in
//! an `AuthLayer`, against the same service without it, for a typical 800-byte RS256 access
//! token and a 3-hop service token; and the steps it is made of, each on its own.
//! Run with `cargo bench --bench cached_path`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::Principal;
use meshward::jwt::{AuthLayer, KeySet, KeySource, Validator, VerifyingKey};
use meshward::mint::{ServiceSigner, ServiceTokenVerifier, SigningKey};
use serde_json::json;
use tower::{Service, ServiceBuilder, ServiceExt};

const IDP: &str = "https://id.bench";
const API: &str = "shop-api";
const IDS: [&str; 4] = [
    "spiffe://bench.test/ns/edge/sa/gateway",
    "spiffe://bench.test/ns/shop/sa/orders",
    "spiffe://bench.test/ns/shop/sa/inventory",
    "spiffe://bench.test/ns/shop/sa/warehouse",
];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A typical RS256 access token of about 800 bytes, and the validator that accepts it.
fn access_token() -> (String, Validator) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let now = now();
    let claims = json!({
        "iss": IDP, "aud": API, "sub": "user-1234", "scope": "orders:read orders:write",
        "iat": now, "nbf": now, "exp": now + 3600, "jti": "b0c1d2e3f4a5b6c7d8e9",
        "client_id": "shop-web", "tenant": "acme", "email": "user-1234@example.com",
        "roles": ["customer", "beta"], "auth_time": now - 60, "acr": "urn:example:loa:2",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("idp-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    let key = VerifyingKey::from_rsa_pem(pair.public_key_pem().as_bytes())
        .unwrap()
        .with_kid("idp-1");
    let validator = Validator::builder(IDP, [API]).add_key(key).build().unwrap();
    (token, validator)
}

/// A 3-hop service token (gateway → orders → inventory → warehouse) over an ES256 access
/// token, and the warehouse's verifier.
fn service_token(rt: &tokio::runtime::Runtime) -> (String, ServiceTokenVerifier) {
    let idp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let users = Validator::builder(IDP, [API])
        .add_key(
            VerifyingKey::from_ec_pem(idp.public_key_pem().as_bytes())
                .unwrap()
                .with_kid("idp-1"),
        )
        .build()
        .unwrap();
    let now = now();
    let claims = json!({
        "iss": IDP, "aud": API, "sub": "user-1234", "scope": "orders:read",
        "iat": now, "exp": now + 3600, "jti": "u-1",
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("idp-1".into());
    let user = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(idp.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    let signers: Vec<ServiceSigner> = IDS
        .iter()
        .map(|id| {
            ServiceSigner::builder(*id, SigningKey::generate(Algorithm::ES256).unwrap())
                .build()
                .unwrap()
        })
        .collect();
    let verifier = |me: &str| {
        let mut b = ServiceTokenVerifier::builder(me).user_tokens(users.clone());
        for s in &signers {
            let keys = KeySet::from_jwks_json(&s.published_jwks().to_string()).unwrap();
            b = b.trust_service(s.identity(), KeySource::from_keys(keys));
        }
        b.build().unwrap()
    };
    let mut principal: Principal = rt.block_on(users.validate(&user)).unwrap();
    let mut token = String::new();
    for hop in 0..3 {
        token = signers[hop]
            .mint(&principal, IDS[hop + 1])
            .unwrap()
            .as_str()
            .to_owned();
        principal = rt.block_on(verifier(IDS[hop + 1]).verify(&token)).unwrap();
    }
    (token, verifier(IDS[3]))
}

/// The bare service and the same service behind `layer`, one request each, in one group.
fn layer_pair<L>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, token: &str, layer: L)
where
    L: tower::Layer<
            tower::util::ServiceFn<
                fn(Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>>,
            >,
        >,
    L::Service: Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone,
{
    fn echo(_: Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>> {
        std::future::ready(Ok(Response::new(())))
    }
    let header = format!("Bearer {token}");
    let request = || {
        Request::get("/")
            .header("authorization", header.as_str())
            .body(())
            .unwrap()
    };
    let mut group = c.benchmark_group(format!("cached_path/{name}"));
    let bare = tower::service_fn(echo as fn(_) -> _);
    group.bench_function("bare service", |b| {
        b.iter(|| rt.block_on(bare.oneshot(request())).unwrap())
    });
    let guarded = ServiceBuilder::new().layer(layer).service(bare);
    let first = rt.block_on(guarded.clone().oneshot(request())).unwrap();
    assert_eq!(first.status(), 200);
    group.bench_function("AuthLayer, token cached", |b| {
        b.iter(|| rt.block_on(guarded.clone().oneshot(request())).unwrap())
    });
    group.finish();
}

fn bench_cached_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (token, validator) = access_token();
    println!("access token: {} bytes", token.len());

    // The steps, each on its own.
    let mut group = c.benchmark_group("cached_path/steps");
    group.bench_function("token key: SHA-256 (aws-lc-rs)", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(&token).as_bytes())
        })
    });
    let seeded = foldhash::quality::RandomState::default();
    group.bench_function("token key: foldhash", |b| {
        b.iter(|| seeded.hash_one(black_box(token.as_str())))
    });
    let principal = rt.block_on(validator.validate(&token)).unwrap();
    group.bench_function("Validator::validate, cached", |b| {
        b.iter(|| rt.block_on(validator.validate(black_box(&token))).unwrap())
    });
    group.bench_function("Principal into the request's extensions", |b| {
        b.iter(|| {
            let mut request = Request::new(());
            request.extensions_mut().insert(principal.clone());
            request
        })
    });
    group.bench_function("Request without extensions (baseline)", |b| {
        b.iter(|| Request::new(()))
    });
    group.finish();

    // The whole layer against the same service without it.
    layer_pair(
        c,
        &rt,
        "layer, RS256 access token",
        &token,
        AuthLayer::new(validator.clone()),
    );
    let (chain, verifier) = service_token(&rt);
    println!("3-hop service token: {} bytes", chain.len());
    group_chain(c, &rt, &chain, &verifier);
    layer_pair(
        c,
        &rt,
        "layer, 3-hop service token",
        &chain,
        AuthLayer::new(verifier),
    );
}

fn group_chain(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    chain: &str,
    verifier: &ServiceTokenVerifier,
) {
    rt.block_on(verifier.verify(chain)).unwrap();
    let mut group = c.benchmark_group("cached_path/steps");
    group.bench_function("ServiceTokenVerifier::verify 3 hops, cached", |b| {
        b.iter(|| rt.block_on(verifier.verify(black_box(chain))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_cached_path);
criterion_main!(benches);
