//! A development token issuer for trying `protected_server` without an identity provider:
//! makes an Ed25519 key, writes its public JWKS, and prints a signed access token.
//!
//! Run with `cargo run --example dev_token -- DIR [SCOPE…]`. It writes `DIR/jwks.json` and
//! prints one token valid for one hour, issued by `MESHWARD_ISSUER` (default
//! `https://dev.meshward.invalid`) for the first of `MESHWARD_AUDIENCE` (default `api`),
//! with subject `dev-user` and the given scopes. Then:
//!
//! ```text
//! MESHWARD_ISSUER=… MESHWARD_AUDIENCE=… MESHWARD_JWKS_FILE=DIR/jwks.json \
//!   cargo run --example protected_server --features axum
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/whoami
//! ```
//!
//! For development only: the private key is thrown away when the program ends.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: dev_token DIR [SCOPE…]")?;
    let scopes: Vec<String> = args.collect();
    let issuer =
        std::env::var("MESHWARD_ISSUER").unwrap_or_else(|_| "https://dev.meshward.invalid".into());
    let audience = std::env::var("MESHWARD_AUDIENCE")
        .ok()
        .and_then(|a| a.split(',').next().map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "api".into());

    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key_raw());
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "dev-1", "x": x}]});
    std::fs::create_dir_all(&dir)?;
    let path = std::path::Path::new(&dir).join("jwks.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&jwks)?)?;

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": issuer, "aud": audience, "sub": "dev-user", "scope": scopes.join(" "),
        "iat": now, "nbf": now, "exp": now + 3600,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("dev-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_der(pair.serialized_der()),
    )?;
    eprintln!("wrote {}", path.display());
    println!("{token}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dev_token: {e}");
            ExitCode::from(2)
        }
    }
}
