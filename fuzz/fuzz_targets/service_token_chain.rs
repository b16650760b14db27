//! Service-token chains with any claims: the fuzz input is the claim set of a service token
//! that `gateway` signs for `orders` (its own EdDSA key, so the signature passes) and of the
//! end user's token it may embed (signed with the identity provider's HMAC key), so that
//! every check of the chain is reached: subjects, scopes, actors, nesting, depth, size.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use meshward::jwt::{KeySet, KeySource, Validator};
use meshward::mint::{ServiceSigner, ServiceTokenVerifier, SigningKey};
use serde_json::Value;

const GATEWAY: &str = "spiffe://fuzz.test/gateway";
const ORDERS: &str = "spiffe://fuzz.test/orders";
const IDP_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

struct Fixture {
    verifier: ServiceTokenVerifier,
    gateway: EncodingKey,
    kid: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let pem = pair.serialize_pem();
        let key = SigningKey::from_pem(pem.as_bytes(), Algorithm::EdDSA).unwrap();
        let kid = key.kid().to_owned();
        let signer = ServiceSigner::builder(GATEWAY, key).build().unwrap();
        let keys = KeySet::from_jwks_json(&signer.published_jwks().to_string()).unwrap();
        let users = Validator::builder("https://idp.fuzz", ["shop"])
            .add_hmac_secret(IDP_SECRET, Algorithm::HS256)
            .token_cache_capacity(0)
            .build()
            .unwrap();
        let verifier = ServiceTokenVerifier::builder(ORDERS)
            .trust_service(GATEWAY, KeySource::from_keys(keys))
            .user_tokens(users)
            .token_cache_capacity(0)
            .build()
            .unwrap();
        Fixture {
            verifier,
            gateway: EncodingKey::from_ed_der(pair.serialized_der()),
            kid,
        }
    })
}

fn sign(header: &Value, claims: &[u8], key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // The first byte splits the input into the service token's claims and the user's.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = (usize::from(split) * 4).min(rest.len());
    let (outer, inner) = rest.split_at(split);
    let user = sign(
        &serde_json::json!({"alg": "HS256", "typ": "at+jwt"}),
        inner,
        &EncodingKey::from_secret(IDP_SECRET),
        Algorithm::HS256,
    );
    // When the outer claims are a JSON object, the user's token is embedded unless the
    // object names a subject_token of its own.
    let outer = match serde_json::from_slice::<Value>(outer) {
        Ok(Value::Object(mut claims)) => {
            claims
                .entry("subject_token")
                .or_insert_with(|| Value::String(user.clone()));
            serde_json::to_vec(&claims).unwrap()
        }
        _ => outer.to_vec(),
    };
    let token = sign(
        &serde_json::json!({"alg": "EdDSA", "kid": f.kid, "typ": "svc+jwt"}),
        &outer,
        &f.gateway,
        Algorithm::EdDSA,
    );
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let _ = runtime.block_on(f.verifier.verify(&token));
});
