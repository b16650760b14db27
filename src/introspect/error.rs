//! Errors of the introspection concern: [`IntrospectionError`] when the endpoint gives no
//! usable answer (the source of a [`TokenError`](crate::jwt::TokenError) of kind
//! `IntrospectionUnavailable`), [`IntrospectorConfigError`] when an introspector cannot be
//! built.

use std::time::Duration;

use crate::error::kinded_error;

kinded_error! {
    /// The introspection endpoint could not be asked, or its answer was not usable. The
    /// request is then refused with 503 (gRPC `UNAVAILABLE`), never 401: the token may be
    /// good.
    pub struct IntrospectionError(IntrospectionErrorKind);
}

/// The kinds of [`IntrospectionError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionErrorKind {
    /// The endpoint could not be found by discovery (the document could not be fetched,
    /// names another issuer, or has no `introspection_endpoint`).
    #[error("the introspection endpoint could not be discovered")]
    Discovery,
    /// The discovered endpoint is not HTTPS and plain HTTP was not allowed.
    #[error("the discovered introspection endpoint is not https")]
    InsecureEndpoint,
    /// The request could not be sent or its answer not read.
    #[error("the introspection request failed")]
    Request,
    /// No answer within the timeout.
    #[error("the introspection endpoint did not answer within {after:?}")]
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
    /// The endpoint answered with a status other than 200 (a client it does not accept
    /// answers 401).
    #[error("the introspection endpoint answered status {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The answer was longer than the configured bound.
    #[error("the introspection answer exceeds {max} bytes")]
    TooLarge {
        /// The bound, in bytes.
        max: usize,
    },
    /// The answer was not a JSON object with a boolean `active`.
    #[error("the introspection answer is malformed")]
    Malformed,
    /// The client assertion (`private_key_jwt`) could not be signed.
    #[error("the client assertion could not be signed")]
    ClientAssertion,
}

kinded_error! {
    /// An [`Introspector`](super::Introspector) could not be built from its configuration.
    /// Returned by the builder, never at request time.
    pub struct IntrospectorConfigError(IntrospectorConfigErrorKind);
}

/// The kinds of [`IntrospectorConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectorConfigErrorKind {
    /// The issuer is empty, or no audience was given.
    #[error("an issuer and at least one audience are required")]
    MissingIssuerOrAudience,
    /// No client authentication: RFC 7662 endpoints require one.
    #[error("client authentication is required (client_secret_basic or private_key_jwt)")]
    MissingClientAuth,
    /// The endpoint or the issuer is not a URL.
    #[error("invalid URL for {what}")]
    InvalidUrl {
        /// Which one.
        what: &'static str,
    },
    /// An `http://` endpoint or issuer without `allow_insecure_http()`.
    #[error("{what} must be https (allow_insecure_http() for loopback and development)")]
    InsecureUrl {
        /// Which one.
        what: &'static str,
    },
    /// A bound of zero (token or answer length, timeout).
    #[error("invalid limit: {what}")]
    InvalidLimit {
        /// Which one.
        what: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    Client,
}
