use std::time::Duration;

use crate::error::kinded_error;

kinded_error! {
    /// Keys could not be fetched from a JWKS URL or through discovery.
    ///
    /// While a key source has never loaded, this makes requests fail with
    /// [`TokenErrorKind::KeysUnavailable`](crate::jwt::TokenErrorKind::KeysUnavailable) (503,
    /// gRPC `UNAVAILABLE`), with this error as its source; once keys were loaded, the last good
    /// set keeps serving through failures for the `stale_if_error` window.
    pub struct KeySourceError(KeySourceErrorKind);
}

/// The kinds of [`KeySourceError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceErrorKind {
    /// The request failed: connection refused, TLS, reset, redirect refused.
    #[error("request failed")]
    Request,
    /// No complete answer within the fetch timeout.
    #[error("no answer within {after:?}")]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The server answered with a status other than 2xx.
    #[error("server answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The body was larger than the cap.
    #[error("body exceeds {max} bytes")]
    BodyTooLarge {
        /// The cap.
        max: usize,
    },
    /// The JWKS document could not be parsed or held no usable key.
    #[error("invalid JWKS document: {reason}")]
    InvalidJwks {
        /// What was wrong.
        reason: &'static str,
    },
    /// The discovery document could not be parsed or lacked `jwks_uri`.
    #[error("invalid discovery document: {reason}")]
    InvalidDiscovery {
        /// What was wrong.
        reason: &'static str,
    },
    /// The discovery document's `issuer` is not exactly the configured issuer
    /// (OpenID Connect Discovery §4.3).
    #[error("discovery document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// A URL the source was told to fetch is not HTTPS and plain HTTP was not allowed.
    #[error("{url} is not https and insecure http was not allowed")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A fetch was not attempted: the refresh cooldown, or the back-off after a failure,
    /// has not elapsed.
    #[error("fetch suppressed by cooldown")]
    CoolingDown,
}
