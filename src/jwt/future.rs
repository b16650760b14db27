use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::error::TokenError;
use super::service::{admit, reject};
use std::sync::Arc;

use super::layer::AuthConfig;
use crate::principal::VerifiedToken;
use crate::rejection::RejectionResponse;

/// Verification that waits for a remote key set.
pub(crate) type VerifyFuture =
    Pin<Box<dyn Future<Output = Result<Arc<VerifiedToken>, TokenError>> + Send + 'static>>;

pin_project! {
    /// The response future of [`Auth`](super::Auth).
    pub struct ResponseFuture<S, ReqBody, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Verifying {
            verify: VerifyFuture,
            service: Option<S>,
            request: Option<Request<ReqBody>>,
            responder: R,
            config: Arc<AuthConfig>,
        },
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<S::Response> },
    }
}

impl<S, ReqBody, R> ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn inner(future: S::Future) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn rejected(response: S::Response) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn verifying(
        verify: VerifyFuture,
        service: S,
        request: Request<ReqBody>,
        responder: R,
        config: Arc<AuthConfig>,
    ) -> Self {
        Self {
            state: State::Verifying {
                verify,
                service: Some(service),
                request: Some(request),
                responder,
                config,
            },
        }
    }
}

impl<S, ReqBody, ResBody, R> Future for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
    R: RejectionResponse<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Verifying {
                    verify,
                    service,
                    request,
                    responder,
                    config,
                } => {
                    let result = ready!(verify.as_mut().poll(cx));
                    let (Some(mut service), Some(mut request)) = (service.take(), request.take())
                    else {
                        // Polled again after completion.
                        return Poll::Pending;
                    };
                    match result.and_then(|verified| config.bind(verified, request.extensions())) {
                        Ok(principal) => {
                            admit(&mut request, principal);
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        Err(error) => State::Rejected {
                            response: Some(reject(&*responder, error, request)),
                        },
                    }
                }
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Rejected { response } => {
                    return match response.take() {
                        Some(response) => Poll::Ready(Ok(response)),
                        None => Poll::Pending,
                    };
                }
            };
            this.state.set(next);
        }
    }
}

impl<S, ReqBody, R> std::fmt::Debug for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
