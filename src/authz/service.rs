use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::requirement::{AuthzRequest, PeerRequirement, Requirement, ScopeRequirement};
use crate::audit::{self, Layer, Outcome, Started};
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionResponse, pass_on_challenge, respond};

/// The service made by [`AuthzLayer`](super::AuthzLayer).
#[derive(Clone)]
pub struct Authz<S, Q, R> {
    inner: S,
    requirement: Arc<Q>,
    responder: R,
}

/// The service made by [`RequireScopesLayer`](super::RequireScopesLayer).
pub type RequireScopes<S, R> = Authz<S, ScopeRequirement, R>;

/// The service made by [`RequirePeerLayer`](super::RequirePeerLayer).
pub type RequirePeer<S, R> = Authz<S, PeerRequirement, R>;

impl<S, Q, R> Authz<S, Q, R> {
    pub(crate) fn new(inner: S, requirement: Arc<Q>, responder: R) -> Self {
        Self {
            inner,
            requirement,
            responder,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Q, R, ReqBody, ResBody> Service<Request<ReqBody>> for Authz<S, Q, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Q: Requirement,
    ResBody: Default,
    R: RejectionResponse<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let started = Started::now();
        let decided = self.requirement.check(&AuthzRequest::new(&request));
        let principal = request.extensions().get::<Principal>();
        match decided {
            Ok(()) => {
                audit::record(
                    Layer::Authz,
                    &request,
                    principal,
                    Outcome::Allow("allowed"),
                    started,
                );
                pass_on_challenge(&self.responder, request.extensions_mut());
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(error) => {
                let rejection = Rejection::from(error);
                audit::record(
                    Layer::Authz,
                    &request,
                    principal,
                    Outcome::Deny(&rejection),
                    started,
                );
                ResponseFuture::rejected(respond(&self.responder, rejection, request))
            }
        }
    }
}

impl<S: fmt::Debug, Q: fmt::Debug, R> fmt::Debug for Authz<S, Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authz")
            .field("inner", &self.inner)
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}
