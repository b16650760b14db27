//! Load against servers on 127.0.0.1, driven by a load generator in the same process:
//! requests/s and p50/p99 latency for the same handler without and behind meshward's
//! layers, each as a ratio to its baseline measured in the same run.
//!
//! Run with `cargo run --release --example loadtest` (`-- --seconds 3 --connections 32
//! --rounds 3 --only "3 hops"`; defaults 2 s per run, 32 connections, 3 rounds, every
//! group). The results and the machine they were measured on are in BENCHMARKS.md. It exits
//! 1 when a run saw errors or missed its target (the cached path at 0.90 of unprotected, the
//! 3-hop chain at 0.80 of the same chain without meshward).
//!
//! Each run keeps N connections busy for a fixed time, one request at a time each (HTTP/1.1
//! for HTTP, one HTTP/2 connection per worker for gRPC), and counts answers other than the
//! expected one as errors. Each subject runs between two runs of its baseline and its ratio
//! is to their mean (a shared 2-core machine drifts by several per cent from one run to the
//! next); the table shows the median over the rounds. The baselines:
//!
//! - HTTP: the same axum handler (it answers `{"sub": …}` from the principal, or
//!   `anonymous`) with no layer;
//! - mTLS: the same handler over mutual TLS with no layer;
//! - gRPC: the same tonic method with no layer;
//! - the 3-hop chain: gateway → orders → inventory, each hop an axum server whose handler
//!   calls the next with a pooled hyper client, with no layer; against the same chain where
//!   the gateway validates the user's token and each hop mints a service token for the next
//!   and verifies the one it got (all caches warm).

#[path = "support/histogram.rs"]
mod histogram;

#[path = "support/unary.rs"]
mod unary;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::Principal;
use meshward::authz::{AuthzLayer, Rule, RuleTable, require};
use meshward::jwt::{AuthLayer, KeySet, KeySource, Validator, VerifyingKey};
use meshward::mint::{MintLayer, ServiceSigner, ServiceTokenVerifier, SigningKey};
use meshward::mtls::{MtlsAcceptor, MtlsClient, MtlsConnector, PeerInfo, TlsIdentity};
use meshward::tonic::RequestExt as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::json;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use self::histogram::Histogram;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ISSUER: &str = "https://id.load.test";
const AUDIENCE: &str = "orders";
const GATEWAY: &str = "spiffe://load.test/ns/edge/sa/gateway";
const ORDERS: &str = "spiffe://load.test/ns/shop/sa/orders";
const INVENTORY: &str = "spiffe://load.test/ns/shop/sa/inventory";
const WHO: &str = "/load.Who/Who";

// ---------------------------------------------------------------------------------------
// Tokens and keys.

struct Idp {
    alg: Algorithm,
    encoding: EncodingKey,
    verifying: VerifyingKey,
}

impl Idp {
    fn new(alg: Algorithm) -> Result<Self, BoxError> {
        let pair = KeyPair::generate_for(match alg {
            Algorithm::RS256 => &rcgen::PKCS_RSA_SHA256,
            Algorithm::ES256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            _ => &rcgen::PKCS_ED25519,
        })?;
        let (private, public) = (pair.serialize_pem(), pair.public_key_pem());
        let (encoding, verifying) = match alg {
            Algorithm::RS256 => (
                EncodingKey::from_rsa_pem(private.as_bytes())?,
                VerifyingKey::from_rsa_pem(public.as_bytes())?,
            ),
            Algorithm::ES256 => (
                EncodingKey::from_ec_pem(private.as_bytes())?,
                VerifyingKey::from_ec_pem(public.as_bytes())?,
            ),
            _ => (
                EncodingKey::from_ed_der(pair.serialized_der()),
                VerifyingKey::from_ed_pem(public.as_bytes())?,
            ),
        };
        Ok(Self {
            alg,
            encoding,
            verifying,
        })
    }

    /// An access token of the usual size (about 800 bytes for RS256).
    fn token(&self) -> Result<String, BoxError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1234", "scope": "orders:read orders:write",
            "iat": now, "nbf": now, "exp": now + 3600, "jti": "b0c1d2e3",
            "tenant": "acme", "email": "user@example.com",
        });
        Ok(jsonwebtoken::encode(
            &Header::new(self.alg),
            &claims,
            &self.encoding,
        )?)
    }

    fn validator(&self, cache: bool) -> Result<Validator, BoxError> {
        let builder = Validator::builder(ISSUER, [AUDIENCE]).add_key(self.verifying.clone());
        let builder = if cache {
            builder
        } else {
            builder.token_cache_capacity(0)
        };
        Ok(builder.build()?)
    }
}

