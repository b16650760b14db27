//! Reading a client certificate as a [`PeerIdentity`]: parsed once per connection from the
//! leaf certificate (x509-parser), shared by every request on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::kinded_error;
use crate::peer::{IdentityParts, PeerIdentity};

kinded_error! {
    /// A certificate could not be read as an identity.
    pub struct IdentityParseError(IdentityParseErrorKind);
}

/// The kinds of [`IdentityParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityParseErrorKind {
    /// The chain holds no certificate.
    #[error("the certificate chain is empty")]
    EmptyChain,
    /// The leaf is not a DER-encoded X.509 certificate.
    #[error("cannot parse the peer certificate")]
    NotX509,
}

impl PeerIdentity {
    /// Parses the identity from a certificate chain, leaf first.
    ///
    /// # Errors
    ///
    /// [`IdentityParseError`] when the chain is empty or its leaf is not an X.509
    /// certificate.
    #[cfg_attr(docsrs, doc(cfg(feature = "mtls")))]
    pub fn from_chain(chain: &[CertificateDer<'_>]) -> Result<Self, IdentityParseError> {
        let leaf = chain.first().ok_or(IdentityParseErrorKind::EmptyChain)?;
        let (_, cert) = X509Certificate::from_der(leaf.as_ref())
            .map_err(|e| IdentityParseError::with_source(IdentityParseErrorKind::NotX509, e))?;
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                    GeneralName::URI(uri) => uris.push((*uri).to_owned()),
                    _ => {}
                }
            }
        }
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let validity = cert.validity();
        let parts = IdentityParts {
            dns_names,
            subject: cert.subject().to_string(),
            common_name,
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            not_before: unix(validity.not_before.timestamp()),
            not_after: unix(validity.not_after.timestamp()),
            thumbprint: Some(thumbprint(leaf.as_ref())),
            chain: chain.iter().map(|c| c.clone().into_owned()).collect(),
            ..IdentityParts::default()
        };
        Ok(Self::from_parts(parts.with_uris(uris)))
    }
}

fn unix(secs: i64) -> Option<SystemTime> {
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// base64url(SHA-256(der)), as RFC 8705 `x5t#S256`.
pub(crate) fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_identity() {
        let empty = PeerIdentity::from_chain(&[]).unwrap_err();
        assert_eq!(empty.kind(), &IdentityParseErrorKind::EmptyChain);
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        let junk = PeerIdentity::from_chain(&[junk]).unwrap_err();
        assert_eq!(junk.kind(), &IdentityParseErrorKind::NotX509);
        assert!(std::error::Error::source(&junk).is_some());
    }
}
