//! The whole mesh in one process, on 127.0.0.1: an identity provider, three services that
//! call each other over mutual TLS with service tokens, and a scripted client that makes
//! allowed and refused calls and prints who decided each and why.
//!
//! Run with `cargo run --example mesh` (inventory decides with a Rego policy when the `rego`
//! feature is on: `cargo run --example mesh --features rego`). With `--serve` it keeps the
//! servers running after the script, and prints how to call them with curl.
//!
//! - A PKI made at start (rcgen): a CA, and a certificate per service with its SPIFFE ID
//!   (`spiffe://demo.test/ns/<namespace>/sa/<service>`) and the DNS name `localhost`.
//! - An identity provider stand-in: an ES256 key, its JWKS and OpenID discovery document
//!   served over HTTPS, and `at+jwt` access tokens signed with it. The services find its
//!   keys by discovery.
//! - `gateway` (axum, HTTPS): validates the user's access token (`at+jwt`, issuer,
//!   audience `shop-api`), applies a per-user quota (5 requests a minute) and a scope rule
//!   (`POST /orders/*` needs `orders:write`), and calls `orders` over mTLS with a service
//!   token it mints.
//! - `orders` (axum, mTLS): admits service tokens from the gateway only, bound to the
//!   gateway's certificate, authorises with `examples/mesh/orders.toml`, and calls
//!   `inventory` over mTLS with its own token (nesting the gateway's).
//! - `inventory` (tonic, gRPC, mTLS): admits chains gateway → orders, each token once (a
//!   replay guard), and authorises with `examples/mesh/inventory.rego` (or
//!   `inventory.toml` without the `rego` feature).
//!
//! The process exits 0 only if every scripted call got the answer it expects.

#[path = "support/tls_alert.rs"]
mod tls_alert;

