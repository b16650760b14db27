use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A TLS configuration could not be built or reloaded. Names the file (or "in-memory …")
/// and the fault.
#[derive(Clone)]
pub struct MtlsConfigError {
    kind: MtlsConfigErrorKind,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl MtlsConfigError {
    pub(crate) fn new(kind: MtlsConfigErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: MtlsConfigErrorKind,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &MtlsConfigErrorKind {
        &self.kind
    }
}

impl fmt::Debug for MtlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MtlsConfigError");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for MtlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl StdError for MtlsConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// The kinds of [`MtlsConfigError`]. `what` names the file or the in-memory input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsConfigErrorKind {
    /// No server certificate and key were configured.
    #[error("no server certificate configured")]
    NoServerCertificate,
    /// A file could not be read, or is larger than 1 MiB.
    #[error("{what}: cannot read")]
    Io {
        /// The file.
        what: String,
    },
    /// The PEM held no certificate.
    #[error("{what}: no certificate in PEM")]
    NoCertificate {
        /// The input.
        what: String,
    },
    /// The PEM held no private key.
    #[error("{what}: no private key in PEM")]
    NoPrivateKey {
        /// The input.
        what: String,
    },
    /// The PEM could not be parsed.
    #[error("{what}: invalid PEM")]
    InvalidPem {
        /// The input.
        what: String,
    },
    /// The server certificate and key were refused (mismatched, unsupported key).
    #[error("{what}: server certificate or key refused")]
    InvalidServerCertificate {
        /// The input.
        what: String,
    },
    /// The client CA bundle or CRLs were refused.
    #[error("client CA bundle or CRLs refused")]
    InvalidClientVerifier,
}