fn bearer(token: &str) -> Result<HeaderValue, BoxError> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

// ---------------------------------------------------------------------------------------
// The handler and the servers.

async fn who(principal: Option<Principal>) -> axum::Json<serde_json::Value> {
    let sub = principal
        .as_ref()
        .and_then(Principal::subject)
        .unwrap_or("anonymous");
    axum::Json(json!({ "sub": sub }))
}

async fn serve(app: Router) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn serve_mtls(app: Router, acceptor: &MtlsAcceptor) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = acceptor.incoming(listener);
    tokio::spawn(async move {
        axum::serve(
            incoming,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });
    Ok(addr)
}

/// The gRPC method: answers the principal's subject, or `anonymous`.
#[derive(Clone)]
struct Who;

impl ServiceName for Who {
    const NAME: &'static str = "load.Who";
}

async fn who_handler(
    request: tonic::Request<()>,
) -> Result<tonic::Response<String>, tonic::Status> {
    let sub = request
        .principal()
        .and_then(|p| p.subject().map(str::to_owned))
        .unwrap_or_else(|| "anonymous".to_owned());
    Ok::<_, tonic::Status>(tonic::Response::new(sub))
}

// ---------------------------------------------------------------------------------------
// The load generator.

/// What the workers of one run saw.
#[derive(Clone)]
struct Tally {
    ok: u64,
    errors: u64,
    latency: Histogram,
    elapsed: Duration,
}

impl Tally {
    fn new() -> Self {
        Self {
            ok: 0,
            errors: 0,
            latency: Histogram::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, other: &Self) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }

