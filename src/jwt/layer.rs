use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::extract::TokenLocation;
use super::service::{Auth, AuthGate};
use super::validator::Validator;
use super::verifier::Verifier;
use crate::gate::{Gated, IntoGate};
use crate::principal::{ALWAYS_CREDENTIALS, CredentialHeaders};
use crate::rejection::DefaultRejectionResponse;

/// Authenticates every request with a bearer token; see the [module docs](super).
///
/// On success the request reaches the inner service with a [`Principal`](crate::Principal)
/// in its extensions; otherwise the inner service is not called and the responder `R`
/// answers (401, 400 or 503 for HTTP; `UNAUTHENTICATED` or `UNAVAILABLE` for gRPC).
///
/// `V` is what checks the token: a [`Validator`] for an identity provider's tokens, or any
/// other [`Verifier`].
#[derive(Clone)]
#[must_use]
pub struct AuthLayer<V = Validator, R = DefaultRejectionResponse> {
    config: Arc<AuthGate<V>>,
    responder: R,
}

impl<V: Verifier> AuthLayer<V> {
    /// Requires a token that `verifier` accepts, in the `Authorization` header, on every
    /// request.
    pub fn new(verifier: V) -> Self {
        Self {
            config: Arc::new(AuthGate {
                verifier,
                locations: Box::new([TokenLocation::default()]),
                credential_headers: None,
                allow_anonymous: false,
                require_bound: false,
            }),
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl<V: Clone, R> AuthLayer<V, R> {
    /// Lets requests without any token through, with no `Principal`. A token that is
    /// present must still be valid: a bad token is refused, never ignored.
    ///
    /// # Security
    ///
    /// Handlers (or a later layer, such as
    /// [`RequireScopesLayer`](crate::authz::RequireScopesLayer), which answers 401 to a
    /// request without a principal) must then decide what an anonymous caller may do.
    pub fn allow_anonymous(mut self) -> Self {
        Arc::make_mut(&mut self.config).allow_anonymous = true;
        self
    }

    /// Refuses tokens that are not bound to the connection's client certificate
    /// (`cnf.x5t#S256`, RFC 8705). Bound tokens are always checked; this also refuses the
    /// unbound ones, for routes served over mutual TLS.
    pub fn require_certificate_bound_tokens(mut self) -> Self {
        Arc::make_mut(&mut self.config).require_bound = true;
        self
    }

    /// Reads the token from somewhere other than the `Authorization` header.
    pub fn token_location(self, location: TokenLocation) -> Self {
        self.token_locations([location])
    }

    /// Reads the token from the first of `locations` that holds one, in order: say, the
    /// `Authorization` header, then a cookie. A malformed credential in any of them is
    /// refused (400), not skipped. With no location at all, the default (the
    /// `Authorization` header) stays.
    ///
    /// ```
    /// use meshward::jwt::{AuthLayer, TokenLocation};
    /// # fn f(validator: meshward::jwt::Validator) -> Result<(), meshward::jwt::ConfigError> {
    /// let layer = AuthLayer::new(validator).token_locations([
    ///     TokenLocation::authorization_header(),
    ///     TokenLocation::cookie("session")?,
    /// ]);
    /// # Ok(()) }
    /// ```
    pub fn token_locations(mut self, locations: impl IntoIterator<Item = TokenLocation>) -> Self {
        let locations: Box<[TokenLocation]> = locations.into_iter().collect();
        if !locations.is_empty() {
            let headers: Arc<[http::HeaderName]> = locations
                .iter()
                .filter_map(TokenLocation::own_header)
                .filter(|name| !ALWAYS_CREDENTIALS.contains(name))
                .cloned()
                .collect();
            let config = Arc::make_mut(&mut self.config);
            config.credential_headers = (!headers.is_empty()).then_some(CredentialHeaders(headers));
            config.locations = locations;
        }
        self
    }

    /// Answers refusals with `responder` instead of [`DefaultRejectionResponse`].
    pub fn with_rejection_response<R2>(self, responder: R2) -> AuthLayer<V, R2> {
        AuthLayer {
            config: self.config,
            responder,
        }
    }

    /// What checks the tokens.
    pub fn verifier(&self) -> &V {
        &self.config.verifier
    }
}

impl<S, V, R: Clone> Layer<S> for AuthLayer<V, R> {
    type Service = Auth<S, V, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(inner, Arc::clone(&self.config), self.responder.clone())
    }
}

impl<V: Verifier, R> IntoGate for AuthLayer<V, R> {
    type Gate = AuthGate<V>;

    fn into_gate(self) -> Arc<AuthGate<V>> {
        self.config
    }
}

impl<V: fmt::Debug, R> fmt::Debug for AuthLayer<V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("verifier", &self.config.verifier)
            .field("locations", &self.config.locations)
            .field("allow_anonymous", &self.config.allow_anonymous)
            .field("require_bound", &self.config.require_bound)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}
