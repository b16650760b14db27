//! One unary gRPC method without protoc, shared by the examples and the end-to-end tests:
//! an empty request, a string answer (both as protobuf by `tonic-prost`), the handler a
//! closure. `Unary::<Name, _>::new(handler)` is a service tonic's `Server` routes to
//! `/<Name::NAME>/*`; `call_unary` is its client side.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The gRPC service name a [`Unary`] is routed by (`package.Service`).
pub(crate) trait ServiceName {
    /// The name.
    const NAME: &'static str;
}

/// A unary method whose handler is `H`: `Fn(Request<()>) -> impl Future<Output =
/// Result<Response<String>, Status>>`.
pub(crate) struct Unary<N, H> {
    handler: H,
    name: PhantomData<fn() -> N>,
}

impl<N, H> Unary<N, H> {
    /// The service answering with `handler`.
    pub(crate) fn new(handler: H) -> Self {
        Self {
            handler,
            name: PhantomData,
        }
    }
}

impl<N, H: Clone> Clone for Unary<N, H> {
    fn clone(&self) -> Self {
        Self::new(self.handler.clone())
    }
}

impl<N: ServiceName, H> NamedService for Unary<N, H> {
    const NAME: &'static str = N::NAME;
}

impl<N, H, F> tower::Service<http::Request<Body>> for Unary<N, H>
where
    H: Fn(Request<()>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<String>, Status>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let handler = self.handler.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<String, ()>::default());
            Ok(grpc.unary(tower::service_fn(handler), request).await)
        })
    }
}

/// Calls the unary method at `path` (any path, well-formed or not) through any gRPC client
/// service (a `Channel`, maybe wrapped in layers), with [`Unary`]'s messages.
pub(crate) async fn call_unary<T>(
    service: T,
    path: &str,
    request: Request<()>,
) -> Result<String, Status>
where
    T: tonic::client::GrpcService<Body>,
    T::Error: Into<BoxError>,
    T::ResponseBody: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    <T::ResponseBody as hyper::body::Body>::Error: Into<BoxError> + Send,
{
    let path = PathAndQuery::try_from(path.to_owned())
        .map_err(|e| Status::invalid_argument(format!("path: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(service);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    grpc.unary(request, path, ProstCodec::<(), String>::default())
        .await
        .map(Response::into_inner)
}
