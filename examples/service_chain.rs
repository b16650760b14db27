//! Service tokens across three services, in one process on 127.0.0.1.
//!
//! Run with `cargo run --example service_chain --features axum,tonic`.
//!
//! - an identity provider stand-in: an ES256 key whose JWKS a `JwksPublisher` serves, and
//!   access tokens signed with it;
//! - `gateway` (axum): admits the end user's access token and calls `orders`;
//! - `orders` (axum): admits service tokens from `gateway` and calls `inventory`;
//! - `inventory` (tonic): admits service tokens through `gateway` and `orders`, with a replay
//!   guard and a depth of at most two hops, and answers with the end user, the caller and
//!   the chain it verified.
//!
//! Each hop mints a fresh token for the next with a `MintLayer`. Then forged hops are sent to
//! `inventory` directly and refused: a wrong key, a replay, a widened scope, a token for
//! another service, a chain too deep, and an access token where a service token belongs.

#[path = "support/unary.rs"]
mod unary;
use std::time::{SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary, call_unary};

use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use jsonwebtoken::{Algorithm, EncodingKey};
use meshward::Principal;
use meshward::jwt::{AuthLayer, KeySource, Validator};
use meshward::mint::{
    InMemoryReplayGuard, JwksPublisher, Mint, MintLayer, ServiceSigner, ServiceTokenVerifier,
    SigningKey,
};
use meshward::tonic::RequestExt;
use serde_json::{Value, json};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tower::{ServiceBuilder, ServiceExt};

const IDP: &str = "https://id.demo.test";
const EDGE_API: &str = "shop-api";
const GATEWAY: &str = "spiffe://demo.test/ns/edge/sa/gateway";
const ORDERS: &str = "spiffe://demo.test/ns/shop/sa/orders";
const INVENTORY: &str = "spiffe://demo.test/ns/shop/sa/inventory";
const RESERVE: &str = "/demo.Inventory/Reserve";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A key as the identity provider or a service holds it: to sign with meshward, and raw to
/// forge with.
struct Key {
    pem: String,
    raw: EncodingKey,
}

impl Key {
    fn new() -> Result<Self, BoxError> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let pem = pair.serialize_pem();
        let raw = EncodingKey::from_ec_pem(pem.as_bytes())?;
        Ok(Self { pem, raw })
    }

    fn signing_key(&self, kid: &str) -> Result<SigningKey, BoxError> {
        Ok(SigningKey::from_pem(self.pem.as_bytes(), Algorithm::ES256)?.with_kid(kid))
    }

    fn sign(&self, typ: &str, kid: &str, claims: &Value) -> Result<String, BoxError> {
        let header = json!({"alg": "ES256", "kid": kid, "typ": typ});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.raw, Algorithm::ES256)?;
        Ok(format!("{input}.{signature}"))
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// inventory's one method: answers with what it verified.
#[derive(Clone)]
struct Inventory;

impl ServiceName for Inventory {
    const NAME: &'static str = "demo.Inventory";
}

async fn inventory_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let p = request
        .principal()
        .ok_or_else(|| Status::unauthenticated("no principal"))?;
    Ok::<_, Status>(Response::new(format!(
        "reserved for {} (caller {}, chain {})",
        p.subject().unwrap_or("?"),
        p.caller().unwrap_or("-"),
        p.actor_chain().join(" > ")
    )))
}

/// Calls `Reserve` through a (wrapped) channel.
async fn reserve<T>(service: T, request: Request<()>) -> Result<String, Status>
where
    T: tonic::client::GrpcService<Body>,
    T::Error: Into<BoxError>,
    T::ResponseBody: hyper::body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as hyper::body::Body>::Error: Into<BoxError> + Send,
{
    call_unary(service, RESERVE, request).await
}

