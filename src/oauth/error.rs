//! The one configuration error of a client of an authorization server.

use crate::error::kinded_error;

kinded_error! {
    /// An [`Introspector`](crate::introspect::Introspector) or a
    /// [`TokenExchange`](crate::exchange::TokenExchange) could not be built from its
    /// configuration. Returned by the builders, never at request time.
    pub struct ClientConfigError(ClientConfigErrorKind);
}

/// The kinds of [`ClientConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigErrorKind {
    /// The issuer is empty, or no audience was given (introspection).
    #[error("an issuer and at least one audience are required")]
    MissingIssuerOrAudience,
    /// No client authentication: introspection (RFC 7662) and token-exchange endpoints
    /// require one.
    #[error("client authentication is required (client_secret_basic or private_key_jwt)")]
    MissingClientAuth,
    /// The issuer or an endpoint is not a URL.
    #[error("invalid URL for {what}")]
    InvalidUrl {
        /// Which one.
        what: &'static str,
    },
    /// An `http://` issuer or endpoint without `allow_insecure_http()`.
    #[error("{url} is not https; allow_insecure_http() was not called")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A bound of zero (a length, the timeout).
    #[error("invalid limit: {what}")]
    InvalidLimit {
        /// Which one.
        what: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    Client,
}