#[path = "support/unary.rs"]
mod unary;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary, call_unary};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::authz::{AuthzLayer, Rule, RuleTable, require};
use meshward::jwt::{AuthLayer, KeySource, Validator};
use meshward::mint::{
    InMemoryReplayGuard, JwksPublisher, Mint, MintLayer, ServiceSigner, ServiceTokenVerifier,
    SigningKey,
};
use meshward::mtls::{MtlsAcceptor, MtlsClient, MtlsConnector, PeerInfo, TlsIdentity};
use meshward::quota::{Limit, QuotaLayer};
use meshward::tonic::RequestExt;
use meshward::{Principal, Rejection};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::json;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use tower::{ServiceBuilder, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const GATEWAY: &str = "spiffe://demo.test/ns/edge/sa/gateway";
const ORDERS: &str = "spiffe://demo.test/ns/shop/sa/orders";
const INVENTORY: &str = "spiffe://demo.test/ns/shop/sa/inventory";
/// A service of the mesh that is none of the three: its certificate is genuine, its place in
/// the calls is not.
const BILLING: &str = "spiffe://demo.test/ns/shop/sa/billing";
/// The audience of the users' access tokens: the shop's API at the gateway.
const API: &str = "shop-api";
const RESERVE: &str = "/demo.Inventory/Reserve";

// ---------------------------------------------------------------------------------------
// The PKI.

/// A certificate and its key, in PEM.
#[derive(Clone)]
struct Pem {
    cert: String,
    key: String,
}

impl Pem {
    fn certified_key(&self) -> TlsIdentity {
        TlsIdentity::pem(self.cert.clone(), self.key.clone())
    }
}

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Result<Self, BoxError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(Self {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `localhost` and, when given, a SPIFFE ID, to serve and to call with.
    fn issue(&self, spiffe_id: Option<&str>) -> Result<Pem, BoxError> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        if let Some(id) = spiffe_id {
            params.subject_alt_names.push(SanType::URI(id.try_into()?));
        }
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// An HTTPS client that trusts the demo CA (and presents `identity` when given), for key
/// fetches and for the scripted client.
fn https_client(ca_pem: &str, identity: Option<&Pem>) -> Result<reqwest::Client, BoxError> {
    let config = match identity {
        Some(pem) => (*MtlsClient::builder(pem.certified_key())
            .add_server_ca_pem(ca_pem)
            .build()?
            .client_config())
        .clone(),
        None => tls_alert::trusting(ca_pem)?,
    };
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        // Port 0: the URL's port is used.
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .timeout(Duration::from_secs(5))
        .build()?)
}

/// A service's client for its onward calls: its own certificate, the server checked by its
/// SPIFFE ID.
fn mtls_to(ca_pem: &str, identity: &Pem, server: &str) -> Result<MtlsConnector, BoxError> {
    Ok(MtlsClient::builder(identity.certified_key())
        .add_server_ca_pem(ca_pem)
        .expect_server_spiffe_id(server)
        .build()?
        .connector())
}

// ---------------------------------------------------------------------------------------
// The identity provider stand-in.

struct Idp {
    issuer: String,
    key: EncodingKey,
}

impl Idp {
    fn access_token(&self, sub: &str, scope: &str, lifetime: i64) -> Result<String, BoxError> {
        let now = now();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("idp-1".into());
        header.typ = Some("at+jwt".into());
        let claims = json!({
            "iss": self.issuer, "aud": API, "sub": sub, "scope": scope,
            "client_id": "shop-web", "iat": now - 600, "exp": now - 600 + lifetime,
        });
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------
// What each hop answers: refusals made by meshward carry their reason and the hop that made
// them, for the script's table.

/// Names the hop that answered (unless a hop further in already did) and copies the reason
/// of a refusal (the `Rejection` meshward puts in the response extensions) into a header.
fn answered_by<B>(hop: &'static str) -> impl Fn(http::Response<B>) -> http::Response<B> + Clone {
    move |mut response: http::Response<B>| {
        let reason = response
            .extensions()
            .get::<Rejection>()
            .and_then(|r| HeaderValue::from_str(r.label()).ok());
        let headers = response.headers_mut();
        if let Some(reason) = reason {
            headers.insert("x-refusal", reason);
        }
        if !headers.contains_key("x-hop") {
            headers.insert("x-hop", HeaderValue::from_static(hop));
        }
        response
    }
}

fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

// ---------------------------------------------------------------------------------------
// inventory (tonic).

#[derive(Clone)]
struct Inventory;

impl ServiceName for Inventory {
    const NAME: &'static str = "demo.Inventory";
}

async fn inventory_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let p = request
        .principal()
        .ok_or_else(|| Status::unauthenticated("no principal"))?;
    // What inventory verified: the user, and the services the call went through.
    let chain: Vec<&str> = p.actor_chain().iter().map(|s| short(s)).collect();
    Ok::<_, Status>(Response::new(format!(
        "{} via {}",
        p.subject().unwrap_or("?"),
        chain.join(" > ")
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

/// The reason of a refused gRPC call: meshward's label when inventory's layers refused it,
/// else the status message.
fn grpc_reason(status: &Status) -> String {
    status
        .metadata()
        .get("x-refusal")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| status.message().to_owned(), str::to_owned)
}

// ---------------------------------------------------------------------------------------
// orders (axum): reserves at inventory.

async fn orders_reserve(
    State(inventory): State<Mint<Channel>>,
    Path(_id): Path<String>,
    principal: Principal,
) -> HttpResponse {
    let mut request = Request::new(());
    request.extensions_mut().insert(principal);
    let mut headers = HeaderMap::new();
    headers.insert("x-hop", HeaderValue::from_static("inventory"));
    match reserve(inventory, request).await {
        Ok(seen) => {
            if let Ok(seen) = HeaderValue::from_str(&seen) {
                headers.insert("x-seen", seen);
            }
            (StatusCode::OK, headers, "reserved").into_response()
        }
        Err(status) => {
            if let Ok(reason) = HeaderValue::from_str(&grpc_reason(&status)) {
                headers.insert("x-refusal", reason);
            }
            let code = match status.code() {
                tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            };
            (code, headers, "not reserved").into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------
// gateway (axum): the edge.

type ToOrders = Mint<HyperClient<MtlsConnector, Empty<Bytes>>>;

async fn gateway_order(
    State((orders, base)): State<(ToOrders, String)>,
    Path(id): Path<String>,
    principal: Principal,
) -> HttpResponse {
    let Ok(mut request) =
        http::Request::post(format!("{base}/reserve/{id}")).body(Empty::<Bytes>::new())
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    request.extensions_mut().insert(principal);
    match orders.oneshot(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut headers = HeaderMap::new();
            for name in ["x-hop", "x-refusal", "x-seen"] {
                if let Some(value) = parts.headers.get(name) {
                    headers.insert(name, value.clone());
                }
            }
            if !headers.contains_key("x-hop") {
                headers.insert("x-hop", HeaderValue::from_static("orders"));
            }
            (parts.status, headers, body).into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn gateway_read(Path(id): Path<String>, principal: Principal) -> String {
    format!("order {id} of {}", principal.subject().unwrap_or("?"))
}

// ---------------------------------------------------------------------------------------
// The mesh.

struct Mesh {
    idp: Idp,
    ca_pem: String,
    gateway_url: String,
    orders_url: String,
    inventory_addr: SocketAddr,
    pems: Pems,
    users: Validator,
    gateway_signer: ServiceSigner,
    orders_signer: ServiceSigner,
}

struct Pems {
    gateway: Pem,
    orders: Pem,
    billing: Pem,
    outsider: Pem,
}

async fn start() -> Result<Mesh, BoxError> {
    // The PKI.
    let pki = Pki::new("demo mesh CA")?;
    let ca_pem = pki.ca_pem();
    let idp_pem = pki.issue(None)?;
    let pems = Pems {
        gateway: pki.issue(Some(GATEWAY))?,
        orders: pki.issue(Some(ORDERS))?,
        billing: pki.issue(Some(BILLING))?,
        // The same SPIFFE ID as orders, from a CA nobody here trusts.
        outsider: Pki::new("another CA")?.issue(Some(ORDERS))?,
    };
    let inventory_pem = pki.issue(Some(INVENTORY))?;

    // Every listener first: each service's address is in the others' configuration.
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (idp_l, gateway_l, orders_l, inventory_l) =
        (bind().await?, bind().await?, bind().await?, bind().await?);
    let url = |l: &tokio::net::TcpListener| -> Result<String, BoxError> {
        Ok(format!("https://localhost:{}", l.local_addr()?.port()))
    };
    let (issuer, gateway_url, orders_url) = (url(&idp_l)?, url(&gateway_l)?, url(&orders_l)?);
    let inventory_addr = inventory_l.local_addr()?;

    // The identity provider: discovery and JWKS over HTTPS.
    let idp_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let idp_key_pem = idp_pair.serialize_pem();
    let idp = Idp {
        issuer: issuer.clone(),
        key: EncodingKey::from_ec_pem(idp_key_pem.as_bytes())?,
    };
    let idp_keys = ServiceSigner::builder(
        issuer.clone(),
        SigningKey::from_pem(idp_key_pem.as_bytes(), Algorithm::ES256)?.with_kid("idp-1"),
    )
    .build()?;
    let discovery = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let idp_app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || std::future::ready(axum::Json(discovery.clone()))),
        )
        .route_service("/jwks", JwksPublisher::new(idp_keys));
    let idp_tls = MtlsAcceptor::builder(idp_pem.certified_key())
        .add_client_ca_pem(ca_pem.clone())
        .allow_unauthenticated_clients()
        .build()?;
    let incoming = idp_tls.incoming(idp_l);
    tokio::spawn(async move { axum::serve(incoming, idp_app).await });

    // The users' access tokens, as every hop validates them (found by discovery). In a real
    // mesh each service has its own validator; here they share one.
    let users = Validator::builder(issuer.clone(), [API])
        .require_type("at+jwt")
        .key_source(
            KeySource::discovery(&issuer)
                .client(https_client(&ca_pem, None)?)
                .build()?,
        )
        .build()?;

    // Each service's signer; its keys are published at /.well-known/jwks.json.
    let service_key = || -> Result<SigningKey, BoxError> {
        let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        Ok(SigningKey::from_pem(
            pair.serialize_pem().as_bytes(),
            Algorithm::ES256,
        )?)
    };
    let gateway_signer =
        ServiceSigner::builder(GATEWAY, service_key()?.with_kid("gateway-1")).build()?;
    // inventory has a replay guard: orders mints a fresh token for every call.
    let orders_signer = ServiceSigner::builder(ORDERS, service_key()?.with_kid("orders-1"))
        .minted_token_cache(0)
        .build()?;
    let keys_of = |base: &str, fetcher: &Pem| -> Result<KeySource, BoxError> {
        Ok(KeySource::jwks(format!("{base}/.well-known/jwks.json"))
            .client(https_client(&ca_pem, Some(fetcher))?)
            .build()?)
    };

    // inventory: mTLS, chains gateway -> orders, each token once, a policy.
    let inventory_verifier = ServiceTokenVerifier::builder(INVENTORY)
        .trust_service(GATEWAY, keys_of(&gateway_url, &inventory_pem)?)
        .trust_service(ORDERS, keys_of(&orders_url, &inventory_pem)?)
        .user_tokens(users.clone())
        .bind_caller_to_peer()
        .replay_guard(InMemoryReplayGuard::default())
        .max_depth(2)
        .build()?;
    let inventory_tls = MtlsAcceptor::builder(inventory_pem.certified_key())
        .add_client_ca_pem(ca_pem.clone())
        .build()?;
    let inventory = tonic::transport::Server::builder()
        .layer(tower::util::MapResponseLayer::new(answered_by::<Body>(
            "inventory",
        )))
        .layer(AuthLayer::new(inventory_verifier))
        .layer(AuthzLayer::new(inventory_policy()?))
        .add_service(Unary::<Inventory, _>::new(inventory_handler));
    tokio::spawn(inventory.serve_with_incoming(inventory_tls.incoming(inventory_l)));

    // orders: mTLS, service tokens from the gateway, a rules file; calls inventory.
    let orders_verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, keys_of(&gateway_url, &pems.orders)?)
        .user_tokens(users.clone())
        .bind_caller_to_peer()
        .build()?;
    let inventory_channel =
        Endpoint::from_shared(format!("http://localhost:{}", inventory_addr.port()))?
            .connect_with_connector_lazy(mtls_to(&ca_pem, &pems.orders, INVENTORY)?);
    let to_inventory = ServiceBuilder::new()
        .layer(MintLayer::new(orders_signer.clone(), INVENTORY))
        .service(inventory_channel);
    let orders_app = Router::new()
        .route("/reserve/{id}", post(orders_reserve))
        .with_state(to_inventory)
        .layer(AuthzLayer::new(RuleTable::from_toml(include_str!(
            "mesh/orders.toml"
        ))?))
        .layer(AuthLayer::new(orders_verifier))
        .route_service(
            "/.well-known/jwks.json",
            JwksPublisher::new(orders_signer.clone()),
        )
        .layer(axum::middleware::map_response(|r: HttpResponse| {
            std::future::ready(answered_by("orders")(r))
        }));
    let orders_tls = MtlsAcceptor::builder(pems.orders.certified_key())
        .add_client_ca_pem(ca_pem.clone())
        .build()?;
    let incoming = orders_tls.incoming(orders_l);
    tokio::spawn(async move {
        axum::serve(
            incoming,
            orders_app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });

    // gateway: HTTPS for users; access tokens, a quota, a scope rule; calls orders.
    let to_orders: ToOrders = ServiceBuilder::new()
        .layer(MintLayer::new(gateway_signer.clone(), ORDERS))
        .service(HyperClient::builder(TokioExecutor::new()).build(mtls_to(
            &ca_pem,
            &pems.gateway,
            ORDERS,
        )?));
    let scopes = RuleTable::builder()
        .rule(
            Rule::new("place an order")
                .methods(["POST"])
                .path("/orders/*")
                .require(require::scopes_all(["orders:write"])),
        )
        .rule(
            Rule::new("read an order")
                .methods(["GET"])
                .path("/orders/*")
                .require(require::scopes_any(["orders:read", "orders:write"])),
        )
        .build()?;
    let gateway_app = Router::new()
        .route("/orders/{id}", post(gateway_order).get(gateway_read))
        .with_state((to_orders, orders_url.clone()))
        .layer(AuthzLayer::new(scopes))
        .layer(QuotaLayer::new(
            Limit::builder()
                .requests(5, Duration::from_secs(60))
                .build()?,
        ))
        .layer(AuthLayer::new(users.clone()))
        .route_service(
            "/.well-known/jwks.json",
            JwksPublisher::new(gateway_signer.clone()),
        )
        .layer(axum::middleware::map_response(|r: HttpResponse| {
            std::future::ready(answered_by("gateway")(r))
        }));
    let gateway_tls = MtlsAcceptor::builder(pems.gateway.certified_key())
        .add_client_ca_pem(ca_pem.clone())
        .allow_unauthenticated_clients()
        .build()?;
    let incoming = gateway_tls.incoming(gateway_l);
    tokio::spawn(async move {
        axum::serve(
            incoming,
            gateway_app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });

    Ok(Mesh {
        idp,
        ca_pem,
        gateway_url,
        orders_url,
        inventory_addr,
        pems,
        users,
        gateway_signer,
        orders_signer,
    })
}

#[cfg(feature = "rego")]
fn inventory_policy() -> Result<meshward::authz::RegoPolicy, BoxError> {
    Ok(
        meshward::authz::RegoPolicy::builder("data.mesh.inventory.allow")
            .add_policy(
                "examples/mesh/inventory.rego",
                include_str!("mesh/inventory.rego"),
            )
            .build()?,
    )
}

#[cfg(not(feature = "rego"))]
fn inventory_policy() -> Result<RuleTable, BoxError> {
    Ok(RuleTable::from_toml(include_str!("mesh/inventory.toml"))?)
}

// ---------------------------------------------------------------------------------------
// The script.

/// What a call got: the hop that decided, the answer, the reason of a refusal, and what the
/// last hop saw.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    hop: String,
    answer: String,
    reason: String,
    chain: String,
}

impl Seen {
    /// What an HTTP answer says: the hop, the status, the reason and what was seen.
    fn of(response: &reqwest::Response) -> Self {
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        Self {
            hop: header("x-hop"),
            answer: response.status().as_u16().to_string(),
            reason: header("x-refusal"),
            chain: header("x-seen"),
        }
    }
}

/// A call through the gateway, as the outside world makes it.
async fn via_gateway(
    mesh: &Mesh,
    client: &reqwest::Client,
    method: &str,
    token: Option<&str>,
) -> Result<Seen, BoxError> {
    let url = format!("{}/orders/42", mesh.gateway_url);
    let request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await?;
    Ok(Seen::of(&response))
}

/// A call straight to orders over mTLS with `identity`'s certificate and `token`.
async fn at_orders(mesh: &Mesh, identity: &Pem, token: &str) -> Result<Seen, BoxError> {
    let client = https_client(&mesh.ca_pem, Some(identity))?;
    let response = client
        .post(format!("{}/reserve/42", mesh.orders_url))
        .bearer_auth(token)
        .send()
        .await?;
    Ok(Seen::of(&response))
}

/// A gRPC call straight to inventory over mTLS with `identity`'s certificate and `token`.
async fn at_inventory(mesh: &Mesh, identity: &Pem, token: &str) -> Result<Seen, BoxError> {
    let connector = mtls_to(&mesh.ca_pem, identity, INVENTORY)?;
    let endpoint =
        Endpoint::from_shared(format!("http://localhost:{}", mesh.inventory_addr.port()))?
            .timeout(Duration::from_secs(5));
    // Connected lazily: a refused handshake shows as the call's error.
    let channel = endpoint.connect_with_connector_lazy(connector);
    let mut request = Request::new(());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(match reserve(channel, request).await {
        Ok(seen) => Seen {
            hop: "inventory".into(),
            answer: "OK".into(),
            reason: "-".into(),
            chain: seen,
        },
        Err(status) => {
            let refused = match tls_alert::alert(&status) {
                Some(alert) => Some(alert),
                // The connection ended before an answer: ask again, reading this time.
                None if matches!(status.code(), tonic::Code::Cancelled | tonic::Code::Unknown) => {
                    handshake_refusal(&mesh.ca_pem, identity, mesh.inventory_addr).await
                }
                None => None,
            };
            match refused {
                // The handshake was refused: inventory never saw a request.
                Some(alert) => Seen {
                    hop: "inventory".into(),
                    answer: "TLS alert".into(),
                    reason: alert,
                    chain: "-".into(),
                },
                None => Seen {
                    hop: "inventory".into(),
                    answer: format!("{:?}", status.code()),
                    reason: grpc_reason(&status),
                    chain: "-".into(),
                },
            }
        }
    })
}

/// Why inventory refuses `identity`'s certificate, if it does.
async fn handshake_refusal(ca_pem: &str, identity: &Pem, addr: SocketAddr) -> Option<String> {
    let config = MtlsClient::builder(identity.certified_key())
        .add_server_ca_pem(ca_pem)
        .build()
        .ok()?
        .client_config();
    tls_alert::handshake_alert(config, addr, "localhost").await
}

/// One scripted call: its name, what it should get, and what it got.
struct Outcome {
    name: &'static str,
    expected: (&'static str, &'static str, &'static str),
    seen: Seen,
}

impl Outcome {
    fn as_expected(&self) -> bool {
        let (hop, answer, reason) = self.expected;
        self.seen.hop == hop && self.seen.answer == answer && self.seen.reason == reason
    }
}

async fn script(mesh: &Mesh) -> Result<Vec<Outcome>, BoxError> {
    let client = https_client(&mesh.ca_pem, None)?;
    let alice = mesh
        .idp
        .access_token("alice", "orders:read orders:write", 900)?;
    let bob = mesh.idp.access_token("bob", "orders:read", 900)?;
    let carol = mesh.idp.access_token("carol", "orders:read", 900)?;
    let expired = mesh
        .idp
        .access_token("alice", "orders:read orders:write", 300)?;
    let mut outcomes = Vec::new();
    let mut record = |name, expected, seen| {
        outcomes.push(Outcome {
            name,
            expected,
            seen,
        });
    };

    // Through the gateway, as users.
    record(
        "alice places an order",
        ("inventory", "200", "-"),
        via_gateway(mesh, &client, "POST", Some(&alice)).await?,
    );
    record(
        "no token",
        ("gateway", "401", "missing"),
        via_gateway(mesh, &client, "POST", None).await?,
    );
    record(
        "an expired token",
        ("gateway", "401", "expired"),
        via_gateway(mesh, &client, "POST", Some(&expired)).await?,
    );
    record(
        "bob orders, holding orders:read only",
        ("gateway", "403", "insufficient_scope"),
        via_gateway(mesh, &client, "POST", Some(&bob)).await?,
    );
    for _ in 0..5 {
        via_gateway(mesh, &client, "GET", Some(&carol)).await?;
    }
    record(
        "carol's sixth read in a minute",
        ("gateway", "429", "quota_exceeded"),
        via_gateway(mesh, &client, "GET", Some(&carol)).await?,
    );

    // Straight at the services, as an attacker inside the network would.
    let at_gateway = mesh.users.validate(&alice).await?;
    let gateway_hop = mesh.gateway_signer.mint(&at_gateway, ORDERS)?;
    record(
        "the gateway's token, from billing's cert",
        ("orders", "401", "caller_not_peer"),
        at_orders(mesh, &mesh.pems.billing, gateway_hop.as_str()).await?,
    );
    record(
        "alice's access token, straight to orders",
        ("orders", "401", "invalid_type"),
        at_orders(mesh, &mesh.pems.gateway, &alice).await?,
    );
    // A hop orders really minted (the chain gateway -> orders), sent twice.
    let orders_principal = {
        let verifier = ServiceTokenVerifier::builder(ORDERS)
            .trust_service(
                GATEWAY,
                KeySource::jwks(format!("{}/.well-known/jwks.json", mesh.gateway_url))
                    .client(https_client(&mesh.ca_pem, Some(&mesh.pems.orders))?)
                    .build()?,
            )
            .user_tokens(mesh.users.clone())
            .build()?;
        verifier.verify(gateway_hop.as_str()).await?
    };
    let genuine = mesh.orders_signer.mint(&orders_principal, INVENTORY)?;
    record(
        "a hop orders minted, sent by orders",
        ("inventory", "OK", "-"),
        at_inventory(mesh, &mesh.pems.orders, genuine.as_str()).await?,
    );
    record(
        "the same token again (replay)",
        ("inventory", "Unauthenticated", "replayed"),
        at_inventory(mesh, &mesh.pems.orders, genuine.as_str()).await?,
    );
    let forger = ServiceSigner::builder(
        ORDERS,
        SigningKey::generate(Algorithm::ES256)?.with_kid("orders-1"),
    )
    .build()?;
    let forged = forger.mint(&orders_principal, INVENTORY)?;
    record(
        "a forged hop: orders' name, another key",
        ("inventory", "Unauthenticated", "invalid_signature"),
        at_inventory(mesh, &mesh.pems.orders, forged.as_str()).await?,
    );
    let skipping = mesh.gateway_signer.mint(&at_gateway, INVENTORY)?;
    record(
        "the gateway skipping orders",
        ("inventory", "PermissionDenied", POLICY_DENIAL),
        at_inventory(mesh, &mesh.pems.gateway, skipping.as_str()).await?,
    );
    let fresh = mesh.orders_signer.mint(&orders_principal, INVENTORY)?;
    record(
        "orders' name from another CA",
        ("inventory", "TLS alert", "UnknownCA"),
        at_inventory(mesh, &mesh.pems.outsider, fresh.as_str()).await?,
    );
    Ok(outcomes)
}

/// The reason inventory gives when its policy refuses.
#[cfg(feature = "rego")]
const POLICY_DENIAL: &str = "policy_denied";
#[cfg(not(feature = "rego"))]
const POLICY_DENIAL: &str = "caller_not_allowed";

#[tokio::main]
async fn main() -> Result<std::process::ExitCode, BoxError> {
    let serve = std::env::args().any(|a| a == "--serve");
    let mesh = start().await?;
    let policy = if cfg!(feature = "rego") {
        "a Rego policy"
    } else {
        "a rules table"
    };
    println!(
        "gateway {}, orders {}, inventory https://localhost:{} (gRPC; {policy})\n",
        mesh.gateway_url,
        mesh.orders_url,
        mesh.inventory_addr.port()
    );

    let outcomes = script(&mesh).await?;
    println!(
        "{:<42} {:<10} {:<16} {:<24} what the last hop saw",
        "call", "decided at", "answer", "reason"
    );
    println!("{}", "-".repeat(120));
    let mut unexpected = 0;
    for o in &outcomes {
        let mark = if o.as_expected() {
            ""
        } else {
            "   <- UNEXPECTED"
        };
        println!(
            "{:<42} {:<10} {:<16} {:<24} {}{mark}",
            o.name, o.seen.hop, o.seen.answer, o.seen.reason, o.seen.chain
        );
        if !o.as_expected() {
            unexpected += 1;
            let (hop, answer, reason) = o.expected;
            println!("{:<42} expected: {hop} {answer} {reason}", "");
        }
    }
    println!();
    if unexpected > 0 {
        println!(
            "{unexpected} of {} calls got an unexpected answer",
            outcomes.len()
        );
        return Ok(std::process::ExitCode::FAILURE);
    }
    println!("all {} calls got the answer they should", outcomes.len());

    if serve {
        let dir = std::env::temp_dir().join(format!("meshward-mesh-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("ca.pem"), &mesh.ca_pem)?;
        let token = mesh
            .idp
            .access_token("alice", "orders:read orders:write", 3900)?;
        println!("\nServing until Ctrl-C. Try:");
        println!(
            "  curl --cacert {} -X POST -H 'authorization: Bearer {token}' {}/orders/1 -i",
            dir.join("ca.pem").display(),
            mesh.gateway_url
        );
        tokio::signal::ctrl_c().await?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}
