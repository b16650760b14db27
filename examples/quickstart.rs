//! meshward in one process: an identity provider's key, a few tokens, an axum server
//! guarded by meshward, and a table of what got through.
//!
//! Run with `cargo run --example quickstart --features axum`. No outside service is needed:
//! the key is generated at start and the server listens on 127.0.0.1 on a free port.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::authz::RequireScopesLayer;
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::{DefaultRejectionResponse, Principal};
use serde_json::{Value, json};

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "orders";

async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The identity provider's signing key (here: a fresh P-256 key).
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let signing = EncodingKey::from_ec_pem(key_pair.serialize_pem().as_bytes())?;
    let public = VerifyingKey::from_ec_pem(key_pair.public_key_pem().as_bytes())?.with_kid("idp-1");

    // 2. The service: a validator for that issuer and audience, and an axum router behind it.
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(public)
        .build()?;
    let app = Router::new()
        .route(
            "/orders/admin",
            get(whoami).route_layer(RequireScopesLayer::all(["orders:admin"])),
        )
        .route("/orders", get(whoami))
        .layer(
            AuthLayer::new(validator)
                .with_rejection_response(DefaultRejectionResponse::new().realm("orders")),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    // 3. Tokens as a client would hold them.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let sign = |claims: Value| -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("idp-1".into());
        jsonwebtoken::encode(&header, &claims, &signing)
    };
    let claims = |sub: &str, aud: &str, scope: &str, exp: i64| json!({"iss": ISSUER, "aud": aud, "sub": sub, "scope": scope, "iat": now, "exp": exp});
    let valid = sign(claims("alice", AUDIENCE, "orders:read", now + 300))?;
    let admin = sign(claims(
        "root",
        AUDIENCE,
        "orders:read orders:admin",
        now + 300,
    ))?;
    let expired = sign(claims("alice", AUDIENCE, "orders:read", now - 600))?;
    let wrong_aud = sign(claims("alice", "payments", "orders:read", now + 300))?;
    let forged = format!("{}AAAA", &valid[..valid.len() - 4]);

    let cases: [(&str, &str, Option<&str>); 7] = [
        ("valid token", "/orders", Some(&valid)),
        ("no token", "/orders", None),
        ("expired token", "/orders", Some(&expired)),
        ("wrong audience", "/orders", Some(&wrong_aud)),
        ("forged signature", "/orders", Some(&forged)),
        ("missing scope", "/orders/admin", Some(&valid)),
        ("admin scope", "/orders/admin", Some(&admin)),
    ];

    // 4. Send them and show what the client saw.
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    println!("{:<18} {:<15} {:>6}  answer", "case", "path", "status");
    println!("{}", "-".repeat(100));
    for (name, path, token) in cases {
        let mut request = http::Request::get(format!("http://{addr}{path}"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = client.request(request.body(Empty::new())?).await?;
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().collect().await?.to_bytes();
        let answer = match challenge {
            Some(challenge) => challenge,
            None => String::from_utf8_lossy(&body).into_owned(),
        };
        println!("{name:<18} {path:<15} {:>6}  {answer}", status.as_u16());
    }

    let _ = stop.send(());
    server.await??;
    Ok(())
}
