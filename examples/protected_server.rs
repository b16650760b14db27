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
//! | `MESHWARD_JWKS_FILE` | a JWKS document on disk with the issuer's public keys | see below |
//! | `MESHWARD_JWKS_URL` | a JWKS URL to fetch the issuer's keys from (kept fresh in the background) | see below |
//! | `MESHWARD_ALLOW_HTTP` | `1` to allow `http://` key URLs (loopback and development only) | off |
//!
//! Keys come from `MESHWARD_JWKS_FILE` if set, else from `MESHWARD_JWKS_URL`, else through
//! OpenID Connect discovery from `MESHWARD_ISSUER` (`/.well-known/openid-configuration`).
//! Remote keys are loaded at start (`warm_up`); if the provider is unreachable then, the
//! server still starts and answers 503 until the keys can be had.
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
use meshward::jwt::{AuthLayer, KeySet, KeySource, RemoteKeySourceBuilder, Validator};
use meshward::{DefaultRejectionResponse, Principal};
use serde_json::{Value, json};

struct Config {
    listen: SocketAddr,
    issuer: String,
    audiences: Vec<String>,
    keys: Keys,
    allow_http: bool,
}

enum Keys {
    File(String),
    Url(String),
    Discovery,
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
    if audiences.is_empty() {
        return Err("MESHWARD_AUDIENCE names no audience".into());
    }
    let keys = match (var("MESHWARD_JWKS_FILE"), var("MESHWARD_JWKS_URL")) {
        (Some(file), _) => Keys::File(file),
        (None, Some(url)) => Keys::Url(url),
        (None, None) => Keys::Discovery,
    };
    let allow_http = match var("MESHWARD_ALLOW_HTTP").as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(format!("MESHWARD_ALLOW_HTTP={other:?}: use 1 or 0")),
    };
    Ok(Config {
        listen,
        issuer,
        audiences,
        keys,
        allow_http,
    })
}

async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "iss": principal.issuer(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

fn key_source(config: &Config) -> Result<KeySource, String> {
    let remote = |builder: RemoteKeySourceBuilder, what: &str| {
        let builder = if config.allow_http {
            builder.allow_insecure_http()
        } else {
            builder
        };
        builder.build().map_err(|e| format!("{what}: {e}"))
    };
    match &config.keys {
        Keys::File(file) => KeySet::from_jwks_file(file)
            .map(KeySource::from_keys)
            .map_err(|e| format!("MESHWARD_JWKS_FILE={file:?}: {e}")),
        Keys::Url(url) => remote(KeySource::jwks(url), &format!("MESHWARD_JWKS_URL={url:?}")),
        Keys::Discovery => remote(
            KeySource::discovery(&config.issuer),
            "discovery from MESHWARD_ISSUER",
        ),
    }
}

fn validator(config: &Config) -> Result<Validator, String> {
    Validator::builder(config.issuer.clone(), config.audiences.clone())
        .key_source(key_source(config)?)
        .build()
        .map_err(|e| format!("invalid configuration: {e}"))
}

fn app(validator: Validator, config: &Config) -> Router {
    let auth = AuthLayer::new(validator)
        .with_rejection_response(DefaultRejectionResponse::new().realm(config.issuer.clone()));
    let protected = Router::new()
        .route(
            "/admin",
            get(whoami).route_layer(RequireScopesLayer::all(["admin"])),
        )
        .route("/whoami", get(whoami))
        .layer(auth);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
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
    let validator = match validator(&config) {
        Ok(validator) => validator,
        Err(message) => {
            eprintln!("protected_server: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = validator.warm_up().await {
        eprintln!("protected_server: keys not loaded yet ({e}); answering 503 until they are");
    }
    let app = app(validator, &config);
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
