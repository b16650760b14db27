//! A soak run: an axum server and a tonic server shaped like `protected_server` (remote keys,
//! mTLS, `AuthLayer`), under steady load from HTTP and gRPC clients with client certificates,
//! while the key provider rotates its keys, goes down, comes back and serves garbage, and the
//! servers' certificates are reloaded. Not part of `cargo test`.
//!
//! Run with `cargo run --release --example soak --features axum,tonic [-- SECONDS]` (default
//! 60 s; BENCHMARKS.md records a 10-minute run). Everything listens on 127.0.0.1.
//!
//! The key provider follows a 30-second cycle after 3 seconds down at start (the only window
//! where 503 is expected: no key has been loaded yet):
//!
//! | second of the cycle | key provider |
//! |---|---|
//! | 0 | publishes a new key beside the current one |
//! | 5 | tokens are signed with the new key from now on |
//! | 10 | the old key is withdrawn |
//! | 15–19 | down (503) |
//! | 20–24 | serves garbage (200, not a JWKS) |
//! | 25–29 | up |
//!
//! The server certificate is replaced on disk and reloaded every 20 seconds, and one client
//! opens a new connection (a full mTLS handshake) for every request.
//!
//! The run fails (exit status 1) if any request got an answer other than success, except
//! 503 / UNAVAILABLE before the first key load, or if open descriptors or resident memory
//! grew after the warm-up (the first quarter of the run, at most 60 s) beyond a small slack.

#[path = "support/histogram.rs"]
mod histogram;

#[path = "support/unary.rs"]
mod unary;
use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use unary::{ServiceName, Unary};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::uri::PathAndQuery;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meshward::Principal;
use meshward::jwt::{AuthLayer, KeySource, Validator};
use meshward::mtls::{MtlsAcceptor, MtlsClient, PeerInfo, TlsIdentity};
use meshward::tonic::RequestExt;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server};
use tonic_prost::ProstCodec;

use self::histogram::Histogram;

type BoxError = Box<dyn Error + Send + Sync>;

const ISSUER: &str = "https://idp.soak.test";
const AUDIENCE: &str = "soak-api";
const WHOAMI: &str = "/meshward.soak.WhoAmI/Get";
const USERS: usize = 64;
const HTTP_WORKERS: usize = 6;
const GRPC_WORKERS: usize = 4;

// ---------------------------------------------------------------------------------------
// The key provider.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Up,
    Down,
    Garbage,
}

struct IdpKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl IdpKey {
    fn generate(n: u32) -> Result<Self, BoxError> {
        use base64::Engine as _;
        let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let kid = format!("soak-{n}");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key_raw());
        Ok(Self {
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x}),
            encoding: EncodingKey::from_ed_der(pair.serialized_der()),
            kid,
        })
    }

    fn token(&self, sub: &str) -> Result<String, BoxError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": "soak",
            "iat": now, "nbf": now, "exp": now + 600,
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }
}

struct Provider {
    mode: Mode,
    published: Vec<Value>,
    served: BTreeMap<&'static str, u64>,
}

