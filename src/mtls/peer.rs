//! Attaching a connection's [`PeerInfo`] to each of its requests, for servers that drive
//! connections themselves (hyper-util).

use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use crate::peer::PeerInfo;

/// Wraps the service for one connection so that each of its requests carries the
/// connection's [`PeerInfo`] (and so its [`PeerIdentity`](crate::PeerIdentity)).
///
/// ```no_run
/// use hyper_util::{rt::{TokioExecutor, TokioIo}, server::conn::auto, service::TowerToHyperService};
/// use meshward::mtls::{AddPeerInfo, MtlsAcceptor};
///
/// # async fn f<S>(acceptor: MtlsAcceptor, listener: tokio::net::TcpListener, app: S)
/// # where S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<String>, Error = std::convert::Infallible> + Clone + Send + 'static, S::Future: Send + 'static {
/// let mut incoming = acceptor.incoming(listener);
/// while let Some(stream) = incoming.next().await {
///     let service = AddPeerInfo::new(app.clone(), stream.peer().clone());
///     tokio::spawn(async move {
///         let _ = auto::Builder::new(TokioExecutor::new())
///             .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
///             .await;
///     });
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AddPeerInfo<S> {
    inner: S,
    peer: PeerInfo,
}

impl<S> AddPeerInfo<S> {
    /// `inner`, with `peer` on every request.
    pub fn new(inner: S, peer: PeerInfo) -> Self {
        Self { inner, peer }
    }
}

impl<S, B> Service<Request<B>> for AddPeerInfo<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.peer.clone());
        self.inner.call(request)
    }
}