async fn orders_reserve(
    State(inventory): State<Mint<Channel>>,
    principal: Principal,
) -> (http::StatusCode, String) {
    let mut request = Request::new(());
    request.extensions_mut().insert(principal);
    match reserve(inventory, request).await {
        Ok(answer) => (http::StatusCode::OK, answer),
        Err(status) => (http::StatusCode::BAD_GATEWAY, status.message().to_owned()),
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Empty<Bytes>,
>;

async fn gateway_order(
    State((orders, url)): State<(Mint<HttpClient>, String)>,
    principal: Principal,
) -> (http::StatusCode, String) {
    let mut request = http::Request::get(url)
        .body(Empty::<Bytes>::new())
        .unwrap_or_default();
    request.extensions_mut().insert(principal);
    match orders.oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            (
                status,
                body.map_or_else(
                    |e| e.to_string(),
                    |b| String::from_utf8_lossy(&b).into_owned(),
                ),
            )
        }
        Err(e) => (http::StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn serve(router: axum::Router) -> Result<String, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // The identity provider stand-in: its key, published as a JWKS.
    let idp = Key::new()?;
    let idp_publisher = ServiceSigner::builder(IDP, idp.signing_key("idp-1")?).build()?;
    let idp_jwks =
        serve(axum::Router::new().route_service("/jwks", JwksPublisher::new(idp_publisher)))
            .await?;
    let users = Validator::builder(IDP, [EDGE_API])
        .key_source(
            KeySource::jwks(format!("{idp_jwks}/jwks"))
                .allow_insecure_http()
                .build()?,
        )
        .build()?;

    // Each service's signer and published keys.
    let (gateway_key, orders_key) = (Key::new()?, Key::new()?);
    let gateway = ServiceSigner::builder(GATEWAY, gateway_key.signing_key("gateway-1")?).build()?;
    // Orders calls a receiver with a replay guard: a fresh token per call.
    let orders = ServiceSigner::builder(ORDERS, orders_key.signing_key("orders-1")?)
        .minted_token_cache(0)
        .build()?;
    let gateway_jwks =
        serve(axum::Router::new().route_service("/jwks", JwksPublisher::new(gateway.clone())))
            .await?;
    let orders_jwks =
        serve(axum::Router::new().route_service("/jwks", JwksPublisher::new(orders.clone())))
            .await?;
    let keys = |url: &str| {
        KeySource::jwks(format!("{url}/jwks"))
            .allow_insecure_http()
            .build()
    };

    // inventory (tonic).
    let inventory_verifier = ServiceTokenVerifier::builder(INVENTORY)
        .trust_service(GATEWAY, keys(&gateway_jwks)?)
        .trust_service(ORDERS, keys(&orders_jwks)?)
        .user_tokens(users.clone())
        .replay_guard(InMemoryReplayGuard::default())
        .max_depth(2)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let inventory_addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(AuthLayer::new(inventory_verifier))
            .add_service(Unary::<Inventory, _>::new(inventory_handler))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let inventory_channel = Channel::from_shared(format!("http://{inventory_addr}"))?
        .connect()
        .await?;

    // orders (axum), calling inventory.
    let orders_verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, keys(&gateway_jwks)?)
        .user_tokens(users.clone())
        .build()?;
    let to_inventory = ServiceBuilder::new()
        .layer(MintLayer::new(orders.clone(), INVENTORY))
        .service(inventory_channel.clone());
    let orders_url = serve(
        axum::Router::new()
            .route("/reserve", get(orders_reserve))
            .with_state(to_inventory)
            .layer(AuthLayer::new(orders_verifier)),
    )
    .await?;

    // gateway (axum), calling orders.
    let http: HttpClient =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let to_orders = ServiceBuilder::new()
        .layer(MintLayer::new(gateway.clone(), ORDERS))
        .service(http);
    let gateway_url = serve(
        axum::Router::new()
            .route("/order", get(gateway_order))
            .with_state((to_orders, format!("{orders_url}/reserve")))
            .layer(AuthLayer::new(users.clone())),
    )
    .await?;

    // An end user's access token enters at the gateway.
    let now = now();
    let access = |sub: &str, scope: &str| {
        idp.sign(
            "at+jwt",
            "idp-1",
            &json!({"iss": IDP, "aud": EDGE_API, "sub": sub, "scope": scope, "iat": now, "exp": now + 300}),
        )
    };
    let alice = access("alice", "orders:write")?;
    let client = reqwest::Client::new();
    let answer = client
        .get(format!("{gateway_url}/order"))
        .bearer_auth(&alice)
        .send()
        .await?;
    println!(
        "alice -> gateway -> orders -> inventory: {} {}",
        answer.status(),
        answer.text().await?
    );
    println!();

    // Forged hops, sent to inventory directly.
    let hop = |key: &Key, kid: &str, iss: &str, aud: &str, scope: &str, below: &str, act: Value| {
        key.sign(
            "svc+jwt",
            kid,
            &json!({"iss": iss, "aud": aud, "sub": "alice", "iat": now, "exp": now + 60,
                    "jti": format!("{iss}-{aud}-{scope}-{}", below.len()), "act": act, "scope": scope,
                    "subject_token": below}),
        )
    };
    let at_gateway = users.validate(&alice).await?;
    let gateway_hop = gateway.mint(&at_gateway, ORDERS)?;
    let orders_act = json!({"sub": ORDERS, "act": {"sub": GATEWAY}});
    let stranger = Key::new()?;
    let genuine = hop(
        &orders_key,
        "orders-1",
        ORDERS,
        INVENTORY,
        "orders:write",
        gateway_hop.as_str(),
        orders_act.clone(),
    )?;
    // A three-level chain: gateway -> orders -> orders -> inventory (inventory takes two).
    let orders_twice = hop(
        &orders_key,
        "orders-1",
        ORDERS,
        ORDERS,
        "orders:write",
        gateway_hop.as_str(),
        orders_act.clone(),
    )?;
    let third = hop(
        &orders_key,
        "orders-1",
        ORDERS,
        INVENTORY,
        "orders:write",
        &orders_twice,
        json!({"sub": ORDERS, "act": {"sub": ORDERS, "act": {"sub": GATEWAY}}}),
    )?;
    let cases = [
        ("a genuine hop from orders", genuine.clone()),
        ("the same token again (replay)", genuine),
        (
            "orders' claims, a stranger's key",
            hop(
                &stranger,
                "orders-1",
                ORDERS,
                INVENTORY,
                "orders:write",
                gateway_hop.as_str(),
                orders_act.clone(),
            )?,
        ),
        (
            "a widened scope",
            hop(
                &orders_key,
                "orders-1",
                ORDERS,
                INVENTORY,
                "orders:write admin",
                gateway_hop.as_str(),
                orders_act.clone(),
            )?,
        ),
        (
            "a token for another service",
            hop(
                &orders_key,
                "orders-1",
                ORDERS,
                "spiffe://demo.test/ns/shop/sa/billing",
                "orders:write",
                gateway_hop.as_str(),
                orders_act,
            )?,
        ),
        ("three hops (inventory takes two)", third),
        ("an access token, not a service token", alice.clone()),
    ];
    println!("{:<40} answer", "sent to inventory");
    println!("{}", "-".repeat(90));
    for (name, token) in cases {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        match reserve(inventory_channel.clone(), request).await {
            Ok(answer) => println!("{name:<40} OK: {answer}"),
            Err(status) => println!(
                "{name:<40} {:?} ({}): {}",
                status.code(),
                status.code() as i32,
                status.message()
            ),
        }
    }
    // And a service token where an access token belongs: the gateway refuses it.
    let answer = client
        .get(format!("{gateway_url}/order"))
        .bearer_auth(gateway_hop.as_str())
        .send()
        .await?;
    println!(
        "{:<40} {} {}",
        "a service token at the gateway",
        answer.status(),
        answer
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    );
    Ok(())
}
