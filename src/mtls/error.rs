use crate::error::kinded_error;

kinded_error! {
    /// A TLS configuration could not be built or reloaded. Names the file (or "in-memory …")
    /// and the fault.
    pub struct MtlsConfigError(MtlsConfigErrorKind);
}

/// The kinds of [`MtlsConfigError`]. `what` names the file or the in-memory input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsConfigErrorKind {
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
    /// The certificate and key were refused (mismatched, unsupported key).
    #[error("{what}: certificate or key refused")]
    InvalidServerCertificate {
        /// The input.
        what: String,
    },
    /// The client CA bundle or CRLs were refused.
    #[error("client CA bundle or CRLs refused")]
    InvalidClientVerifier,
    /// A client was configured without a CA bundle to check servers against.
    #[error("no server CA bundle configured")]
    NoServerCa,
    /// The server CA bundle was refused.
    #[error("server CA bundle refused")]
    InvalidServerVerifier,
}
