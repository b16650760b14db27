//! The shared half of the `authz_rules` and `rego_policy` examples: an identity provider's key
//! and its users, an axum API and a tonic service on 127.0.0.1 behind one `AuthzLayer`, and a
//! list of calls printed with what the layer decided and why.

#[path = "../support/unary.rs"]
mod unary;
use std::time::{SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary, call_unary};

use axum::Router;
use axum::response::Response as HttpResponse;
use axum::routing::{get, post};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::authz::{AuthzLayer, Requirement};
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::tonic::RequestExt;
use meshward::{Principal, Rejection};
use serde_json::{Value, json};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ISSUER: &str = "https://id.demo.test";
const AUDIENCE: &str = "shop";

/// The identity provider: a fresh P-256 key, and access tokens signed with it.
struct Idp {
    key: EncodingKey,
    public: VerifyingKey,
}

impl Idp {
    fn new() -> Result<Self, BoxError> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        Ok(Self {
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())?,
            public: VerifyingKey::from_ec_pem(pair.public_key_pem().as_bytes())?.with_kid("idp"),
        })
    }

    fn token(&self, sub: &str, scope: &str, extra: Value) -> Result<String, BoxError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": scope,
            "iat": now, "exp": now + 300,
        });
        if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            c.extend(extra);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("idp".into());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

/// The gRPC service: `/demo.Inventory/Reserve`, answering who it reserved for.
#[derive(Clone)]
struct Inventory;

impl ServiceName for Inventory {
    const NAME: &'static str = "demo.Inventory";
}

async fn inventory_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let who = request.principal().and_then(|p| p.subject()).unwrap_or("?");
    Ok::<_, Status>(Response::new(format!("reserved for {who}")))
}

/// Copies the reason of a refusal (the `Rejection` meshward puts in the response
/// extensions) into a header, so that this demo's client can print it.
async fn show_reason(mut response: HttpResponse) -> HttpResponse {
    let label = response
        .extensions()
        .get::<Rejection>()
        .and_then(|r| r.label().parse().ok());
    if let Some(label) = label {
        response.headers_mut().insert("x-refusal", label);
    }
    response
}

/// One call of the demo: who makes it, and what.
struct Call {
    who: &'static str,
    token: Option<String>,
    method: &'static str,
    path: &'static str,
}

/// Serves the API and the gRPC service behind `requirement`, makes the calls, prints what
/// each got; returns the statuses in order (HTTP status, or gRPC code as `grpc:<n>`).
pub(crate) async fn run<Q>(title: &str, requirement: Q) -> Result<Vec<String>, BoxError>
where
    Q: Requirement + Send + Sync + 'static,
{
    let idp = Idp::new()?;
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(idp.public.clone())
        .build()?;
    let authn = AuthLayer::new(validator).allow_anonymous();
    let authz = AuthzLayer::new(requirement);

    let api =
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/orders/{id}",
                get(|p: Principal| async move {
                    format!("an order for {}", p.subject().unwrap_or("?"))
                }),
            )
            .route("/orders/export", post(|| async { "exported" }))
            .route("/admin/{*rest}", get(|| async { "the admin console" }))
            .layer(authz.clone())
            .layer(authn.clone())
            .layer(axum::middleware::map_response(show_reason));
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http_listener.local_addr()?;
    let http_server = tokio::spawn(async move { axum::serve(http_listener, api).await });

    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let grpc_server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(authn)
            .layer(authz)
            .add_service(Unary::<Inventory, _>::new(inventory_handler))
            .serve_with_incoming(TcpListenerStream::new(grpc_listener)),
    );

    let alice = idp.token(
        "alice",
        "orders:read inventory:reserve",
        json!({"tenant": "acme"}),
    )?;
    let bob = idp.token("bob", "inventory:reserve", json!({"tenant": "globex"}))?;
    let root = idp.token(
        "root",
        "orders:admin",
        json!({"realm_access": {"roles": ["admin"]}}),
    )?;
    let call = |who, token: &Option<String>, method, path| Call {
        who,
        token: token.clone(),
        method,
        path,
    };
    let (alice, bob, root, nobody) = (Some(alice), Some(bob), Some(root), None);
    let calls = [
        call("nobody", &nobody, "GET", "/healthz"),
        call("alice", &alice, "GET", "/orders/7"),
        call("nobody", &nobody, "GET", "/orders/7"),
        call("alice", &alice, "POST", "/orders/export"),
        call("root", &root, "POST", "/orders/export"),
        call("alice", &alice, "GET", "/admin/users"),
        call("root", &root, "GET", "/admin/users"),
        call("alice", &alice, "GET", "/admin/../orders/7"),
        call("alice", &alice, "DELETE", "/orders/7"),
        call("alice", &alice, "gRPC", "/demo.Inventory/Reserve"),
        call("bob", &bob, "gRPC", "/demo.Inventory/Reserve"),
        call("nobody", &nobody, "gRPC", "/demo.Inventory/Reserve"),
    ];

    println!("{title}\n");
    println!("  {:<7} {:<7} {:<26} answer", "who", "method", "path");
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc_addr}"))?
        .connect()
        .await?;
    let mut answers = Vec::new();
    for c in &calls {
        let (status, answer) = if c.method == "gRPC" {
            let mut request = Request::new(());
            if let Some(t) = &c.token {
                request
                    .metadata_mut()
                    .insert("authorization", format!("Bearer {t}").parse()?);
            }
            match call_unary(channel.clone(), "/demo.Inventory/Reserve", request).await {
                Ok(r) => ("grpc:0".to_owned(), format!("OK: {r}")),
                Err(s) => (
                    format!("grpc:{}", s.code() as i32),
                    format!("{:?} ({})", s.code(), s.message()),
                ),
            }
        } else {
            let mut request = http::Request::builder()
                .method(c.method)
                .uri(format!("http://{http_addr}{}", c.path));
            if let Some(t) = &c.token {
                request = request.header("authorization", format!("Bearer {t}"));
            }
            let response = client.request(request.body(Empty::new())?).await?;
            let status = response.status();
            let reason = response
                .headers()
                .get("x-refusal")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.into_body().collect().await?.to_bytes();
            let answer = match reason {
                Some(reason) => format!("{} refused: {reason}", status.as_u16()),
                None => format!("{} {}", status.as_u16(), String::from_utf8_lossy(&body)),
            };
            (status.as_u16().to_string(), answer)
        };
        println!("  {:<7} {:<7} {:<26} {answer}", c.who, c.method, c.path);
        answers.push(status);
    }
    http_server.abort();
    grpc_server.abort();
    Ok(answers)
}
