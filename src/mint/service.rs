//! The path of one outbound request through [`MintLayer`](super::MintLayer): find the
//! principal and the audience, mint (or reuse) the token, set the header, call.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use http::header::AUTHORIZATION;
use tower_service::Service;

use super::error::{MintError, MintErrorKind};
use super::future::ResponseFuture;
use super::layer::{Audience, Config};
use super::signer::ServiceToken;
use crate::audit::{self, Started};
use crate::principal::Principal;

/// A boxed error: what the outbound call failed with (the client's own error, or a
/// [`MintError`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service made by [`MintLayer`](super::MintLayer).
#[derive(Clone)]
pub struct Mint<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Mint<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
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

impl<S, B> Service<Request<B>> for Mint<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Started::now();
        let principal = request.extensions().get::<Principal>();
        let audience = match &self.config.audience {
            Audience::Fixed(audience) => Some(std::borrow::Cow::Borrowed(audience.as_str())),
            Audience::From(f) => f(request.uri(), request.headers()).map(std::borrow::Cow::Owned),
        };
        let minted = mint(&self.config, principal, audience.as_deref());
        audit::record_mint(
            &request,
            principal,
            audience.as_deref(),
            minted.as_ref().map(|_| ()).map_err(|e| e.kind().label()),
            started,
        );
        match minted {
            Ok(token) => {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, token.authorization().clone());
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(error) => ResponseFuture::failed(error.into()),
        }
    }
}

fn mint(
    config: &Config,
    principal: Option<&Principal>,
    audience: Option<&str>,
) -> Result<ServiceToken, MintError> {
    let audience = audience.ok_or(MintErrorKind::NoAudience)?;
    let signer = &config.signer;
    match (principal, &config.narrowed) {
        (Some(p), None) => signer.mint(p, audience),
        (Some(p), Some(scopes)) => {
            signer.mint_narrowed(p, audience, scopes.iter().map(String::as_str))
        }
        (None, _) if config.as_service => signer.mint_as_service(audience),
        (None, _) => Err(MintErrorKind::NoPrincipal.into()),
    }
}

impl<S: fmt::Debug> fmt::Debug for Mint<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mint")
            .field("inner", &self.inner)
            .field("signer", &self.config.signer)
            .finish_non_exhaustive()
    }
}
