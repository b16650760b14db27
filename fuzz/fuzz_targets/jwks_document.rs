//! Any bytes as a JWKS document, as remote key sets read it, and as a string through the
//! public `KeySet::from_jwks_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshward::fuzz::jwks(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = meshward::jwt::KeySet::from_jwks_json(text);
    }
});
