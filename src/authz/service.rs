use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::error::{AuthzError, AuthzErrorKind};
use super::future::ResponseFuture;
use super::layer::ScopeRule;
use crate::principal::Principal;
use crate::rejection::{RejectionResponse, respond};

/// The service made by [`RequireScopesLayer`](super::RequireScopesLayer).
#[derive(Clone)]
pub struct RequireScopes<S, R> {
    inner: S,
    rule: Arc<ScopeRule>,
    responder: R,
}

impl<S, R> RequireScopes<S, R> {
    pub(crate) fn new(inner: S, rule: Arc<ScopeRule>, responder: R) -> Self {
        Self {
            inner,
            rule,
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

impl ScopeRule {
    fn check(&self, principal: Option<&Principal>) -> Result<(), AuthzError> {
        let principal = principal.ok_or(AuthzError::new(AuthzErrorKind::Unauthenticated))?;
        let scopes = principal.scopes();
        let wanted = self.scopes.iter().map(String::as_str);
        let ok = if self.all {
            scopes.contains_all(wanted)
        } else {
            scopes.contains_any(wanted)
        };
        if ok {
            Ok(())
        } else {
            Err(AuthzError::new(AuthzErrorKind::InsufficientScope {
                required: self.scopes.clone(),
                all: self.all,
            }))
        }
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopes<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
    R: RejectionResponse<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.rule.check(request.extensions().get::<Principal>()) {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(error) => {
                tracing::info!(
                    target: "meshward::audit",
                    decision = "deny",
                    reason = %error,
                    sub = request.extensions().get::<Principal>().and_then(Principal::subject),
                    method = %request.method(),
                    path = request.uri().path(),
                    "scope requirement not met"
                );
                ResponseFuture::rejected(respond(&self.responder, error.into(), request))
            }
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for RequireScopes<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopes")
            .field("inner", &self.inner)
            .field("scopes", &self.rule.scopes)
            .finish_non_exhaustive()
    }
}
