//! PEM inputs (files re-read on reload, or bytes) and the [`TlsIdentity`] a server or a
//! client presents.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use super::error::{MtlsConfigError, MtlsConfigErrorKind};

const MAX_PEM_FILE: u64 = 1024 * 1024;

/// A PEM input: a file (re-read on reload) or bytes.
#[derive(Clone)]
pub(crate) enum Pem {
    File(PathBuf),
    Bytes(Arc<[u8]>, &'static str),
}

impl Pem {
    pub(crate) fn what(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Bytes(_, what) => (*what).to_owned(),
        }
    }

    pub(crate) fn read(&self) -> Result<Vec<u8>, MtlsConfigError> {
        match self {
            Self::Bytes(bytes, _) => Ok(bytes.to_vec()),
            Self::File(path) => {
                let io = |e: std::io::Error| {
                    MtlsConfigError::with_source(MtlsConfigErrorKind::Io { what: self.what() }, e)
                };
                let len = std::fs::metadata(path).map_err(io)?.len();
                if len > MAX_PEM_FILE {
                    return Err(io(std::io::Error::other("file larger than 1 MiB")));
                }
                std::fs::read(path).map_err(io)
            }
        }
    }

    /// Adds what a file input holds now to `digest`; in-memory inputs never change.
    pub(crate) fn fingerprint_into(&self, digest: &mut aws_lc_rs::digest::Context) {
        if let Self::File(path) = self {
            digest.update(path.as_os_str().as_encoded_bytes());
            match self.read() {
                Ok(bytes) => {
                    digest.update(&(bytes.len() as u64).to_be_bytes());
                    digest.update(&bytes);
                }
                // Unreadable (being replaced, too large): a state of its own.
                Err(_) => digest.update(b"\0unreadable"),
            }
        }
    }

    pub(crate) fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, MtlsConfigError> {
        let bytes = self.read()?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                MtlsConfigError::with_source(
                    MtlsConfigErrorKind::InvalidPem { what: self.what() },
                    e,
                )
            })?;
        if certs.is_empty() {
            return Err(MtlsConfigErrorKind::NoCertificate { what: self.what() }.into());
        }
        Ok(certs)
    }

    pub(crate) fn private_key(&self) -> Result<PrivateKeyDer<'static>, MtlsConfigError> {
        let bytes = self.read()?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                MtlsConfigErrorKind::NoPrivateKey { what: self.what() }.into()
            }
            e => MtlsConfigError::with_source(
                MtlsConfigErrorKind::InvalidPem { what: self.what() },
                e,
            ),
        })
    }

    pub(crate) fn crls(
        &self,
    ) -> Result<Vec<CertificateRevocationListDer<'static>>, MtlsConfigError> {
        let bytes = self.read()?;
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                MtlsConfigError::with_source(
                    MtlsConfigErrorKind::InvalidPem { what: self.what() },
                    e,
                )
            })
    }
}

/// A certificate chain and its private key: what a server presents to its clients (the one
/// input an [`MtlsAcceptor`](super::MtlsAcceptor) cannot do without), and what a client
/// presents to servers ([`MtlsClient`](super::MtlsClient)).
///
/// ```
/// use meshward::mtls::TlsIdentity;
/// let from_files = TlsIdentity::pem_files("server.pem", "server.key");
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    pub(crate) chain: Pem,
    pub(crate) key: Pem,
}

impl TlsIdentity {
    /// PEM files, re-read on every reload.
    pub fn pem_files(chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            chain: Pem::File(chain.into()),
            key: Pem::File(key.into()),
        }
    }

    /// PEM bytes held in memory.
    pub fn pem(chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        Self {
            chain: Pem::Bytes(chain.into().into(), "in-memory certificate"),
            key: Pem::Bytes(key.into().into(), "in-memory private key"),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("chain", &self.chain.what())
            .field("key", &"[redacted]")
            .finish()
    }
}
