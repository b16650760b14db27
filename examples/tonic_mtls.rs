//! tonic over mutual TLS: the handler reads the caller's certificate identity, and a
//! `RequirePeerLayer` on the server refuses callers outside an allow-list with
//! `PERMISSION_DENIED`.
//!
//! Run with `cargo run --example tonic_mtls --features tonic`. The CA and certificates are
//! made at start (rcgen); everything listens on 127.0.0.1.

#[path = "support/unary.rs"]
mod unary;
use unary::{ServiceName, Unary, call_unary};

use meshward::mtls::{MtlsAcceptor, RequirePeerLayer, TlsIdentity};
use meshward::tonic::RequestExt;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server};
use tonic::{Request, Response, Status};

const PEER: &str = "/meshward.demo.Peer/Get";

/// `Get(google.protobuf.Empty) returns (StringValue)`: who is calling, by certificate.
#[derive(Clone)]
struct PeerService;

impl ServiceName for PeerService {
    const NAME: &'static str = "meshward.demo.Peer";
}

async fn peer_service_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let identity = request
        .peer_identity()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    let id = identity
        .spiffe_id()
        .map_or("(none)", |s| s.as_str())
        .to_owned();
    Ok::<_, Status>(Response::new(format!("you are {id}")))
}

struct Pem {
    cert: String,
    key: String,
}

fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    spiffe_id: Option<&str>,
) -> Result<Pem, rcgen::Error> {
    let server = spiffe_id.is_none();
    let names = if server {
        vec!["localhost".to_owned()]
    } else {
        vec![]
    };
    let mut params = CertificateParams::new(names)?;
    if let Some(id) = spiffe_id {
        params.subject_alt_names.push(SanType::URI(id.try_into()?));
    }
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "demo CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let server = leaf(&ca, None)?;

    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem(server.cert, server.key))
        .add_client_ca_pem(ca.pem())
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let incoming = acceptor.incoming(listener);
    let server_task = tokio::spawn(
        Server::builder()
            .layer(RequirePeerLayer::default().trust_domain("demo.test"))
            .add_service(Unary::<PeerService, _>::new(peer_service_handler))
            .serve_with_incoming(incoming),
    );

    for caller in [
        "spiffe://demo.test/ns/billing/sa/api",
        "spiffe://elsewhere.test/ns/x",
    ] {
        let pem = leaf(&ca, Some(caller))?;
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.pem()))
            .identity(Identity::from_pem(pem.cert, pem.key))
            .domain_name("localhost");
        let channel = Channel::from_shared(format!("https://localhost:{port}"))?
            .tls_config(tls)?
            .connect()
            .await?;
        match call_unary(channel, PEER, Request::new(())).await {
            Ok(answer) => println!("{caller:<40} OK: {answer}"),
            Err(status) => println!(
                "{caller:<40} {:?} ({}): {}",
                status.code(),
                status.code() as i32,
                status.message()
            ),
        }
    }
    println!("server: {} identities parsed", acceptor.identities_parsed());
    server_task.abort();
    Ok(())
}