    fn per_second(&self) -> f64 {
        (self.ok + self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One request on one connection: `Ok(true)` for the expected answer.
trait Connection: Send + 'static {
    fn request(&mut self) -> impl Future<Output = bool> + Send;
}

/// HTTP/1.1 on one connection, one request at a time.
struct Http {
    sender: SendRequest<Empty<Bytes>>,
    uri: Uri,
    authorization: Option<HeaderValue>,
}

impl Connection for Http {
    async fn request(&mut self) -> bool {
        if self.sender.ready().await.is_err() {
            return false;
        }
        let mut request = Request::get(self.uri.clone());
        if let Some(value) = &self.authorization {
            request = request.header(http::header::AUTHORIZATION, value.clone());
        }
        let Ok(request) = request.body(Empty::new()) else {
            return false;
        };
        match self.sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status() == StatusCode::OK;
                ok && response.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        }
    }
}

/// gRPC: one HTTP/2 connection, one call at a time.
struct Grpc {
    grpc: tonic::client::Grpc<Channel>,
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Connection for Grpc {
    async fn request(&mut self) -> bool {
        if self.grpc.ready().await.is_err() {
            return false;
        }
        let mut request = tonic::Request::new(());
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        self.grpc
            .unary::<_, String, _>(
                request,
                PathAndQuery::from_static(WHO),
                ProstCodec::<(), String>::default(),
            )
            .await
            .is_ok()
    }
}

async fn worker<C: Connection>(mut connection: C, end: Instant) -> Tally {
    let mut tally = Tally::new();
    while Instant::now() < end {
        let started = Instant::now();
        let ok = connection.request().await;
        tally.latency.record(started.elapsed());
        if ok {
            tally.ok += 1;
        } else {
            tally.errors += 1;
        }
    }
    tally
}

/// Keeps `connections` busy for `duration`; each made by `connect`.
async fn drive<C, F, Fut>(
    connections: usize,
    duration: Duration,
    connect: F,
) -> Result<Tally, BoxError>
where
    C: Connection,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<C, BoxError>>,
{
    let mut made = Vec::with_capacity(connections);
    for _ in 0..connections {
        made.push(connect().await?);
    }
    // A short warm-up on every connection (caches, keys, pools), not counted.
    for connection in &mut made {
        connection.request().await;
    }
    let start = Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = made
        .into_iter()
        .map(|c| tokio::spawn(worker(c, end)))
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        total.merge(&task.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

async fn http1<IO>(io: IO) -> Result<SendRequest<Empty<Bytes>>, BoxError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// An HTTP run against `addr` (plain TCP) with `token`.
async fn http_run(
    settings: &Settings,
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<Tally, BoxError> {
    let authorization = token.map(bearer).transpose()?;
    let uri: Uri = format!("http://{addr}/who").parse()?;
    drive(settings.connections, settings.duration, || {
        let (uri, authorization) = (uri.clone(), authorization.clone());
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(Http {
                sender: http1(TokioIo::new(tcp)).await?,
                uri,
                authorization,
            })
        }
    })
    .await
}

/// An HTTP run over mutual TLS.
async fn mtls_run(
    settings: &Settings,
    addr: SocketAddr,
    connector: &MtlsConnector,
    token: Option<&str>,
) -> Result<Tally, BoxError> {
    let authorization = token.map(bearer).transpose()?;
    let uri: Uri = format!("https://localhost:{}/who", addr.port()).parse()?;
    drive(settings.connections, settings.duration, || {
        let (uri, authorization, mut connector) =
            (uri.clone(), authorization.clone(), connector.clone());
        async move {
            let stream = connector.ready().await?.call(uri.clone()).await?;
            Ok(Http {
                sender: http1(stream).await?,
                uri,
                authorization,
            })
        }
    })
    .await
}

async fn grpc_run(
    settings: &Settings,
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<Tally, BoxError> {
    let authorization = token.map(|t| format!("Bearer {t}").parse()).transpose()?;
    drive(settings.connections, settings.duration, || {
        let authorization = authorization.clone();
        async move {
            let channel = Endpoint::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect()
                .await?;
            Ok(Grpc {
                grpc: tonic::client::Grpc::new(channel),
                authorization,
            })
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The 3-hop chain.

type Forward = BoxCloneSyncService<Request<Empty<Bytes>>, http::Response<Incoming>, BoxError>;

/// A hop: calls the next one (with the principal, when there is one, for the minting
/// layer), answers what it answered.
async fn forward(
    State((next, uri)): State<(Forward, Uri)>,
    principal: Option<Principal>,
) -> HttpResponse {
    let Ok(mut request) = Request::get(uri).body(Empty::new()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    match next.oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            match response.into_body().collect().await {
                Ok(body) => (status, body.to_bytes()).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

fn pooled() -> PooledClient<HttpConnector, Empty<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    PooledClient::builder(TokioExecutor::new()).build(connector)
}

/// The chain with no layer: returns the gateway's address.
async fn plain_chain() -> Result<SocketAddr, BoxError> {
    let inventory = serve(Router::new().route("/who", get(who))).await?;
    let hop = |next: SocketAddr| -> Result<Router, BoxError> {
        let client = Forward::new(pooled().map_err(BoxError::from));
        Ok(Router::new()
            .route("/who", get(forward))
            .with_state((client, format!("http://{next}/who").parse::<Uri>()?)))
    };
    let orders = serve(hop(inventory)?).await?;
    serve(hop(orders)?).await
}

/// The chain with meshward: the gateway validates the user's token and mints for orders;
/// orders verifies, mints for inventory; inventory verifies the two-level chain.
async fn meshward_chain(idp: &Idp) -> Result<SocketAddr, BoxError> {
    let users = idp.validator(true)?;
    let gateway = ServiceSigner::builder(
        GATEWAY,
        SigningKey::generate(Algorithm::ES256)?.with_kid("gateway"),
    )
    .build()?;
    let orders = ServiceSigner::builder(
        ORDERS,
        SigningKey::generate(Algorithm::ES256)?.with_kid("orders"),
    )
    .build()?;
    let keys_of = |signer: &ServiceSigner| -> Result<KeySource, BoxError> {
        Ok(KeySource::from_keys(KeySet::from_jwks_json(
            &signer.published_jwks().to_string(),
        )?))
    };
    let inventory_verifier = ServiceTokenVerifier::builder(INVENTORY)
        .trust_service(GATEWAY, keys_of(&gateway)?)
        .trust_service(ORDERS, keys_of(&orders)?)
        .user_tokens(users.clone())
        .build()?;
    let inventory = serve(
        Router::new()
            .route("/who", get(who))
            .layer(AuthLayer::new(inventory_verifier)),
    )
    .await?;
    let orders_verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, keys_of(&gateway)?)
        .user_tokens(users.clone())
        .build()?;
    let to = |signer: &ServiceSigner, audience: &str, next: SocketAddr| -> Result<_, BoxError> {
        let client = ServiceBuilder::new()
            .layer(MintLayer::new(signer.clone(), audience))
            .service(pooled());
        Ok((
            Forward::new(client.map_err(BoxError::from)),
            format!("http://{next}/who").parse::<Uri>()?,
        ))
    };
    let orders_addr = serve(
        Router::new()
            .route("/who", get(forward))
            .with_state(to(&orders, INVENTORY, inventory)?)
            .layer(AuthLayer::new(orders_verifier)),
    )
    .await?;
    serve(
        Router::new()
            .route("/who", get(forward))
            .with_state(to(&gateway, ORDERS, orders_addr)?)
            .layer(AuthLayer::new(users)),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// The PKI for the mTLS runs.

struct Pki {
    server: TlsIdentity,
    client: TlsIdentity,
    ca: String,
}

fn pki() -> Result<Pki, BoxError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
    let leaf = |id: &str, purpose| -> Result<TlsIdentity, BoxError> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        params.subject_alt_names.push(SanType::URI(id.try_into()?));
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        Ok(TlsIdentity::pem(cert.pem(), key.serialize_pem()))
    };
    Ok(Pki {
        server: leaf(ORDERS, ExtendedKeyUsagePurpose::ServerAuth)?,
        client: leaf(GATEWAY, ExtendedKeyUsagePurpose::ClientAuth)?,
        ca: ca.pem(),
    })
}

// ---------------------------------------------------------------------------------------
// The runs.

struct Settings {
    connections: usize,
    duration: Duration,
    rounds: usize,
    /// Only the groups with a run whose name contains this (`--only "3 hops"`).
    only: Option<String>,
}

impl Settings {
    fn from_args() -> Result<Self, BoxError> {
        let mut settings = Self {
            connections: 32,
            duration: Duration::from_secs(2),
            rounds: 3,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--seconds" => settings.duration = Duration::from_secs_f64(value.parse()?),
                "--connections" => settings.connections = value.parse()?,
                "--rounds" => settings.rounds = value.parse()?,
                "--only" => settings.only = Some(value),
                _ => return Err(format!("unknown argument {arg}").into()),
            }
        }
        if settings.connections == 0 || settings.duration.is_zero() || settings.rounds == 0 {
            return Err("--connections, --seconds and --rounds must be more than zero".into());
        }
        Ok(settings)
    }
}

/// Peak resident memory of this process (Linux; `None` elsewhere).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Every server of the runs, started once.
struct Servers {
    rs_token: String,
    open: SocketAddr,
    cached: SocketAddr,
    uncached: Vec<(String, SocketAddr, String)>,
    rules: SocketAddr,
    mtls_open: SocketAddr,
    mtls_guarded: SocketAddr,
    connector: MtlsConnector,
    /// The calling service's signer: its tokens live a minute, so each run mints a fresh one.
    caller: ServiceSigner,
    grpc_open: SocketAddr,
    grpc_auth: SocketAddr,
    grpc_rules: SocketAddr,
    chain_plain: SocketAddr,
    chain_guarded: SocketAddr,
}

async fn serve_grpc(
    auth: Option<Validator>,
    rules: Option<RuleTable>,
) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = TcpListenerStream::new(listener);
    match (auth, rules) {
        (Some(v), Some(r)) => tokio::spawn(
            tonic::transport::Server::builder()
                .layer(AuthLayer::new(v))
                .layer(AuthzLayer::new(r))
                .add_service(Unary::<Who, _>::new(who_handler))
                .serve_with_incoming(incoming),
        ),
        (Some(v), None) => tokio::spawn(
            tonic::transport::Server::builder()
                .layer(AuthLayer::new(v))
                .add_service(Unary::<Who, _>::new(who_handler))
                .serve_with_incoming(incoming),
        ),
        _ => tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Unary::<Who, _>::new(who_handler))
                .serve_with_incoming(incoming),
        ),
    };
    Ok(addr)
}

async fn start() -> Result<Servers, BoxError> {
    let idps = [
        Idp::new(Algorithm::RS256)?,
        Idp::new(Algorithm::ES256)?,
        Idp::new(Algorithm::EdDSA)?,
    ];
    let rs = &idps[0];
    let rs_token = rs.token()?;
    let layered = |layer: AuthLayer<Validator>| Router::new().route("/who", get(who)).layer(layer);
    let open = serve(Router::new().route("/who", get(who))).await?;
    let cached = serve(layered(AuthLayer::new(rs.validator(true)?))).await?;
    let mut uncached = Vec::new();
    for idp in &idps {
        let addr = serve(layered(AuthLayer::new(idp.validator(false)?))).await?;
        uncached.push((
            format!("AuthLayer, uncached {:?}", idp.alg),
            addr,
            idp.token()?,
        ));
    }
    let table = |path: &str| {
        RuleTable::builder()
            .rule(
                Rule::new("read")
                    .path(path)
                    .require(require::scopes_any(["orders:read"])),
            )
            .build()
    };
    let rules = serve(
        Router::new()
            .route("/who", get(who))
            .layer(AuthzLayer::new(table("/who")?))
            .layer(AuthLayer::new(rs.validator(true)?)),
    )
    .await?;

    // mTLS: the same handler, no layer; then a service token from the client's service.
    let pki = pki()?;
    let acceptor = MtlsAcceptor::builder(pki.server.clone())
        .add_client_ca_pem(pki.ca.clone())
        .build()?;
    let connector = MtlsClient::builder(pki.client.clone())
        .add_server_ca_pem(pki.ca.clone())
        .alpn_protocols([b"http/1.1".to_vec()])
        .build()?
        .connector();
    let mtls_open = serve_mtls(Router::new().route("/who", get(who)), &acceptor).await?;
    let caller = ServiceSigner::builder(
        GATEWAY,
        SigningKey::generate(Algorithm::ES256)?.with_kid("gateway"),
    )
    .build()?;
    let verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(
            GATEWAY,
            KeySource::from_keys(KeySet::from_jwks_json(
                &caller.published_jwks().to_string(),
            )?),
        )
        .bind_caller_to_peer()
        .build()?;
    let mtls_guarded = serve_mtls(
        Router::new()
            .route("/who", get(who))
            .layer(AuthLayer::new(verifier)),
        &acceptor,
    )
    .await?;

    Ok(Servers {
        open,
        cached,
        uncached,
        rules,
        mtls_open,
        mtls_guarded,
        connector,
        caller,
        grpc_open: serve_grpc(None, None).await?,
        grpc_auth: serve_grpc(Some(rs.validator(true)?), None).await?,
        grpc_rules: serve_grpc(Some(rs.validator(true)?), Some(table(WHO)?)).await?,
        chain_plain: plain_chain().await?,
        chain_guarded: meshward_chain(rs).await?,
        rs_token,
    })
}

/// One row of one round: its rate, and its ratio to its baseline in the same round.
struct Measured {
    name: String,
    tally: Tally,
    ratio: Option<f64>,
    target: Option<f64>,
}

/// What one run drives.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// HTTP/1.1 on plain TCP, with this token.
    Http(SocketAddr, &'a str),
    /// HTTP/1.1 over mutual TLS, with no token, or a service token minted for the run.
    Mtls(SocketAddr, bool),
    /// gRPC with this token.
    Grpc(SocketAddr, &'a str),
}

async fn run(s: &Servers, settings: &Settings, target: Target<'_>) -> Result<Tally, BoxError> {
    match target {
        Target::Http(addr, token) => http_run(settings, addr, Some(token)).await,
        Target::Mtls(addr, false) => mtls_run(settings, addr, &s.connector, None).await,
        Target::Mtls(addr, true) => {
            // A service token lives a minute: a fresh one for each run, as a caller would.
            let token = s.caller.mint_as_service(ORDERS)?;
            mtls_run(settings, addr, &s.connector, Some(token.as_str())).await
        }
        Target::Grpc(addr, token) => grpc_run(settings, addr, Some(token)).await,
    }
}

/// The baseline before, between and after the subjects; each subject's ratio is to the
/// mean of the two baseline runs around it (the machine's drift cancels out).
async fn group(
    s: &Servers,
    settings: &Settings,
    baseline: (&str, Target<'_>),
    subjects: &[(&str, Target<'_>, Option<f64>)],
    rows: &mut Vec<Measured>,
) -> Result<(), BoxError> {
    if let Some(only) = &settings.only
        && !baseline.0.contains(only.as_str())
        && !subjects
            .iter()
            .any(|(name, ..)| name.contains(only.as_str()))
    {
        return Ok(());
    }
    let mut before = run(s, settings, baseline.1).await?;
    let mut all = before.clone();
    let mut measured = Vec::new();
    for (name, target, goal) in subjects {
        let tally = run(s, settings, *target).await?;
        let after = run(s, settings, baseline.1).await?;
        let base = (before.per_second() + after.per_second()) / 2.0;
        measured.push(Measured {
            name: (*name).to_owned(),
            ratio: Some(tally.per_second() / base),
            tally,
            target: *goal,
        });
        all.merge(&after);
        all.elapsed += after.elapsed;
        before = after;
    }
    rows.push(Measured {
        name: baseline.0.to_owned(),
        tally: all,
        ratio: None,
        target: None,
    });
    rows.extend(measured);
    Ok(())
}

/// Every run once, each subject between two runs of its baseline.
async fn round(s: &Servers, settings: &Settings) -> Result<Vec<Measured>, BoxError> {
    let token = s.rs_token.as_str();
    let mut rows = Vec::new();
    let mut http = vec![(
        "AuthLayer, cached RS256",
        Target::Http(s.cached, token),
        Some(0.90),
    )];
    for (name, addr, token) in &s.uncached {
        http.push((name.as_str(), Target::Http(*addr, token.as_str()), None));
    }
    http.push((
        "AuthLayer + rules, cached",
        Target::Http(s.rules, token),
        None,
    ));
    group(
        s,
        settings,
        ("unprotected", Target::Http(s.open, token)),
        &http,
        &mut rows,
    )
    .await?;
    group(
        s,
        settings,
        ("mTLS, no layer", Target::Mtls(s.mtls_open, false)),
        &[(
            "mTLS + service token",
            Target::Mtls(s.mtls_guarded, true),
            None,
        )],
        &mut rows,
    )
    .await?;
    group(
        s,
        settings,
        ("gRPC, no layer", Target::Grpc(s.grpc_open, token)),
        &[
            (
                "gRPC + AuthLayer, cached",
                Target::Grpc(s.grpc_auth, token),
                None,
            ),
            (
                "gRPC + AuthLayer + rules, cached",
                Target::Grpc(s.grpc_rules, token),
                None,
            ),
        ],
        &mut rows,
    )
    .await?;
    group(
        s,
        settings,
        ("3 hops, no layer", Target::Http(s.chain_plain, token)),
        &[(
            "3 hops, mint + verify at each",
            Target::Http(s.chain_guarded, token),
            Some(0.80),
        )],
        &mut rows,
    )
    .await?;
    Ok(rows)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() -> Result<std::process::ExitCode, BoxError> {
    let settings = Settings::from_args()?;
    println!(
        "{} connections, {:?} per run, {} rounds, {} cores; build: {}",
        settings.connections,
        settings.duration,
        settings.rounds,
        std::thread::available_parallelism().map_or(1, usize::from),
        if cfg!(debug_assertions) {
            "debug (use --release for numbers)"
        } else {
            "release"
        }
    );
    let servers = start().await?;
    println!("RS256 access token: {} bytes", servers.rs_token.len());

    let mut rounds = Vec::new();
    for n in 1..=settings.rounds {
        eprintln!("round {n} of {}", settings.rounds);
        rounds.push(round(&servers, &settings).await?);
    }

    println!(
        "\n{:<36} {:>11} {:>9} {:>9} {:>7} {:>7}",
        "run (medians of the rounds)", "requests/s", "p50 µs", "p99 µs", "ratio", "errors"
    );
    println!("{}", "-".repeat(86));
    let mut missed = Vec::new();
    for (i, row) in rounds[0].iter().enumerate() {
        let same: Vec<&Measured> = rounds.iter().filter_map(|r| r.get(i)).collect();
        let rate = median(same.iter().map(|m| m.tally.per_second()).collect());
        let ratio = row
            .ratio
            .map(|_| median(same.iter().filter_map(|m| m.ratio).collect()));
        let mut latency = Histogram::new();
        let mut errors = 0;
        for m in &same {
            latency.merge(&m.tally.latency);
            errors += m.tally.errors;
        }
        println!(
            "{:<36} {:>11.0} {:>9} {:>9} {:>7} {:>7}",
            row.name,
            rate,
            latency.quantile(0.5).as_micros(),
            latency.quantile(0.99).as_micros(),
            ratio.map_or("base".to_owned(), |r| format!("{r:.2}")),
            errors
        );
        if errors > 0 {
            missed.push(format!("{}: {errors} errors", row.name));
        }
        if let (Some(ratio), Some(target)) = (ratio, row.target)
            && ratio < target
        {
            missed.push(format!("{}: {ratio:.2} < target {target:.2}", row.name));
        }
    }
    println!(
        "\nratios: each run to the mean of the two runs of the baseline above it made just \
         before and just after it; the median of the rounds' ratios."
    );
    if let Some(peak) = peak_rss_mib() {
        println!("peak RSS of the process (servers and load generator): {peak:.1} MiB");
    }
    if missed.is_empty() {
        println!("no errors; every target met");
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("missed: {}", missed.join("; "));
        Ok(std::process::ExitCode::FAILURE)
    }
}
