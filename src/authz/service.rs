//! The path of one request through [`AuthzLayer`](super::AuthzLayer): check the requirement,
//! then allow, refuse, or (in dry-run mode) let a refusal through; a decision that waits is
//! driven by [`ResponseFuture`].

use std::fmt;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::error::AuthzError;
use super::future::ResponseFuture;
use super::layer::Config;
use super::peer::PeerRequirement;
use super::requirement::{AuthzRequest, Outcome, Requirement};
use super::scope::ScopeRequirement;
use crate::audit::{self, Layer, Started};
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionResponse, pass_on_challenge, respond};

/// The service made by [`AuthzLayer`](super::AuthzLayer).
pub struct Authz<S, Q, R> {
    inner: S,
    config: Config<Q>,
    responder: R,
}

impl<S: Clone, Q, R: Clone> Clone for Authz<S, Q, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            responder: self.responder.clone(),
        }
    }
}

/// The service made by [`RequireScopesLayer`](super::RequireScopesLayer).
pub type RequireScopes<S, R> = Authz<S, ScopeRequirement, R>;

/// The service made by [`RequirePeerLayer`](super::RequirePeerLayer).
pub type RequirePeer<S, R> = Authz<S, PeerRequirement, R>;

impl<S, Q, R> Authz<S, Q, R> {
    pub(crate) fn new(inner: S, config: Config<Q>, responder: R) -> Self {
        Self {
            inner,
            config,
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
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    Q: Requirement,
    ResBody: Default,
    R: RejectionResponse<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, Q, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Started::now();
        let (outcome, rule) = self
            .config
            .requirement
            .check(&AuthzRequest::new(&request))
            .into_parts();
        match outcome {
            Outcome::Ready(decided) => {
                match conclude(
                    &self.config,
                    &self.responder,
                    decided,
                    rule.as_deref(),
                    request,
                    started,
                ) {
                    Ok(request) => ResponseFuture::inner(self.inner.call(request)),
                    Err(response) => ResponseFuture::rejected(response),
                }
            }
            Outcome::Pending(decision) => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::deciding(
                    decision,
                    service,
                    request,
                    self.responder.clone(),
                    self.config.clone(),
                    rule,
                    started,
                )
            }
        }
    }
}

/// The end of every request's path, whether the requirement decided at once or after a
/// wait: `Ok` is the request to pass on, `Err` the answer to a refused one.
pub(crate) fn conclude<Q, R, ReqBody, ResBody>(
    config: &Config<Q>,
    responder: &R,
    decided: Result<(), AuthzError>,
    rule: Option<&str>,
    mut request: Request<ReqBody>,
    started: Started,
) -> Result<Request<ReqBody>, Response<ResBody>>
where
    R: RejectionResponse<ResBody>,
{
    let principal = request.extensions().get::<Principal>();
    match decided {
        Ok(()) => {
            audit::record_rule(
                Layer::Authz,
                &request,
                principal,
                audit::Outcome::Allow("allowed"),
                rule,
                started,
            );
        }
        Err(error) => {
            let rejection = Rejection::from(error);
            if !config.dry_run {
                audit::record_rule(
                    Layer::Authz,
                    &request,
                    principal,
                    audit::Outcome::Deny(&rejection),
                    rule,
                    started,
                );
                return Err(respond(responder, rejection, request));
            }
            audit::record_rule(
                Layer::Authz,
                &request,
                principal,
                audit::Outcome::WouldDeny(&rejection),
                rule,
                started,
            );
        }
    }
    pass_on_challenge(responder, request.extensions_mut());
    Ok(request)
}

impl<S: fmt::Debug, Q: fmt::Debug, R> fmt::Debug for Authz<S, Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authz")
            .field("inner", &self.inner)
            .field("requirement", &self.config.requirement)
            .field("dry_run", &self.config.dry_run)
            .finish_non_exhaustive()
    }
}
