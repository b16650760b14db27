use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Config;
use super::requirement::PendingDecision;
use super::service::conclude;
use crate::audit::Started;
use crate::rejection::RejectionResponse;

pin_project! {
    /// The response future of [`Authz`](super::Authz): it waits for a decision that could not
    /// be made at once (a remote decision point), hands it to the request path, then runs the
    /// inner service.
    pub struct ResponseFuture<S, ReqBody, Q, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, Q, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, Q, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Deciding {
            decision: PendingDecision,
            waiting: Option<Waiting<S, ReqBody, Q, R>>,
        },
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<S::Response> },
    }
}

/// What a request waiting for its decision holds on to.
struct Waiting<S, ReqBody, Q, R> {
    service: S,
    request: Request<ReqBody>,
    responder: R,
    config: Config<Q>,
    rule: Option<Arc<str>>,
    started: Started,
}

impl<S, ReqBody, Q, R> ResponseFuture<S, ReqBody, Q, R>
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
        config: Config<Q>,
        rule: Option<Arc<str>>,
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
                    rule,
                    started,
                }),
            },
        }
    }
}

impl<S, ReqBody, ResBody, Q, R> Future for ResponseFuture<S, ReqBody, Q, R>
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
                    match conclude(
                        &w.config,
                        &w.responder,
                        decided,
                        w.rule.as_deref(),
                        w.request,
                        w.started,
                    ) {
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

impl<S, ReqBody, Q, R> std::fmt::Debug for ResponseFuture<S, ReqBody, Q, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
