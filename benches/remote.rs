//! Remote keys: cold-start burst, random-kid flood, and the key lookup on the hot path,
//! each against a baseline measured in the same run. A JWKS server runs on 127.0.0.1.
//! Run with `cargo bench --bench remote`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::jwt::{KeySet, KeySource, Validator};
use serde_json::json;

const ISS: &str = "https://issuer.bench";
const AUD: &str = "bench";

struct Fixture {
    rt: tokio::runtime::Runtime,
    url: String,
    hits: Arc<AtomicUsize>,
    jwks: String,
    encoding: EncodingKey,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let jwks = json!({ "keys": [jwk] }).to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let served = jwks.clone();
    let counter = Arc::clone(&hits);
    let url = rt.block_on(async move {
        let app = Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                let body = served.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/jwks")
    });
    Fixture {
        rt,
        url,
        hits,
        jwks,
        encoding,
    }
}

fn token(f: &Fixture, kid: &str, sub: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    let claims = json!({"iss": ISS, "aud": AUD, "sub": sub, "exp": now + 3600, "iat": now});
    jsonwebtoken::encode(&header, &claims, &f.encoding).unwrap()
}

fn remote(f: &Fixture, cache: u64) -> Validator {
    let source = KeySource::jwks(&f.url)
        .allow_insecure_http()
        .build()
        .unwrap();
    Validator::builder(ISS, [AUD])
        .key_source(source)
        .token_cache_capacity(cache)
        .build()
        .unwrap()
}

fn stat(f: &Fixture, cache: u64) -> Validator {
    Validator::builder(ISS, [AUD])
        .add_keys(KeySet::from_jwks_json(&f.jwks).unwrap())
        .token_cache_capacity(cache)
        .build()
        .unwrap()
}

/// 1000 concurrent validations of distinct tokens, all spawned at once.
async fn burst(v: &Validator, tokens: &Arc<Vec<String>>) {
    let mut tasks = Vec::with_capacity(tokens.len());
    for i in 0..tokens.len() {
        let v = v.clone();
        let tokens = Arc::clone(tokens);
        tasks.push(tokio::spawn(
            async move { v.validate(&tokens[i]).await.is_ok() },
        ));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
}

fn bench_remote(c: &mut Criterion) {
    let f = fixture();
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| token(&f, "k1", &format!("u{i}")))
            .collect(),
    );

    let mut group = c.benchmark_group("cold_start_burst_1000");
    group.sample_size(10);
    group.bench_function("warm validator (baseline)", |b| {
        let v = remote(&f, 0);
        f.rt.block_on(v.warm_up()).unwrap();
        b.iter(|| f.rt.block_on(burst(&v, &tokens)));
    });
    group.bench_function("cold validator (one fetch)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let v = remote(&f, 0);
                let before = f.hits.load(Ordering::Relaxed);
                let started = Instant::now();
                f.rt.block_on(burst(&v, &tokens));
                total += started.elapsed();
                assert_eq!(
                    f.hits.load(Ordering::Relaxed) - before,
                    1,
                    "one fetch per cold burst"
                );
            }
            total
        });
    });
    group.finish();

    let mut group = c.benchmark_group("hot_path_ES256");
    let static_uncached = stat(&f, 0);
    let remote_uncached = remote(&f, 0);
    f.rt.block_on(remote_uncached.warm_up()).unwrap();
    let t = &tokens[0];
    group.bench_function("static keys, uncached", |b| {
        b.iter(|| {
            f.rt.block_on(static_uncached.validate(black_box(t)))
                .unwrap()
        })
    });
    group.bench_function("remote keys, uncached", |b| {
        b.iter(|| {
            f.rt.block_on(remote_uncached.validate(black_box(t)))
                .unwrap()
        })
    });
    let static_cached = stat(&f, 10_000);
    let remote_cached = remote(&f, 10_000);
    f.rt.block_on(remote_cached.warm_up()).unwrap();
    group.bench_function("static keys, cached", |b| {
        b.iter(|| f.rt.block_on(static_cached.validate(black_box(t))).unwrap())
    });
    group.bench_function("remote keys, cached", |b| {
        b.iter(|| f.rt.block_on(remote_cached.validate(black_box(t))).unwrap())
    });
    group.finish();

    // Baseline and subject are the same validator (remote keys, token cache on): the
    // baseline validates a valid token it has never seen (a cache miss, then the signature),
    // the subject a token naming a kid the set does not have.
    let mut group = c.benchmark_group("random_kid_flood");
    let v = remote(&f, 10_000);
    f.rt.block_on(v.warm_up()).unwrap();
    let fresh = std::cell::Cell::new(0u64);
    group.bench_function("valid token, never seen (baseline)", |b| {
        b.iter_batched(
            || {
                fresh.set(fresh.get() + 1);
                token(&f, "k1", &format!("fresh-{}", fresh.get()))
            },
            |t| f.rt.block_on(v.validate(black_box(&t))).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    let flood: Vec<String> = (0..10_000)
        .map(|i| token(&f, &format!("random-{i}"), "x"))
        .collect();
    let before = f.hits.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut requests = 0u64;
    group.bench_function("random kid, refused", |b| {
        b.iter(|| {
            requests += 1;
            let t = &flood[(requests % flood.len() as u64) as usize];
            f.rt.block_on(v.validate(black_box(t))).unwrap_err()
        })
    });
    group.finish();
    let fetched = (f.hits.load(Ordering::Relaxed) - before) as u64;
    let cooldowns = started.elapsed().as_secs() / 30 + 1;
    eprintln!(
        "random-kid flood: {requests} requests ({} distinct kids) in {:.1} s caused {fetched} fetch(es)",
        flood.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        (1..=cooldowns).contains(&fetched),
        "one fetch per 30 s cooldown at most: {fetched} fetches in {cooldowns} cooldown(s)"
    );
}

criterion_group!(benches, bench_remote);
criterion_main!(benches);
