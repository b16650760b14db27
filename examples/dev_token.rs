//! A development token issuer for trying `protected_server` (or the README's axum service)
//! without an identity provider: keeps an Ed25519 key in a folder, writes its public JWKS
//! beside it, and prints a signed access token (`typ` `at+jwt`).
//!
//! Run with `cargo run --example dev_token -- DIR [SCOPE…]`. The first run makes
//! `DIR/dev-key.pem` (the private key) and `DIR/jwks.json`; later runs reuse the key, so a
//! server that read `jwks.json` once keeps accepting every new token. It prints one token
//! valid for one hour, issued by `MESHWARD_ISSUER` (default `https://id.example.com`) for the
//! first of `MESHWARD_AUDIENCE` (default `orders`), the README's service's issuer and
//! audience, with subject `dev-user` and the given scopes:
//!
//! ```text
//! TOKEN=$(cargo run -q --example dev_token -- dev orders:read admin)
//! MESHWARD_ISSUER=https://id.example.com MESHWARD_AUDIENCE=orders \
//!   MESHWARD_JWKS_FILE=dev/jwks.json cargo run --example protected_server --features axum &
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/whoami
//! ```
//!
//! For development only: anyone who can read `DIR/dev-key.pem` can mint tokens.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const KID: &str = "dev-1";

/// The key in `dir`, made and saved on the first run.
fn key(dir: &std::path::Path) -> Result<rcgen::KeyPair, Box<dyn std::error::Error>> {
    let path = dir.join("dev-key.pem");
    match std::fs::read_to_string(&path) {
        Ok(pem) => Ok(rcgen::KeyPair::from_pem(&pem)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
            std::fs::write(&path, pair.serialize_pem())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
            eprintln!("made a key in {}", path.display());
            Ok(pair)
        }
        Err(e) => Err(format!("{}: {e}", path.display()).into()),
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: dev_token DIR [SCOPE…]")?;
    let scopes: Vec<String> = args.collect();
    let issuer =
        std::env::var("MESHWARD_ISSUER").unwrap_or_else(|_| "https://id.example.com".into());
    let audience = std::env::var("MESHWARD_AUDIENCE")
        .ok()
        .and_then(|a| a.split(',').next().map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "orders".into());

    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let pair = key(dir)?;
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key_raw());
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": KID, "x": x}]});
    let path = dir.join("jwks.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&jwks)?)?;

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": issuer, "aud": audience, "sub": "dev-user", "scope": scopes.join(" "),
        "iat": now, "nbf": now, "exp": now + 3600,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(KID.into());
    header.typ = Some("at+jwt".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_der(pair.serialized_der()),
    )?;
    eprintln!(
        "wrote {} (issuer {issuer}, audience {audience}, scopes {:?})",
        path.display(),
        scopes.join(" ")
    );
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