async fn jwks(State(provider): State<Arc<Mutex<Provider>>>) -> Response {
    let Ok(mut p) = provider.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match p.mode {
        Mode::Up => {
            *p.served.entry("keys").or_default() += 1;
            let body = json!({"keys": p.published}).to_string();
            ([(http::header::CACHE_CONTROL, "max-age=5")], body).into_response()
        }
        Mode::Down => {
            *p.served.entry("503").or_default() += 1;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Mode::Garbage => {
            *p.served.entry("garbage").or_default() += 1;
            (
                [(http::header::CACHE_CONTROL, "max-age=5")],
                "{\"keys\": [{\"kty\": 7, ",
            )
                .into_response()
        }
    }
}

/// The tokens the clients send: one per user, all signed with the current key.
type Tokens = Arc<RwLock<Arc<Vec<String>>>>;

fn mint_all(key: &IdpKey) -> Result<Arc<Vec<String>>, BoxError> {
    let tokens: Result<Vec<_>, _> = (0..USERS)
        .map(|u| key.token(&format!("user-{u}")))
        .collect();
    Ok(Arc::new(tokens?))
}

fn set_mode(provider: &Mutex<Provider>, mode: Mode) {
    if let Ok(mut p) = provider.lock() {
        p.mode = mode;
    }
}

fn publish(provider: &Mutex<Provider>, keys: &[&IdpKey]) {
    if let Ok(mut p) = provider.lock() {
        p.published = keys.iter().map(|k| k.jwk.clone()).collect();
    }
}

/// Drives the key provider through its cycle until `end`.
async fn key_provider_cycle(
    provider: Arc<Mutex<Provider>>,
    tokens: Tokens,
    first: IdpKey,
    end: Instant,
) -> Result<u32, BoxError> {
    let mut current = first;
    let mut rotations = 0;
    let mut next: Option<IdpKey> = None;
    tokio::time::sleep(Duration::from_secs(3)).await;
    set_mode(&provider, Mode::Up);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        let second = start.elapsed().as_secs() % 30;
        match second {
            0 => {
                let new = IdpKey::generate(rotations + 2)?;
                publish(&provider, &[&current, &new]);
                next = Some(new);
            }
            5 => {
                if let Some(new) = next.take() {
                    let minted = mint_all(&new)?;
                    if let Ok(mut t) = tokens.write() {
                        *t = minted;
                    }
                    current = new;
                    rotations += 1;
                }
            }
            10 => publish(&provider, &[&current]),
            15 => set_mode(&provider, Mode::Down),
            20 => set_mode(&provider, Mode::Garbage),
            25 => set_mode(&provider, Mode::Up),
            _ => {}
        }
    }
    Ok(rotations)
}

// ---------------------------------------------------------------------------------------
// Certificates.

struct Pem {
    cert: String,
    key: String,
}

fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, client: Option<&str>) -> Result<Pem, BoxError> {
    let mut params = CertificateParams::new(match client {
        None => vec!["localhost".to_owned()],
        Some(_) => vec![],
    })?;
    if let Some(id) = client {
        params.subject_alt_names.push(SanType::URI(id.try_into()?));
    }
    params.extended_key_usages = vec![match client {
        None => ExtendedKeyUsagePurpose::ServerAuth,
        Some(_) => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn write_server_cert(
    ca: &CertifiedIssuer<'static, KeyPair>,
    dir: &std::path::Path,
) -> Result<(), BoxError> {
    let pem = leaf(ca, None)?;
    // Key first, then certificate: a reload between the two writes is refused (the pair does
    // not match) and the certificate in force stays; the next reload takes the new pair.
    std::fs::write(dir.join("server.key"), pem.key)?;
    std::fs::write(dir.join("server.crt"), pem.cert)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The servers.

async fn whoami(principal: Principal) -> String {
    principal.subject().unwrap_or("-").to_owned()
}

#[derive(Clone)]
struct WhoAmI;

impl ServiceName for WhoAmI {
    const NAME: &'static str = "meshward.soak.WhoAmI";
}

async fn who_am_i_handler(
    request: tonic::Request<()>,
) -> Result<tonic::Response<String>, tonic::Status> {
    let sub = request
        .principal()
        .and_then(|p| p.subject())
        .unwrap_or("-")
        .to_owned();
    Ok::<_, tonic::Status>(tonic::Response::new(sub))
}

// ---------------------------------------------------------------------------------------
// Load and what it saw.

struct Tally {
    latency: Histogram,
    outcomes: BTreeMap<String, u64>,
}

struct Shared {
    requests: AtomicU64,
    unexpected: AtomicU64,
    keys_loaded: AtomicBool,
}

impl Shared {
    /// Whether a request starting now may meet the 503 window: no request has succeeded yet.
    fn before_keys(&self) -> bool {
        !self.keys_loaded.load(Ordering::Relaxed)
    }

    fn record(
        &self,
        tally: &mut Tally,
        started: Instant,
        before_keys: bool,
        outcome: Result<(), String>,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        tally.latency.record(started.elapsed());
        let label = match outcome {
            Ok(()) => {
                self.keys_loaded.store(true, Ordering::Relaxed);
                "ok".to_owned()
            }
            Err(what) => {
                if before_keys && (what == "http 503" || what == "grpc Unavailable") {
                    format!("{what} before the first key load (expected)")
                } else {
                    self.unexpected.fetch_add(1, Ordering::Relaxed);
                    format!("{what} (unexpected)")
                }
            }
        };
        *tally.outcomes.entry(label).or_default() += 1;
    }
}

fn pick(tokens: &Tokens, n: usize) -> Option<String> {
    let tokens = tokens.read().ok()?;
    tokens.get(n % tokens.len().max(1)).cloned()
}

async fn http_worker(
    client: reqwest::Client,
    url: String,
    tokens: Tokens,
    shared: Arc<Shared>,
    seed: usize,
    end: Instant,
) -> Tally {
    let mut tally = Tally {
        latency: Histogram::new(),
        outcomes: BTreeMap::new(),
    };
    let mut n = seed;
    while Instant::now() < end {
        n += 1;
        let Some(token) = pick(&tokens, n) else {
            continue;
        };
        let before_keys = shared.before_keys();
        let started = Instant::now();
        let outcome = match client.get(&url).bearer_auth(&token).send().await {
            Ok(response) if response.status() == StatusCode::OK => match response.text().await {
                Ok(body) if body.starts_with("user-") => Ok(()),
                Ok(body) => Err(format!("http 200 with body {body:?}")),
                Err(e) => Err(format!("http body error: {e}")),
            },
            Ok(response) => Err(format!("http {}", response.status().as_u16())),
            Err(e) => Err(format!("http transport error: {}", error_chain(&e))),
        };
        shared.record(&mut tally, started, before_keys, outcome);
    }
    tally
}

async fn grpc_worker(
    channel: Channel,
    tokens: Tokens,
    shared: Arc<Shared>,
    seed: usize,
    end: Instant,
) -> Tally {
    let mut tally = Tally {
        latency: Histogram::new(),
        outcomes: BTreeMap::new(),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    let mut n = seed;
    while Instant::now() < end {
        n += 1;
        let Some(token) = pick(&tokens, n) else {
            continue;
        };
        let before_keys = shared.before_keys();
        let started = Instant::now();
        let mut request = tonic::Request::new(());
        let outcome = match format!("Bearer {token}").parse() {
            Err(_) => Err("token is not a header value".to_owned()),
            Ok(value) => {
                request.metadata_mut().insert("authorization", value);
                match grpc.ready().await {
                    Err(e) => Err(format!("grpc transport error: {}", error_chain(&e))),
                    Ok(()) => grpc
                        .unary::<_, String, _>(
                            request,
                            PathAndQuery::from_static(WHOAMI),
                            ProstCodec::<(), String>::default(),
                        )
                        .await
                        .map_err(|status| format!("grpc {:?}", status.code()))
                        .and_then(|answer| {
                            if answer.get_ref().starts_with("user-") {
                                Ok(())
                            } else {
                                Err(format!("grpc OK with {:?}", answer.get_ref()))
                            }
                        }),
                }
            }
        };
        shared.record(&mut tally, started, before_keys, outcome);
    }
    tally
}

fn error_chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

// ---------------------------------------------------------------------------------------
// The process.

/// Resident memory now and at its peak, in KiB (Linux; zero elsewhere).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn key_fetches(keys: &KeySource) -> (u64, u64) {
    keys.stats().map_or((0, 0), |s| (s.fetches, s.failures))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn seconds() -> Result<u64, BoxError> {
    match std::env::args().nth(1) {
        None => Ok(60),
        Some(s) => Ok(s
            .parse()
            .map_err(|_| format!("usage: soak [SECONDS], not {s:?}"))?),
    }
}

async fn run() -> Result<bool, BoxError> {
    let run_for = Duration::from_secs(seconds()?);
    let warm_up = (run_for / 4).min(Duration::from_secs(60));

    // PKI: a CA, the servers' certificate on disk (reloaded), one client certificate.
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let dir: PathBuf = std::env::temp_dir().join(format!("meshward-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    write_server_cert(&ca, &dir)?;
    let client_pem = leaf(&ca, Some("spiffe://soak.test/load"))?;

    // The key provider, down at start.
    let first = IdpKey::generate(1)?;
    let tokens: Tokens = Arc::new(RwLock::new(mint_all(&first)?));
    let provider = Arc::new(Mutex::new(Provider {
        mode: Mode::Down,
        published: vec![first.jwk.clone()],
        served: BTreeMap::new(),
    }));
    let idp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/jwks", idp_listener.local_addr()?);
    let idp = Router::new()
        .route("/jwks", get(jwks))
        .with_state(Arc::clone(&provider));
    tokio::spawn(async move { axum::serve(idp_listener, idp).await });

    // One validator for both servers, as one protected_server process would have.
    let keys = KeySource::jwks(&jwks_url)
        .allow_insecure_http()
        .refresh_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .refresh_cooldown(Duration::from_secs(1))
        .failure_backoff(Duration::from_secs(1))
        .fetch_timeout(Duration::from_secs(2))
        .build()?;
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .key_source(keys.clone())
        .build()?;

    let acceptor = |dir: &std::path::Path| {
        MtlsAcceptor::builder(TlsIdentity::pem_files(
            dir.join("server.crt"),
            dir.join("server.key"),
        ))
        .add_client_ca_pem(ca.pem())
        .build()
    };
    let http_acceptor = acceptor(&dir)?;
    let grpc_acceptor = acceptor(&dir)?;

    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http_listener.local_addr()?;
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(AuthLayer::new(validator.clone()));
    let incoming = http_acceptor.incoming(http_listener);
    tokio::spawn(async move {
        axum::serve(
            incoming,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });

    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let incoming = grpc_acceptor.incoming(grpc_listener);
    let grpc_server = Server::builder()
        .layer(AuthLayer::new(validator.clone()))
        .add_service(Unary::<WhoAmI, _>::new(who_am_i_handler));
    tokio::spawn(async move { grpc_server.serve_with_incoming(incoming).await });

    // Clients with the client certificate.
    let tls = MtlsClient::builder(TlsIdentity::pem(
        client_pem.cert.clone(),
        client_pem.key.clone(),
    ))
    .add_server_ca_pem(ca.pem())
    .build()?;
    let http_client = |pooled: bool| {
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls((*tls.client_config()).clone())
            .resolve("localhost", http_addr)
            .timeout(Duration::from_secs(10));
        let builder = if pooled {
            builder
        } else {
            builder.pool_max_idle_per_host(0)
        };
        builder.build()
    };
    let url = format!("https://localhost:{}/whoami", http_addr.port());
    let channel = Channel::from_shared(format!("https://127.0.0.1:{}", grpc_addr.port()))?
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca.pem()))
                .identity(Identity::from_pem(&client_pem.cert, &client_pem.key))
                .domain_name("localhost"),
        )?
        .timeout(Duration::from_secs(10))
        .connect_lazy();

    let start = Instant::now();
    let end = start + run_for;
    let shared = Arc::new(Shared {
        requests: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        keys_loaded: AtomicBool::new(false),
    });
    println!(
        "soak: {} s; HTTP on {http_addr}, gRPC on {grpc_addr}, keys at {jwks_url}; \
         {HTTP_WORKERS} HTTP + 1 reconnecting + {GRPC_WORKERS} gRPC clients",
        run_for.as_secs()
    );

    let cycle = tokio::spawn(key_provider_cycle(
        Arc::clone(&provider),
        Arc::clone(&tokens),
        first,
        end,
    ));
    let mut workers = Vec::new();
    for w in 0..HTTP_WORKERS {
        workers.push(tokio::spawn(http_worker(
            http_client(true)?,
            url.clone(),
            Arc::clone(&tokens),
            Arc::clone(&shared),
            w * 11,
            end,
        )));
    }
    workers.push(tokio::spawn(http_worker(
        http_client(false)?,
        url.clone(),
        Arc::clone(&tokens),
        Arc::clone(&shared),
        7,
        end,
    )));
    for w in 0..GRPC_WORKERS {
        workers.push(tokio::spawn(grpc_worker(
            channel.clone(),
            Arc::clone(&tokens),
            Arc::clone(&shared),
            w * 13,
            end,
        )));
    }

    // Every 20 s a new server certificate; every 10 s a line of progress.
    let mut after_warm_up = None;
    let mut peak_fds = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_reload = Instant::now();
    let mut ticks: u64 = 0;
    while Instant::now() < end {
        tick.tick().await;
        ticks += 1;
        let elapsed = start.elapsed();
        peak_fds = peak_fds.max(open_fds());
        if last_reload.elapsed() >= Duration::from_secs(20) {
            last_reload = Instant::now();
            write_server_cert(&ca, &dir)?;
            for acceptor in [&http_acceptor, &grpc_acceptor] {
                if let Err(e) = acceptor.reload() {
                    println!("reload refused: {e}");
                }
            }
        }
        if after_warm_up.is_none() && elapsed >= warm_up {
            after_warm_up = Some((memory().0, open_fds()));
        }
        if ticks.is_multiple_of(10) {
            let (fetches, failures) = key_fetches(&keys);
            println!(
                "t={:>4}s requests={:>9} unexpected={} rss={} KiB fds={} key fetches={} failed={} reloads={}",
                elapsed.as_secs(),
                shared.requests.load(Ordering::Relaxed),
                shared.unexpected.load(Ordering::Relaxed),
                memory().0,
                open_fds(),
                fetches,
                failures,
                http_acceptor.reloads() + grpc_acceptor.reloads(),
            );
        }
    }

    let mut latency = Histogram::new();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for worker in workers {
        let tally = worker.await?;
        latency.merge(&tally.latency);
        for (k, v) in tally.outcomes {
            *outcomes.entry(k).or_default() += v;
        }
    }
    let rotations = cycle.await??;
    let (rss_end, rss_peak) = memory();
    let fds_end = open_fds();
    let (rss_warm, fds_warm) = after_warm_up.unwrap_or((rss_end, fds_end));
    let total = shared.requests.load(Ordering::Relaxed);
    let unexpected = shared.unexpected.load(Ordering::Relaxed);
    let (fetches, failures) = key_fetches(&keys);
    let served = provider
        .lock()
        .map(|p| p.served.clone())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n== soak report ({} s)", run_for.as_secs());
    println!(
        "requests        {total} ({:.0}/s)",
        total as f64 / run_for.as_secs_f64()
    );
    for (outcome, n) in &outcomes {
        println!("  {n:>10}  {outcome}");
    }
    println!(
        "latency         p50 {:?}  p99 {:?}  p99.9 {:?}",
        latency.quantile(0.50),
        latency.quantile(0.99),
        latency.quantile(0.999)
    );
    println!(
        "memory          {rss_warm} KiB after warm-up ({} s), {rss_end} KiB at the end, peak {rss_peak} KiB",
        warm_up.as_secs()
    );
    println!("descriptors     {fds_warm} after warm-up, {fds_end} at the end, peak {peak_fds}");
    println!(
        "key provider    {rotations} rotations; answered {served:?}; the validator fetched {} times, {} failed",
        fetches, failures
    );
    println!(
        "certificates    {} reloads; {} handshakes failed",
        http_acceptor.reloads() + grpc_acceptor.reloads(),
        http_acceptor.handshakes_failed() + grpc_acceptor.handshakes_failed()
    );
    let fds_grew = fds_end > fds_warm + 32;
    let rss_grew = rss_end > rss_warm + rss_warm / 2 + 8 * 1024;
    let ok = unexpected == 0 && !fds_grew && !rss_grew && total > 0;
    println!(
        "verdict         {}",
        if ok {
            "PASS: no unexpected answer, no growth after warm-up".to_owned()
        } else {
            format!(
                "FAIL: {unexpected} unexpected answers{}{}",
                if fds_grew { ", descriptors grew" } else { "" },
                if rss_grew { ", memory grew" } else { "" }
            )
        }
    );
    Ok(ok)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}
