//! The response future of [`Gated`](super::Gated): the one place a check that waits is
//! driven, for every gate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{Gate, Started};
use crate::rejection::{RejectionResponse, pass_on_challenge, respond_to};

pin_project! {
    /// The response future of [`Gated`](super::Gated): it waits for a check that could not
    /// decide at once, hands what it found to the gate, then runs the inner service or
    /// answers the refusal.
    pub struct ResponseFuture<S, ReqBody, G, R>
    where
        S: Service<Request<ReqBody>>,
        G: Gate,
    {
        #[pin]
        state: State<S, ReqBody, G, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, G, R>
    where
        S: Service<Request<ReqBody>>,
        G: Gate,
    {
        Waiting {
            #[pin]
            wait: G::Wait,
            held: Option<Held<S, ReqBody, G, R>>,
        },
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<S::Response> },
    }
}

/// What a request waiting for its check holds on to.
struct Held<S, ReqBody, G, R> {
    service: S,
    head: Parts,
    body: ReqBody,
    gate: Arc<G>,
    responder: R,
    started: Started,
}

impl<S, ReqBody, G, R> ResponseFuture<S, ReqBody, G, R>
where
    S: Service<Request<ReqBody>>,
    G: Gate,
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

    pub(crate) fn waiting(
        wait: G::Wait,
        service: S,
        head: Parts,
        body: ReqBody,
        gate: Arc<G>,
        responder: R,
        started: Started,
    ) -> Self {
        Self {
            state: State::Waiting {
                wait,
                held: Some(Held {
                    service,
                    head,
                    body,
                    gate,
                    responder,
                    started,
                }),
            },
        }
    }
}

impl<S, ReqBody, ResBody, G, R> Future for ResponseFuture<S, ReqBody, G, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    G: Gate,
    R: RejectionResponse<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Waiting { wait, held } => {
                    let found = ready!(wait.poll(cx));
                    let Some(mut held) = held.take() else {
                        // Polled again after completion.
                        return Poll::Pending;
                    };
                    match held.gate.conclude(found, &mut held.head, held.started) {
                        Ok(()) => {
                            pass_on_challenge(&held.responder, &mut held.head.extensions);
                            let request = Request::from_parts(held.head, held.body);
                            State::Inner {
                                future: held.service.call(request),
                            }
                        }
                        Err(rejection) => State::Rejected {
                            response: Some(respond_to(&held.responder, rejection, &held.head)),
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

impl<S, ReqBody, G, R> fmt::Debug for ResponseFuture<S, ReqBody, G, R>
where
    S: Service<Request<ReqBody>>,
    G: Gate,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
