//! Errors of the token exchange: [`ExchangeError`] when no token was issued (the source of
//! the outbound call's [`MintError`](crate::mint::MintError) of kind `Exchange`),
//! [`ExchangeConfigError`] when a [`TokenExchange`](super::TokenExchange) cannot be built.

use std::time::Duration;

use crate::error::kinded_error;

kinded_error! {
    /// The security token service issued no token for an outbound call.
    pub struct ExchangeError(ExchangeErrorKind);
}

crate::oauth::from_unanswered!(ExchangeError, ExchangeErrorKind);

/// The kinds of [`ExchangeError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeErrorKind {
    /// The token endpoint could not be found by discovery.
    #[error("the token endpoint could not be discovered")]
    Discovery,
    /// The discovered endpoint is not HTTPS and plain HTTP was not allowed.
    #[error("the discovered token endpoint is not https")]
    InsecureEndpoint,
    /// The request could not be sent or its answer not read.
    #[error("the token exchange request failed")]
    Request,
    /// No answer within the timeout.
    #[error("the token endpoint did not answer within {after:?}")]
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
    /// The answer was longer than the configured bound.
    #[error("the token endpoint's answer exceeds {max} bytes")]
    TooLarge {
        /// The bound, in bytes.
        max: usize,
    },
    /// The service refused the exchange (RFC 6749 §5.2): its status and `error` code
    /// (`invalid_grant`, `invalid_target`, `unauthorized_client`, …; empty when it sent
    /// none).
    #[error("the token exchange was refused ({status} {error})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code, at most 64 characters.
        error: String,
    },
    /// A 200 answer without a usable `access_token`, `token_type` or `expires_in`.
    #[error("the token endpoint's answer is malformed")]
    Malformed,
    /// The client assertion (`private_key_jwt`) could not be signed.
    #[error("the client assertion could not be signed")]
    ClientAssertion,
}

/// The configuration error of a [`TokenExchange`](super::TokenExchange): the one error of both clients of an
/// authorization server.
pub type ExchangeConfigError = crate::oauth::ClientConfigError;

/// The kinds of [`ExchangeConfigError`].
pub type ExchangeConfigErrorKind = crate::oauth::ClientConfigErrorKind;
