//! Naming the TLS alert a server refused a client with, for the `mesh` and `mtls_server`
//! examples. A TLS 1.3 client finishes its side of the handshake before the server has
//! judged the client's certificate, so the alert arrives on the first read, which an HTTP
//! client may report only as a dropped connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncReadExt as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client configuration that trusts the CAs in `ca_pem` and presents no certificate.
pub(crate) fn trusting(ca_pem: &str) -> Result<rustls::ClientConfig, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// The name of the TLS alert an error (or one of its causes) reports (`UnknownCA`, …).
pub(crate) fn alert(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some((_, rest)) = e.to_string().split_once("fatal alert: ") {
            return Some(
                rest.chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect(),
            );
        }
        cause = e.source();
    }
    None
}

/// A bare handshake to `addr` as `server_name` with `config`, then one read: the alert the
/// server refuses it with, if it does.
pub(crate) async fn handshake_alert(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    server_name: &str,
) -> Option<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = ServerName::try_from(server_name.to_owned()).ok()?;
    let mut tls = match tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
    {
        Ok(tls) => tls,
        Err(error) => return alert(&error),
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(2), tls.read(&mut byte)).await {
        Ok(Err(error)) => alert(&error),
        _ => None,
    }
}
