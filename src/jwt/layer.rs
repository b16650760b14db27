use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::extract::TokenLocation;
use super::service::Auth;
use super::validator::Validator;
use crate::rejection::DefaultRejectionResponse;

/// Authenticates every request with a bearer token; see the [module docs](super).
///
/// On success the request reaches the inner service with a [`Principal`](crate::Principal)
/// in its extensions; otherwise the inner service is not called and the responder `R`
/// answers (401, 400 or 503 for HTTP; `UNAUTHENTICATED` or `UNAVAILABLE` for gRPC).
#[derive(Clone)]
#[must_use]
pub struct AuthLayer<R = DefaultRejectionResponse> {
    pub(crate) config: Arc<AuthConfig>,
    pub(crate) responder: R,
}

#[derive(Clone)]
pub(crate) struct AuthConfig {
    pub(crate) validator: Validator,
    pub(crate) location: TokenLocation,
    pub(crate) optional: bool,
    #[cfg_attr(not(feature = "mtls"), allow(dead_code))]
    pub(crate) require_bound: bool,
}

impl AuthLayer {
    /// Requires a valid bearer token in the `Authorization` header on every request.
    pub fn new(validator: Validator) -> Self {
        Self {
            config: Arc::new(AuthConfig {
                validator,
                location: TokenLocation::default(),
                optional: false,
                require_bound: false,
            }),
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl<R> AuthLayer<R> {
    /// Lets requests without any token through, with no `Principal`. A token that is
    /// present must still be valid: a bad token is refused, never ignored.
    pub fn optional(mut self) -> Self {
        Arc::make_mut(&mut self.config).optional = true;
        self
    }

    /// Refuses tokens that are not bound to the connection's client certificate
    /// (`cnf.x5t#S256`, RFC 8705). Bound tokens are always checked; this also refuses the
    /// unbound ones, for routes served over mutual TLS.
    #[cfg(feature = "mtls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mtls")))]
    pub fn require_certificate_bound_tokens(mut self) -> Self {
        Arc::make_mut(&mut self.config).require_bound = true;
        self
    }

    /// Reads the token from somewhere other than the `Authorization` header.
    pub fn token_location(mut self, location: TokenLocation) -> Self {
        Arc::make_mut(&mut self.config).location = location;
        self
    }

    /// Answers refusals with `responder` instead of [`DefaultRejectionResponse`].
    pub fn with_rejection_response<R2>(self, responder: R2) -> AuthLayer<R2> {
        AuthLayer {
            config: self.config,
            responder,
        }
    }

    /// The validator this layer uses.
    pub fn validator(&self) -> &Validator {
        &self.config.validator
    }
}

impl<S, R: Clone> Layer<S> for AuthLayer<R> {
    type Service = Auth<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth::new(inner, Arc::clone(&self.config), self.responder.clone())
    }
}

impl<R> fmt::Debug for AuthLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("validator", &self.config.validator)
            .field("location", &self.config.location)
            .field("optional", &self.config.optional)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}
