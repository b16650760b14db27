//! A JWS whose header and claim set are any bytes, signed with the validator's own HMAC key
//! so that the signature passes and every check after it is reached.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use meshward::jwt::Validator;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        Validator::builder("https://issuer.fuzz", ["api"])
            .add_hmac_secret(SECRET, Algorithm::HS256)
            .token_cache_capacity(0)
            .max_token_lifetime(std::time::Duration::from_secs(86_400))
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte says where the header ends and the claims begin.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (header, claims) = rest.split_at(split);
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    let token = format!("{input}.{signature}");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let _ = runtime.block_on(validator().validate(&token));
});
