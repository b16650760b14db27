//! [`Gated`]: a tower service that runs one [`Gate`] before its inner service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::{Answer, Gate, Started};
use crate::rejection::{RejectionResponse, pass_on_challenge, respond_to};

/// Runs the gate `G` on every request, then the inner service `S` with the request as the
/// gate admitted it; a refusal is answered by the responder `R` and never reaches `S`.
///
/// [`Auth`](crate::jwt::Auth), [`Authz`](crate::authz::Authz) and
/// [`Quota`](crate::quota::Quota) are this service over their gates. A check decided at
/// once calls the inner service from [`call`](Service::call) with nothing allocated; one
/// that waits moves the ready inner service into the [`ResponseFuture`] (a clone stays).
pub struct Gated<S, G, R> {
    inner: S,
    gate: Arc<G>,
    responder: R,
}

impl<S: Clone, G, R: Clone> Clone for Gated<S, G, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
            responder: self.responder.clone(),
        }
    }
}

impl<S, G, R> Gated<S, G, R> {
    /// `inner` behind `gate`, refusals answered by `responder`.
    pub fn new(inner: S, gate: Arc<G>, responder: R) -> Self {
        Self {
            inner,
            gate,
            responder,
        }
    }

    /// The gate.
    pub fn gate(&self) -> &G {
        &self.gate
    }

    super::inner_service_accessors!();
}

impl<S, G, R, ReqBody, ResBody> Service<Request<ReqBody>> for Gated<S, G, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    G: Gate,
    R: RejectionResponse<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, G, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Started::now();
        let (mut head, body) = request.into_parts();
        match self.gate.check(&mut head, started) {
            Answer::Now(Ok(())) => {
                pass_on_challenge(&self.responder, &mut head.extensions);
                ResponseFuture::inner(self.inner.call(Request::from_parts(head, body)))
            }
            Answer::Now(Err(rejection)) => {
                ResponseFuture::rejected(respond_to(&self.responder, rejection, &head))
            }
            Answer::Later(wait) => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::waiting(
                    wait,
                    service,
                    head,
                    body,
                    Arc::clone(&self.gate),
                    self.responder.clone(),
                    started,
                )
            }
        }
    }
}

impl<S: fmt::Debug, G: fmt::Debug, R> fmt::Debug for Gated<S, G, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gated")
            .field("inner", &self.inner)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}
