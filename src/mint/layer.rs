use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use tower_layer::Layer;

use super::service::{Audience, Config, Mint};
use super::signer::ServiceSigner;
use super::source::TokenSource;

/// Signs every outbound request with a fresh service token: wrap a client (a hyper-util
/// client, a tonic `Channel`, any `Service<http::Request<B>>`) in it.
///
/// For each request it reads the [`Principal`](crate::Principal) the application put in the
/// request's extensions (the caller this service is serving), mints a token for the
/// audience, and sets `Authorization: Bearer …`, marked sensitive. Tokens are reused per
/// audience, received token and scopes until shortly before they expire.
///
/// Passing the principal on is one line in a handler:
///
/// ```
/// # fn f(principal: meshward::Principal) {
/// // axum or hyper: an outbound http::Request.
/// let mut request = http::Request::get("https://inventory.internal/items/7").body(()).unwrap();
/// request.extensions_mut().insert(principal.clone());
/// # #[cfg(feature = "tonic")] {
/// // tonic: the request's extensions travel with it.
/// let mut call = tonic::Request::new(());
/// call.extensions_mut().insert(principal);
/// # }
/// # }
/// ```
///
/// A request without a principal is refused (the call fails with a
/// [`MintError`](super::MintError), nothing is sent) unless
/// [`as_service_without_principal`](Self::as_service_without_principal) is named.
///
/// The token comes from a [`ServiceSigner`] (`T`'s default: each service signs), or from
/// another [`TokenSource`] given to [`from_source`](MintLayer::from_source) (a token
/// exchange at a security token service), with the same configuration otherwise.
#[derive(Clone)]
#[must_use]
pub struct MintLayer<T = ServiceSigner> {
    config: Arc<Config<T>>,
}

impl MintLayer {
    /// Mints tokens addressed to `audience` (the target service's identity) on every
    /// request.
    pub fn new(signer: ServiceSigner, audience: impl Into<String>) -> Self {
        Self::with(signer, Audience::Fixed(audience.into()))
    }

    /// Mints tokens addressed to whatever `audience` answers for each request's URI and
    /// headers (the target's identity from the request's authority, say); `None` refuses
    /// the call.
    pub fn with_audience_fn<F>(signer: ServiceSigner, audience: F) -> Self
    where
        F: Fn(&Uri, &HeaderMap) -> Option<String> + Send + Sync + 'static,
    {
        Self::with(signer, Audience::From(Arc::new(audience)))
    }

    fn with(signer: ServiceSigner, audience: Audience) -> Self {
        Self {
            config: Arc::new(Config {
                source: signer,
                audience,
                narrowed: None,
                as_service: false,
            }),
        }
    }
}

impl<T: TokenSource> MintLayer<T> {
    /// Puts a token from `source` on every request, for `audience`: a token exchange at a
    /// security token service, say. Calls without a principal fail (a source exchanges the
    /// caller's token).
    pub fn from_source(source: T, audience: impl Into<String>) -> Self {
        Self::with_source(source, Audience::Fixed(audience.into()))
    }

    /// As [`from_source`](Self::from_source), the audience answered by `audience` for each
    /// request; `None` refuses the call.
    pub fn from_source_with_audience_fn<F>(source: T, audience: F) -> Self
    where
        F: Fn(&Uri, &HeaderMap) -> Option<String> + Send + Sync + 'static,
    {
        Self::with_source(source, Audience::From(Arc::new(audience)))
    }

    fn with_source(source: T, audience: Audience) -> Self {
        Self {
            config: Arc::new(Config {
                source,
                audience,
                narrowed: None,
                as_service: false,
            }),
        }
    }
}

impl<T: Clone> MintLayer<T> {
    /// Passes on only the principal's scopes that are among `scopes` (a hop may narrow the
    /// scopes it passes on, never widen them).
    pub fn narrow_scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Arc::make_mut(&mut self.config).narrowed =
            Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Calls without a principal go out with a token of the service acting for itself
    /// (`sub` = the service, no embedded token) instead of failing. Self-issued tokens
    /// only: a [`TokenSource`] exchanges the caller's token, so without one the call fails.
    ///
    /// # Security
    ///
    /// Such a call carries the service's own authority, not a user's: make sure the
    /// requests that reach this client without a principal are meant to.
    pub fn as_service_without_principal(mut self) -> Self {
        Arc::make_mut(&mut self.config).as_service = true;
        self
    }
}

impl<S, T> Layer<S> for MintLayer<T> {
    type Service = Mint<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Mint::new(inner, Arc::clone(&self.config))
    }
}

impl<T: fmt::Debug> fmt::Debug for MintLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let audience = match &self.config.audience {
            Audience::Fixed(a) => a.as_str(),
            Audience::From(_) => "<fn>",
        };
        f.debug_struct("MintLayer")
            .field("source", &self.config.source)
            .field("audience", &audience)
            .field("narrowed", &self.config.narrowed)
            .field("as_service", &self.config.as_service)
            .finish()
    }
}
