//! Service tokens: minting against raw `jsonwebtoken::encode` of the same claims, a reused
//! mint, and chain verification at depth 1, 2 and 3 against the raw signature checks it
//! needs. Run with `cargo bench --bench mint`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use meshward::Principal;
use meshward::jwt::{KeySet, KeySource, Validator, VerifyingKey};
use meshward::mint::{ServiceSigner, ServiceTokenVerifier, SigningKey};
use serde_json::{Value, json};

const IDP: &str = "https://id.bench";
const API: &str = "shop-api";
const IDS: [&str; 4] = [
    "spiffe://bench.test/ns/edge/sa/gateway",
    "spiffe://bench.test/ns/shop/sa/orders",
    "spiffe://bench.test/ns/shop/sa/inventory",
    "spiffe://bench.test/ns/shop/sa/warehouse",
];

struct Party {
    pem: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

fn party(kid: &str) -> Party {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pem = pair.serialize_pem();
    Party {
        encoding: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        decoding: DecodingKey::from_ec_pem(pair.public_key_pem().as_bytes()).unwrap(),
        pem,
        kid: kid.to_owned(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A typical access token: about 800 bytes.
fn user_token(idp: &Party) -> String {
    let now = now();
    let claims = json!({
        "iss": IDP, "aud": API, "sub": "user-1234", "scope": "orders:read orders:write",
        "iat": now, "nbf": now, "exp": now + 3600, "jti": "b0c1d2e3f4a5b6c7d8e9",
        "client_id": "shop-web", "tenant": "acme", "email": "user-1234@example.com",
        "name": "A. User", "roles": ["customer", "beta"], "amr": ["pwd", "otp"],
        "session": "s-2f1a9c3e8d7b6a5f4e3d2c1b0a9f8e7d", "auth_time": now - 60,
        "acr": "urn:example:loa:2", "locale": "en-GB", "zoneinfo": "Europe/London",
        "org": {"id": "org-42", "name": "Acme Corporation", "plan": "enterprise"}
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(idp.kid.clone());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&header, &claims, &idp.encoding).unwrap()
}

fn users(idp: &Party, cache: u64) -> Validator {
    let pair = rcgen::KeyPair::from_pem(&idp.pem).unwrap();
    Validator::builder(IDP, [API])
        .add_key(
            VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes())
                .unwrap()
                .with_kid(&idp.kid),
        )
        .token_cache_capacity(cache)
        .build()
        .unwrap()
}

fn signer(p: &Party, id: &str, cache: u64) -> ServiceSigner {
    ServiceSigner::builder(
        id,
        SigningKey::from_pem(p.pem.as_bytes(), Algorithm::ES256)
            .unwrap()
            .with_kid(&p.kid),
    )
    .minted_token_cache(cache)
    .build()
    .unwrap()
}

fn verifier(me: &str, signers: &[ServiceSigner], idp: &Party, cache: u64) -> ServiceTokenVerifier {
    let mut b = ServiceTokenVerifier::builder(me)
        .user_tokens(users(idp, cache))
        .token_cache_capacity(cache);
    for s in signers {
        b = b.trust_service(
            s.identity(),
            KeySource::from_keys(KeySet::from_jwks_json(&s.published_jwks().to_string()).unwrap()),
        );
    }
    b.build().unwrap()
}

/// The raw cost of the signatures a chain of `depth` service tokens needs: one ES256 check
/// per service token and one for the access token.
fn raw_checks(tokens: &[(String, &Party)]) {
    for (token, party) in tokens {
        let (input, signature) = token.rsplit_once('.').unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                signature,
                input.as_bytes(),
                &party.decoding,
                Algorithm::ES256
            )
            .unwrap()
        );
    }
}

/// The embedded token of a compact JWS's claims.
fn subject_token(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["subject_token"].as_str().unwrap().to_owned()
}

fn bench_mint(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let idp = party("idp-1");
    let parties: Vec<Party> = (0..4).map(|i| party(&format!("svc-{i}"))).collect();
    let user = user_token(&idp);
    let alice: Principal = rt.block_on(users(&idp, 0).validate(&user)).unwrap();

    // Minting: uncached against jsonwebtoken::encode of the same claims and header.
    let mut group = c.benchmark_group("mint_ES256");
    let uncached = signer(&parties[0], IDS[0], 0);
    let sample = uncached.mint(&alice, IDS[1]).unwrap();
    let claims: Value = {
        use base64::Engine as _;
        let payload = sample.as_str().split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(parties[0].kid.clone());
    header.typ = Some("svc+jwt".into());
    group.bench_function("jsonwebtoken::encode (baseline)", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), &parties[0].encoding).unwrap())
    });
    group.bench_function("ServiceSigner::mint, uncached", |b| {
        b.iter(|| uncached.mint(black_box(&alice), IDS[1]).unwrap())
    });
    let cached = signer(&parties[0], IDS[0], 10_000);
    cached.mint(&alice, IDS[1]).unwrap();
    group.bench_function("ServiceSigner::mint, reused", |b| {
        b.iter(|| cached.mint(black_box(&alice), IDS[1]).unwrap())
    });
    group.finish();

    // A chain of three hops, minted for real.
    let signers: Vec<ServiceSigner> = parties
        .iter()
        .zip(IDS)
        .map(|(p, id)| signer(p, id, 0))
        .collect();
    let mut hops: Vec<String> = Vec::new();
    let mut principal = alice.clone();
    for depth in 0..3 {
        let token = signers[depth].mint(&principal, IDS[depth + 1]).unwrap();
        hops.push(token.as_str().to_owned());
        principal = rt
            .block_on(verifier(IDS[depth + 1], &signers[..=depth], &idp, 0).verify(token.as_str()))
            .unwrap();
    }
    eprintln!(
        "token sizes: access token {} B; hop 1 {} B; hop 2 {} B; hop 3 {} B",
        user.len(),
        hops[0].len(),
        hops[1].len(),
        hops[2].len()
    );

    for depth in 1..=3 {
        let mut group = c.benchmark_group(format!("chain_depth_{depth}"));
        let outer = hops[depth - 1].clone();
        // The signed tokens at every level, outermost first, with their signers.
        let mut levels: Vec<(String, &Party)> = Vec::new();
        let mut token = outer.clone();
        for level in (0..depth).rev() {
            levels.push((token.clone(), &parties[level]));
            token = subject_token(&token);
        }
        levels.push((token, &idp));
        group.bench_function("raw signature checks (baseline)", |b| {
            b.iter(|| raw_checks(black_box(&levels)))
        });
        let me = IDS[depth];
        let cold = verifier(me, &signers[..depth], &idp, 0);
        group.bench_function("ServiceTokenVerifier, uncached", |b| {
            b.iter(|| rt.block_on(cold.verify(black_box(&outer))).unwrap())
        });
        let warm = verifier(me, &signers[..depth], &idp, 10_000);
        rt.block_on(warm.verify(&outer)).unwrap();
        group.bench_function("ServiceTokenVerifier, cached", |b| {
            b.iter(|| rt.block_on(warm.verify(black_box(&outer))).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench_mint);
criterion_main!(benches);
