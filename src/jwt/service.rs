use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::error::TokenError;
use super::future::ResponseFuture;
use super::layer::AuthConfig;
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionResponse};

/// The service made by [`AuthLayer`](super::AuthLayer).
#[derive(Clone)]
pub struct Auth<S, R> {
    inner: S,
    config: Arc<AuthConfig>,
    responder: R,
}

impl<S, R> Auth<S, R> {
    pub(crate) fn new(inner: S, config: Arc<AuthConfig>, responder: R) -> Self {
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

impl AuthConfig {
    /// The request's principal: `Ok(None)` when there is no token and that is allowed.
    fn authenticate<B>(&self, request: &Request<B>) -> Result<Option<Principal>, TokenError> {
        let max = self.validator.max_token_len();
        match self.location.extract(request.headers(), max)? {
            Some(token) => self
                .validator
                .validate_now(token)
                .map(|v| Some(Principal::from_verified(v))),
            None if self.optional => Ok(None),
            None => Err(super::TokenErrorKind::Missing.into()),
        }
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S, R>
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.config.authenticate(&request) {
            Ok(principal) => {
                if let Some(principal) = principal {
                    tracing::debug!(
                        target: "meshward::audit",
                        decision = "allow",
                        sub = principal.subject(),
                        iss = principal.issuer(),
                        method = %request.method(),
                        path = request.uri().path(),
                        "authenticated"
                    );
                    request.extensions_mut().insert(principal);
                }
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(error) => {
                tracing::info!(
                    target: "meshward::audit",
                    decision = "deny",
                    reason = %error,
                    method = %request.method(),
                    path = request.uri().path(),
                    "bearer token refused"
                );
                let rejection = Rejection::from(error);
                let (parts, _body) = request.into_parts();
                let mut response = self.responder.response(&rejection, &parts);
                response.extensions_mut().insert(rejection);
                ResponseFuture::rejected(response)
            }
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for Auth<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("validator", &self.config.validator)
            .finish_non_exhaustive()
    }
}
