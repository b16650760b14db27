//! axum over mutual TLS: a CA, a server certificate and two client certificates made at
//! start (rcgen), a route only one of the clients may call, and what the server saw.
//!
//! Run with `cargo run --example mtls_server --features axum`. Everything listens on
//! 127.0.0.1; no files are written. A client without a certificate is refused in the
//! handshake; the example names the TLS alert the server sent (asking again with a bare
//! handshake when the HTTP client dropped it, which counts as a second refused handshake).

#[path = "support/tls_alert.rs"]
mod tls_alert;

use axum::routing::get;
use axum::{Json, Router};
use meshward::mtls::{MtlsAcceptor, PeerIdentity, PeerInfo, RequirePeerLayer, TlsIdentity};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};

struct Pem {
    cert: String,
    key: String,
}

fn ca() -> Result<CertifiedIssuer<'static, KeyPair>, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "demo CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate()?)
}

fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    spiffe_id: Option<&str>,
    server: bool,
) -> Result<Pem, rcgen::Error> {
    let names = if server {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    } else {
        vec![]
    };
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, name);
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

async fn peer(identity: PeerIdentity) -> Json<Value> {
    Json(json!({
        "spiffe_id": identity.spiffe_id().map(|s| s.as_str()),
        "subject": identity.subject(),
        "x5t#S256": identity.thumbprint_sha256(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = ca()?;
    let server = leaf(&ca, "orders.internal", None, true)?;
    let billing = leaf(
        &ca,
        "billing",
        Some("spiffe://demo.test/ns/billing/sa/api"),
        false,
    )?;
    let stranger = leaf(
        &ca,
        "stranger",
        Some("spiffe://demo.test/ns/guest/sa/web"),
        false,
    )?;

    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem(server.cert, server.key))
        .add_client_ca_pem(ca.pem())
        .build()?;
    let app = Router::new()
        .route(
            "/orders",
            get(peer).route_layer(
                RequirePeerLayer::default().spiffe_path_prefix("spiffe://demo.test/ns/billing"),
            ),
        )
        .route("/peer", get(peer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let incoming = acceptor.incoming(listener);
    let server_task = tokio::spawn(async move {
        axum::serve(
            incoming,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });

    let client = |pem: Option<&Pem>| -> Result<reqwest::Client, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes())?]);
        if let Some(pem) = pem {
            let identity = format!("{}{}", pem.cert, pem.key);
            builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes())?);
        }
        builder.build()
    };
    for (name, pem, path) in [
        ("billing  ", Some(&billing), "/peer"),
        ("billing  ", Some(&billing), "/orders"),
        ("stranger ", Some(&stranger), "/peer"),
        ("stranger ", Some(&stranger), "/orders"),
        ("no cert  ", None, "/peer"),
    ] {
        let url = format!("https://127.0.0.1:{port}{path}");
        match client(pem)?.get(&url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await?;
                println!("{name} GET {path:<8} {status}  {body}");
            }
            Err(e) => {
                // The request's error may have lost the server's alert (the connection was
                // dropped first): ask again with a bare handshake and a read.
                let alert = match (tls_alert::alert(&e), pem) {
                    (Some(alert), _) => Some(alert),
                    (None, None) => {
                        let config = tls_alert::trusting(&ca.pem())
                            .map_err(|e| -> Box<dyn std::error::Error> { e })?;
                        let config = std::sync::Arc::new(config);
                        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                        tls_alert::handshake_alert(config, addr, "127.0.0.1").await
                    }
                    (None, Some(_)) => None,
                };
                let why = alert.map_or_else(
                    || innermost(&e),
                    |alert| format!("the server sent the TLS alert {alert}"),
                );
                println!("{name} GET {path:<8} refused: {why}");
            }
        }
    }
    println!(
        "\nserver: {} identities parsed, {} handshakes refused",
        acceptor.identities_parsed(),
        acceptor.handshakes_failed()
    );
    server_task.abort();
    Ok(())
}

/// The innermost cause of an error.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
