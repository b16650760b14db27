//! A meshward-protected HTTP server to point at your own identity provider.
//!
//! Run with `cargo run --example protected_server --features axum`, configured by
//! environment variables:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `MESHWARD_LISTEN` | address to listen on | `127.0.0.1:8080` |
//! | `MESHWARD_ISSUER` | the exact `iss` of accepted tokens | required |
//! | `MESHWARD_AUDIENCE` | accepted audiences, comma-separated | required |
//! | `MESHWARD_JWKS_FILE` | a JWKS document on disk with the issuer's public keys | required |
//!
//! Routes:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /healthz` | 200 `ok`, no token needed |
//! | `GET /whoami` | 200 with JSON `{sub, iss, scopes}` for any valid token |
//! | `GET /admin` | as `/whoami`, but the token must carry scope `admin` (else 403) |
//!
//! Refused requests get 401 (`WWW-Authenticate: Bearer …, error="invalid_token"`), 400 for a
//! malformed `Authorization` header, or 403 `insufficient_scope`. Set `RUST_LOG`-style
//! filtering through your own subscriber to see the `meshward::audit` events; this example
//! prints them at `info`.
//!
//! The process exits with status 2 and a message naming the variable when the
//! configuration is missing or wrong.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use meshward::authz::RequireScopesLayer;
use meshward::jwt::{AuthLayer, KeySet, Validator};
use meshward::{DefaultRejectionResponse, Principal};
use serde_json::{Value, json};

struct Config {
    listen: SocketAddr,
    issuer: String,
    audiences: Vec<String>,
    jwks_file: String,
}

fn config() -> Result<Config, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let listen = var("MESHWARD_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen
        .parse()
        .map_err(|e| format!("MESHWARD_LISTEN={listen:?} is not a socket address: {e}"))?;
    let issuer = var("MESHWARD_ISSUER")
        .ok_or("MESHWARD_ISSUER is required: the exact `iss` of the tokens to accept")?;
    let audiences: Vec<String> = var("MESHWARD_AUDIENCE")
        .ok_or("MESHWARD_AUDIENCE is required: the audiences to accept, comma-separated")?
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    let jwks_file = var("MESHWARD_JWKS_FILE")
        .ok_or("MESHWARD_JWKS_FILE is required: a JWKS document with the issuer's keys")?;
    Ok(Config {
        listen,
        issuer,
        audiences,
        jwks_file,
    })
}

async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "iss": principal.issuer(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

fn app(config: &Config) -> Result<Router, String> {
    let keys = KeySet::from_jwks_file(&config.jwks_file)
        .map_err(|e| format!("MESHWARD_JWKS_FILE={:?}: {e}", config.jwks_file))?;
    let validator = Validator::builder(config.issuer.clone(), config.audiences.clone())
        .add_keys(keys)
        .build()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    let auth = AuthLayer::new(validator)
        .with_rejection_response(DefaultRejectionResponse::new().realm(config.issuer.clone()));
    let protected = Router::new()
        .route(
            "/admin",
            get(whoami).route_layer(RequireScopesLayer::all(["admin"])),
        )
        .route("/whoami", get(whoami))
        .layer(auth);
    Ok(Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let app = match app(&config) {
        Ok(app) => app,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("protected_server: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "protected_server: listening on http://{} for issuer {} (audiences {:?})",
        config.listen, config.issuer, config.audiences
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("protected_server: {e}");
            ExitCode::FAILURE
        }
    }
}
