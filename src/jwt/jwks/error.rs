use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Keys could not be fetched from a JWKS URL or through discovery.
///
/// While a key source has never loaded, this makes requests fail with
/// [`TokenErrorKind::KeysUnavailable`](crate::jwt::TokenErrorKind::KeysUnavailable) (503,
/// gRPC `UNAVAILABLE`), with this error as its source; once keys were loaded, the last good
/// set keeps serving through failures for the `stale_if_error` window.
#[derive(Clone)]
pub struct KeySourceError {
    kind: KeySourceErrorKind,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl KeySourceError {
    pub(crate) fn with_source(
        kind: KeySourceErrorKind,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &KeySourceErrorKind {
        &self.kind
    }
}

impl From<KeySourceErrorKind> for KeySourceError {
    fn from(kind: KeySourceErrorKind) -> Self {
        Self { kind, source: None }
    }
}

impl fmt::Debug for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("KeySourceError");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl StdError for KeySourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
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
