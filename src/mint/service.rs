//! The path of one outbound request through [`MintLayer`](super::MintLayer): find the
//! principal and the audience, mint (or reuse) the token, set the header, call.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, Uri};
use tower_service::Service;

use super::error::BoxError;
use super::error::{MintError, MintErrorKind};
use super::future::{ObtainFuture, ResponseFuture};
use super::signer::{ServiceSigner, ServiceToken};
use super::source::TokenSource;
use super::source::sealed::{Call, Obtained};
use crate::audit::{self, Started};
use crate::principal::Principal;

type AudienceFn = dyn Fn(&Uri, &HeaderMap) -> Option<String> + Send + Sync;

/// What a [`MintLayer`](super::MintLayer) was configured with; read here.
#[derive(Clone)]
pub(crate) struct Config<T = ServiceSigner> {
    pub(crate) source: T,
    pub(crate) audience: Audience,
    pub(crate) narrowed: Option<Vec<String>>,
    pub(crate) as_service: bool,
}

#[derive(Clone)]
pub(crate) enum Audience {
    Fixed(String),
    From(Arc<AudienceFn>),
}

/// The service made by [`MintLayer`](super::MintLayer).
pub struct Mint<S, T = ServiceSigner> {
    inner: S,
    config: Arc<Config<T>>,
}

impl<S: Clone, T> Clone for Mint<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S, T> Mint<S, T> {
    pub(crate) fn new(inner: S, config: Arc<Config<T>>) -> Self {
        Self { inner, config }
    }

    crate::gate::inner_service_accessors!();
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
        let audience = audience_of(&self.config.audience, &request);
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

/// The audience of an outbound request, fixed or answered by the layer's function.
fn audience_of<'a, B>(
    audience: &'a Audience,
    request: &Request<B>,
) -> Option<std::borrow::Cow<'a, str>> {
    match audience {
        Audience::Fixed(audience) => Some(std::borrow::Cow::Borrowed(audience.as_str())),
        Audience::From(f) => f(request.uri(), request.headers()).map(std::borrow::Cow::Owned),
    }
}

impl<S, T, B> Service<Request<B>> for Mint<S, T>
where
    T: TokenSource,
    S: Service<Request<B>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ObtainFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Started::now();
        let config = &self.config;
        let audience = audience_of(&config.audience, &request);
        let obtained = match audience.as_deref() {
            None => Obtained::Ready(Err(MintErrorKind::NoAudience.into())),
            Some(audience) => config.source.obtain(&Call {
                principal: request.extensions().get::<Principal>(),
                audience,
                narrowed: config.narrowed.as_deref(),
            }),
        };
        match obtained {
            Obtained::Ready(result) => {
                let outcome = result.as_ref().map(|_| ()).map_err(|e| e.kind().label());
                let principal = request.extensions().get::<Principal>();
                audit::record_mint(&request, principal, audience.as_deref(), outcome, started);
                match result {
                    Ok(value) => {
                        request.headers_mut().insert(AUTHORIZATION, value);
                        ObtainFuture::inner(self.inner.call(request))
                    }
                    Err(error) => ObtainFuture::failed(error.into()),
                }
            }
            Obtained::Pending(pending) => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                let audience = audience.map(std::borrow::Cow::into_owned);
                ObtainFuture::obtaining(pending, service, request, audience, started)
            }
        }
    }
}

fn mint(
    config: &Config,
    principal: Option<&Principal>,
    audience: Option<&str>,
) -> Result<ServiceToken, MintError> {
    let audience = audience.ok_or(MintErrorKind::NoAudience)?;
    let signer = &config.source;
    match (principal, &config.narrowed) {
        (Some(p), None) => signer.mint(p, audience),
        (Some(p), Some(scopes)) => {
            signer.mint_narrowed(p, audience, scopes.iter().map(String::as_str))
        }
        (None, _) if config.as_service => signer.mint_as_service(audience),
        (None, _) => Err(MintErrorKind::NoPrincipal.into()),
    }
}

impl<S: fmt::Debug, T: fmt::Debug> fmt::Debug for Mint<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mint")
            .field("inner", &self.inner)
            .field("source", &self.config.source)
            .finish_non_exhaustive()
    }
}
