use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Config;
use super::service::PendingDecision;
use super::service::conclude;
use crate::audit::Started;
use crate::rejection::RejectionResponse;

pin_project! {
    /// The response future of [`Quota`](super::Quota): it waits for a store that could not
    /// answer at once (a remote one), hands the decision to the request path, then runs the
    /// inner service.
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
        Deciding {
            decision: PendingDecision,
            waiting: Option<Waiting<S, ReqBody, R>>,
        },
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<S::Response> },
    }
}

/// What a request waiting for its decision holds on to.
struct Waiting<S, ReqBody, R> {
    service: S,
    request: Request<ReqBody>,
    responder: R,
    config: Config,
    started: Started,
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

    pub(crate) fn deciding(
        decision: PendingDecision,
        service: S,
        request: Request<ReqBody>,
        responder: R,
        config: Config,
        started: Started,
    ) -> Self {
        Self {
            state: State::Deciding {
                decision,
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

impl<S, ReqBody, ResBody, R> Future for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RejectionResponse<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Deciding { decision, waiting } => {
                    let decided = ready!(decision.as_mut().poll(cx));
                    let Some(mut w) = waiting.take() else {
                        // Polled again after completion.
                        return Poll::Pending;
                    };
                    match conclude(&w.config, &w.responder, decided, w.request, w.started) {
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

impl<S, ReqBody, R> std::fmt::Debug for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
