//! meshward on a plain hyper server, no framework: a `tower::ServiceBuilder` stack served
//! with hyper-util, and a client in the same process.
//!
//! Run with `cargo run --example hyper_server`.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::jwt::{Validator, VerifyingKey};
use meshward::{Principal, ServiceBuilderExt};
use serde_json::json;
use tower::ServiceBuilder;

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "reports";

async fn handler(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // The layers below guarantee a principal with scope `reports:read` here.
    let who = request
        .extensions()
        .get::<Principal>()
        .and_then(Principal::subject)
        .unwrap_or("?")
        .to_owned();
    let mut response = Response::new(Full::new(Bytes::from(format!("report for {who}"))));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let signing = EncodingKey::from_ed_der(key_pair.serialized_der());
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(VerifyingKey::from_ed_pem(
            key_pair.public_key_pem().as_bytes(),
        )?)
        .build()?;

    let service = ServiceBuilder::new()
        .authenticate(validator)
        .require_all_scopes(["reports:read"])
        .service_fn(handler);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        // Serve connections until the task is aborted.
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let sign = |scope: &str, aud: &str| {
        let claims =
            json!({"iss": ISSUER, "aud": aud, "sub": "dana", "scope": scope, "exp": now + 300});
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signing)
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for (name, token) in [
        ("valid token", Some(sign("reports:read", AUDIENCE)?)),
        ("no token", None),
        ("missing scope", Some(sign("reports:list", AUDIENCE)?)),
        ("wrong audience", Some(sign("reports:read", "billing")?)),
    ] {
        let mut request = Request::get(format!("http://{addr}/report"));
        if let Some(token) = &token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = client.request(request.body(Empty::new())?).await?;
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "{name:<15} {status}  {}{challenge}",
            String::from_utf8_lossy(&body)
        );
    }
    server.abort();
    Ok(())
}
