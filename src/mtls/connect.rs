//! Dialling a service over mutual TLS for hyper-util's client and tonic's `Channel`
//! (feature `hyper`).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower_service::Service;

use super::client::MtlsClient;
use crate::peer::PeerIdentity;

/// Connects to `host:port` over TCP and mutual TLS with an [`MtlsClient`]'s configuration,
/// whatever the URI's scheme; made by [`MtlsClient::connector`].
///
/// With tonic, give the endpoint an `http://` URI: the connector provides the TLS, and a
/// tonic built with its own TLS features refuses `https://` URIs it does not secure itself.
///
/// ```no_run
/// # async fn f(client: meshward::mtls::MtlsClient) -> Result<(), Box<dyn std::error::Error>> {
/// // hyper-util
/// let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
///     .build::<_, http_body_util::Empty<hyper::body::Bytes>>(client.connector());
/// # #[cfg(feature = "tonic")] {
/// // tonic
/// let channel = tonic::transport::Endpoint::from_static("http://inventory.internal:8443")
///     .connect_with_connector(client.connector())
///     .await?;
/// # }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MtlsConnector {
    client: MtlsClient,
}

impl MtlsConnector {
    pub(crate) fn new(client: MtlsClient) -> Self {
        Self { client }
    }
}

impl fmt::Debug for MtlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsConnector")
            .field("client", &self.client)
            .finish()
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<MtlsClientStream>> + Send>>;

impl Service<Uri> for MtlsConnector {
    type Response = MtlsClientStream;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.client.client_config();
        Box::pin(async move {
            let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
            let host = uri.host().ok_or_else(|| invalid("the URI has no host"))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let name = ServerName::try_from(host.clone())
                .map_err(|_| invalid("the URI's host is not a server name"))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = TlsConnector::from(config).connect(name, tcp).await?;
            let server = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| PeerIdentity::from_chain(chain).ok());
            Ok(MtlsClientStream {
                io: TokioIo::new(tls),
                server,
            })
        })
    }
}

/// A mutual-TLS connection to a service, made by [`MtlsConnector`].
pub struct MtlsClientStream {
    io: TokioIo<TlsStream<TcpStream>>,
    server: Option<PeerIdentity>,
}

impl MtlsClientStream {
    /// The server's identity, from the certificate it presented.
    pub fn server_identity(&self) -> Option<&PeerIdentity> {
        self.server.as_ref()
    }
}

impl fmt::Debug for MtlsClientStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsClientStream")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Connection for MtlsClientStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        if self.io.inner().get_ref().1.alpn_protocol() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl hyper::rt::Read for MtlsClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for MtlsClientStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
