use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::error::{BoxError, MintError};
use crate::audit::{self, Started};
use crate::principal::Principal;

pin_project! {
    /// The response future of [`Mint`](super::Mint): the inner call's, or the minting error.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        Failed { error: Option<BoxError> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx).map_err(Into::into),
            StateProj::Failed { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

pin_project! {
    /// The response future of a [`Mint`](super::Mint) whose token may need a wait (a
    /// [`TokenSource`](super::TokenSource)): the token first, then the call.
    pub struct ObtainFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: Obtain<S, B>,
    }
}

/// The token's wait.
type Pending = Pin<Box<dyn Future<Output = Result<HeaderValue, MintError>> + Send>>;

pin_project! {
    #[project = ObtainProj]
    enum Obtain<S, B>
    where
        S: Service<Request<B>>,
    {
        Obtaining {
            pending: Pending,
            service: Option<S>,
            request: Option<Request<B>>,
            audience: Option<String>,
            started: Started,
        },
        Inner { #[pin] future: S::Future },
        Failed { error: Option<BoxError> },
    }
}

impl<S: Service<Request<B>>, B> ObtainFuture<S, B> {
    pub(crate) fn inner(future: S::Future) -> Self {
        Self {
            state: Obtain::Inner { future },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            state: Obtain::Failed { error: Some(error) },
        }
    }

    pub(crate) fn obtaining(
        pending: Pending,
        service: S,
        request: Request<B>,
        audience: Option<String>,
        started: Started,
    ) -> Self {
        Self {
            state: Obtain::Obtaining {
                pending,
                service: Some(service),
                request: Some(request),
                audience,
                started,
            },
        }
    }
}

impl<S, B> Future for ObtainFuture<S, B>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                ObtainProj::Inner { future } => return future.poll(cx).map_err(Into::into),
                ObtainProj::Failed { error } => {
                    return match error.take() {
                        Some(error) => Poll::Ready(Err(error)),
                        None => Poll::Pending,
                    };
                }
                ObtainProj::Obtaining {
                    pending,
                    service,
                    request,
                    audience,
                    started,
                } => {
                    let result = ready!(pending.as_mut().poll(cx));
                    let (Some(mut service), Some(mut request)) = (service.take(), request.take())
                    else {
                        return Poll::Pending;
                    };
                    let outcome = result.as_ref().map(|_| ()).map_err(|e| e.kind().label());
                    let principal = request.extensions().get::<Principal>();
                    audit::record_mint(&request, principal, audience.as_deref(), outcome, *started);
                    match result {
                        Ok(value) => {
                            request.headers_mut().insert(AUTHORIZATION, value);
                            Obtain::Inner {
                                future: service.call(request),
                            }
                        }
                        Err(error) => Obtain::Failed {
                            error: Some(error.into()),
                        },
                    }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

impl<S: Service<Request<B>>, B> std::fmt::Debug for ObtainFuture<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObtainFuture").finish_non_exhaustive()
    }
}
