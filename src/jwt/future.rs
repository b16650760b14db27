use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Config;
use super::service::conclude;
use super::verifier::Verifier;
use crate::audit::Started;
use crate::rejection::RejectionResponse;

pin_project! {
    /// The response future of [`Auth`](super::Auth): it waits for a verification that could
    /// not decide at once, hands the result to the request path, then runs the inner service.
    pub struct ResponseFuture<S, ReqBody, V, R>
    where
        S: Service<Request<ReqBody>>,
        V: Verifier,
    {
        #[pin]
        state: State<S, ReqBody, V, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, V, R>
    where
        S: Service<Request<ReqBody>>,
        V: Verifier,
    {
        Verifying {
            #[pin]
            verify: V::Future,
            waiting: Option<Waiting<S, ReqBody, V, R>>,
        },
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<S::Response> },
    }
}

/// What a request waiting for its verification holds on to.
struct Waiting<S, ReqBody, V, R> {
    service: S,
    request: Request<ReqBody>,
    responder: R,
    config: Arc<Config<V>>,
    started: Started,
}

impl<S, ReqBody, V, R> ResponseFuture<S, ReqBody, V, R>
where
    S: Service<Request<ReqBody>>,
    V: Verifier,
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

    pub(crate) fn verifying(
        verify: V::Future,
        service: S,
        request: Request<ReqBody>,
        responder: R,
        config: Arc<Config<V>>,
        started: Started,
    ) -> Self {
        Self {
            state: State::Verifying {
                verify,
                waiting: Some(Waiting {
                    service,
                    request,
                    responder,
                    config,
                    started,
                }),
            },
        }
    }
}

impl<S, ReqBody, ResBody, V, R> Future for ResponseFuture<S, ReqBody, V, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    V: Verifier,
    R: RejectionResponse<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Verifying { verify, waiting } => {
                    let verified = ready!(verify.poll(cx));
                    let Some(mut w) = waiting.take() else {
                        // Polled again after completion.
                        return Poll::Pending;
                    };
                    match conclude(&w.config, &w.responder, verified, w.request, w.started) {
                        Ok(request) => State::Inner {
                            future: w.service.call(request),
                        },
                        Err(response) => State::Rejected {
                            response: Some(response),
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

impl<S, ReqBody, V, R> std::fmt::Debug for ResponseFuture<S, ReqBody, V, R>
where
    S: Service<Request<ReqBody>>,
    V: Verifier,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
