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

crate::oauth::from_unanswered!(IntrospectionError, IntrospectionErrorKind);

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

/// The configuration error of an [`Introspector`](super::Introspector): the one error of both clients of an
/// authorization server.
pub type IntrospectorConfigError = crate::oauth::ClientConfigError;

/// The kinds of [`IntrospectorConfigError`].
pub type IntrospectorConfigErrorKind = crate::oauth::ClientConfigErrorKind;
