//! Validator cost against raw `jsonwebtoken::decode`, cached against uncached, and the
//! AuthLayer against the bare service. Run with `cargo bench --bench validate`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";

struct Case {
    name: &'static str,
    alg: Algorithm,
    token: String,
    decoding: DecodingKey,
    verifying: VerifyingKey,
}

fn case(name: &'static str, alg: Algorithm) -> Case {
    let rcgen_alg = match alg {
        Algorithm::RS256 => &rcgen::PKCS_RSA_SHA256,
        Algorithm::ES256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        _ => &rcgen::PKCS_ED25519,
    };
    let pair = rcgen::KeyPair::generate_for(rcgen_alg).unwrap();
    let private = pair.serialize_pem();
    let public = pair.public_key_pem();
    let (encoding, decoding, verifying) = match alg {
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
            VerifyingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
            VerifyingKey::from_ec_pem(public.as_bytes()).unwrap(),
        ),
        _ => (
            EncodingKey::from_ed_der(pair.serialized_der()),
            DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
            VerifyingKey::from_ed_pem(public.as_bytes()).unwrap(),
        ),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-1234", "scope": "orders:read orders:write",
        "iat": now, "nbf": now, "exp": now + 3600, "jti": "b0c1d2e3",
        "tenant": "acme", "email": "user@example.com"
    });
    let token = jsonwebtoken::encode(&Header::new(alg), &claims, &encoding).unwrap();
    Case {
        name,
        alg,
        token,
        decoding,
        verifying,
    }
}

fn validator(case: &Case, cache: u64) -> Validator {
    Validator::builder(ISS, [AUD])
        .add_key(case.verifying.clone())
        .token_cache_capacity(cache)
        .build()
        .unwrap()
}

fn bench_validate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cases = [
        case("RS256", Algorithm::RS256),
        case("ES256", Algorithm::ES256),
        case("EdDSA", Algorithm::EdDSA),
    ];
    for case in &cases {
        let mut group = c.benchmark_group(format!("validate/{}", case.name));
        let mut raw = Validation::new(case.alg);
        raw.set_issuer(&[ISS]);
        raw.set_audience(&[AUD]);
        raw.validate_nbf = true;
        raw.leeway = 30;
        group.bench_function("jsonwebtoken::decode", |b| {
            b.iter(|| {
                rt.block_on(async {
                    jsonwebtoken::decode::<Value>(black_box(&case.token), &case.decoding, &raw)
                        .unwrap()
                })
            })
        });
        let uncached = validator(case, 0);
        group.bench_function("Validator uncached", |b| {
            b.iter(|| {
                rt.block_on(uncached.validate(black_box(&case.token)))
                    .unwrap()
            })
        });
        let cached = validator(case, 10_000);
        group.bench_function("Validator cached", |b| {
            b.iter(|| {
                rt.block_on(cached.validate(black_box(&case.token)))
                    .unwrap()
            })
        });
        group.finish();
    }

    let case = &cases[1];
    let mut group = c.benchmark_group("layer/ES256");
    let echo =
        || tower::service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let bare = echo();
    let header = format!("Bearer {}", case.token);
    let request = || {
        Request::get("/")
            .header("authorization", header.as_str())
            .body(())
            .unwrap()
    };
    group.bench_function("bare service", |b| {
        b.iter(|| rt.block_on(bare.oneshot(request())).unwrap())
    });
    let guarded = ServiceBuilder::new()
        .layer(AuthLayer::new(validator(case, 10_000)))
        .service(echo());
    group.bench_function("AuthLayer cached", |b| {
        b.iter(|| {
            let response = rt.block_on(guarded.clone().oneshot(request())).unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    let guarded_uncached = ServiceBuilder::new()
        .layer(AuthLayer::new(validator(case, 0)))
        .service(echo());
    group.bench_function("AuthLayer uncached", |b| {
        b.iter(|| {
            rt.block_on(guarded_uncached.clone().oneshot(request()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
