//! meshward in front of a tonic gRPC server, with a client in the same process.
//!
//! Run with `cargo run --example tonic_server --features tonic`.
//!
//! The server hosts the standard health service and a one-method `meshward.demo.WhoAmI`
//! service whose handler reads the `Principal` with [`RequestExt`]. `AuthLayer` and
//! `RequireScopesLayer` sit on the server as tower layers, so refused calls never reach
//! tonic's router and are answered with trailers-only gRPC statuses.

#[path = "support/unary.rs"]
mod unary;
use std::time::{SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary, call_unary};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::authz::RequireScopesLayer;
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::tonic::RequestExt;
use serde_json::json;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "inventory";
const WHOAMI: &str = "/meshward.demo.WhoAmI/Get";

/// A hand-written unary gRPC service: `Get(google.protobuf.Empty) returns (StringValue)`.
#[derive(Clone)]
struct WhoAmI;

impl ServiceName for WhoAmI {
    const NAME: &'static str = "meshward.demo.WhoAmI";
}

async fn who_am_i_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let principal = request
        .principal()
        .ok_or_else(|| Status::unauthenticated("no principal"))?;
    let scopes: Vec<&str> = principal.scopes().iter().collect();
    Ok::<_, Status>(Response::new(format!(
        "{} with scopes {:?}",
        principal.subject().unwrap_or("?"),
        scopes
    )))
}

async fn whoami(channel: Channel, token: Option<&str>) -> Result<String, Status> {
    let mut request = Request::new(());
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("token is not a header value"))?;
        request.metadata_mut().insert("authorization", value);
    }
    call_unary(channel, WHOAMI, request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let signing = EncodingKey::from_ec_pem(key_pair.serialize_pem().as_bytes())?;
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(VerifyingKey::from_ec_pem(
            key_pair.public_key_pem().as_bytes(),
        )?)
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(validator))
            .layer(RequireScopesLayer::all(["inventory:read"]))
            .add_service(Unary::<WhoAmI, _>::new(who_am_i_handler))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            }),
    );

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let sign = |scope: &str, exp: i64| {
        let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "billing-svc", "scope": scope, "exp": exp});
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &signing)
    };
    let valid = sign("inventory:read", now + 300)?;
    let no_scope = sign("billing:write", now + 300)?;
    let expired = sign("inventory:read", now - 600)?;

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    println!("{:<16} answer", "call");
    println!("{}", "-".repeat(80));
    for (name, token) in [
        ("valid token", Some(valid.as_str())),
        ("no token", None),
        ("expired token", Some(expired.as_str())),
        ("missing scope", Some(no_scope.as_str())),
        ("garbage", Some("not.a.jwt")),
    ] {
        match whoami(channel.clone(), token).await {
            Ok(answer) => println!("{name:<16} OK: {answer}"),
            Err(status) => println!(
                "{name:<16} {:?} ({}): {}",
                status.code(),
                status.code() as i32,
                status.message()
            ),
        }
    }

    let _ = stop.send(());
    server.await??;
    Ok(())
}
