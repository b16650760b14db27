//! Serving any tower service over mutual TLS with hyper-util (feature `hyper`).

use std::error::Error as StdError;
use std::future::Future;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower_service::Service;

use super::acceptor::MtlsIncoming;
use super::peer::AddPeerInfo;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves `service` on every connection of `incoming`, HTTP/1.1 or HTTP/2 as ALPN decided,
/// each request carrying its connection's [`PeerInfo`](crate::PeerInfo). When `shutdown`
/// completes, stops accepting and waits for live connections to finish their requests.
///
/// ```no_run
/// # async fn f<S, B>(acceptor: meshward::mtls::MtlsAcceptor, service: S) -> std::io::Result<()>
/// # where
/// #     S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
/// #     S::Future: Send + 'static,
/// #     S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
/// #     B: http_body::Body + Send + 'static,
/// #     B::Data: Send,
/// #     B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
/// # {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// meshward::mtls::serve_hyper(acceptor.incoming(listener), service, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await;
/// # Ok(()) }
/// ```
pub async fn serve_hyper<S, B, F>(mut incoming: MtlsIncoming, service: S, shutdown: F)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()>,
{
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            stream = incoming.next() => {
                let Some(stream) = stream else { break };
                let service = AddPeerInfo::new(service.clone(), stream.peer().clone());
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(target: "meshward::mtls", error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(incoming);
    graceful.shutdown().await;
}
