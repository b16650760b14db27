//! Who is on the other end of a mutual-TLS connection: parsed once per connection from the
//! leaf certificate, shared by every request on it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Extensions;
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The longest SPIFFE ID accepted, in bytes (SPIFFE ID specification §2.3).
const MAX_SPIFFE_ID: usize = 2048;

/// The identity a client certificate proves: its SPIFFE ID, names, subject, validity and
/// thumbprint.
///
/// Parsed once per connection by the [`MtlsAcceptor`](super::MtlsAcceptor) (or, behind a
/// trusted proxy, from its `x-forwarded-client-cert` header by [`XfccLayer`](super::XfccLayer))
/// and shared by every request on that connection. Cloning is cheap.
#[derive(Clone)]
pub struct PeerIdentity {
    inner: Arc<Identity>,
}

struct Identity {
    spiffe_id: Option<SpiffeId>,
    dns_names: Vec<String>,
    uris: Vec<String>,
    subject: String,
    common_name: Option<String>,
    issuer: String,
    serial: String,
    not_before: Option<SystemTime>,
    not_after: Option<SystemTime>,
    thumbprint: Option<String>,
    chain: Vec<CertificateDer<'static>>,
    forwarded: bool,
}

/// Why a certificate could not be read as an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse the peer certificate")]
pub struct IdentityParseError;

impl PeerIdentity {
    /// Parses the identity from a certificate chain, leaf first.
    ///
    /// # Errors
    ///
    /// [`IdentityParseError`] when the chain is empty or its leaf is not an X.509
    /// certificate.
    pub fn from_chain(chain: &[CertificateDer<'_>]) -> Result<Self, IdentityParseError> {
        let leaf = chain.first().ok_or(IdentityParseError)?;
        let (_, cert) = X509Certificate::from_der(leaf.as_ref()).map_err(|_| IdentityParseError)?;
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
        // An X.509-SVID carries exactly one URI SAN; with more, none is the SPIFFE ID.
        let spiffe_id = match uris.as_slice() {
            [only] => SpiffeId::parse(only),
            _ => None,
        };
        if spiffe_id.is_some() {
            uris.clear();
        }
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let validity = cert.validity();
        Ok(Self::new(Identity {
            spiffe_id,
            dns_names,
            uris,
            subject: cert.subject().to_string(),
            common_name,
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            not_before: unix(validity.not_before.timestamp()),
            not_after: unix(validity.not_after.timestamp()),
            thumbprint: Some(thumbprint(leaf.as_ref())),
            chain: chain.iter().map(|c| c.clone().into_owned()).collect(),
            forwarded: false,
        }))
    }

    fn new(identity: Identity) -> Self {
        Self {
            inner: Arc::new(identity),
        }
    }

    /// An identity a trusted proxy reported without the certificate itself.
    pub(crate) fn forwarded(
        uris: Vec<String>,
        dns_names: Vec<String>,
        subject: Option<String>,
        thumbprint: Option<String>,
    ) -> Self {
        let spiffe_id = match uris.as_slice() {
            [only] => SpiffeId::parse(only),
            _ => None,
        };
        let uris = if spiffe_id.is_some() {
            Vec::new()
        } else {
            uris
        };
        Self::new(Identity {
            spiffe_id,
            dns_names,
            uris,
            subject: subject.unwrap_or_default(),
            common_name: None,
            issuer: String::new(),
            serial: String::new(),
            not_before: None,
            not_after: None,
            thumbprint,
            chain: Vec::new(),
            forwarded: true,
        })
    }

    pub(crate) fn into_forwarded(self) -> Self {
        let i = &*self.inner;
        Self::new(Identity {
            spiffe_id: i.spiffe_id.clone(),
            dns_names: i.dns_names.clone(),
            uris: i.uris.clone(),
            subject: i.subject.clone(),
            common_name: i.common_name.clone(),
            issuer: i.issuer.clone(),
            serial: i.serial.clone(),
            not_before: i.not_before,
            not_after: i.not_after,
            thumbprint: i.thumbprint.clone(),
            chain: i.chain.clone(),
            forwarded: true,
        })
    }

    /// The SPIFFE ID from the certificate's one URI SAN, when it is a valid one.
    pub fn spiffe_id(&self) -> Option<&SpiffeId> {
        self.inner.spiffe_id.as_ref()
    }

    /// The DNS names (`dNSName` SANs).
    pub fn dns_names(&self) -> &[String] {
        &self.inner.dns_names
    }

    /// URI SANs other than the SPIFFE ID.
    pub fn uris(&self) -> &[String] {
        &self.inner.uris
    }

    /// The subject's distinguished name, as `CN=…, O=…`.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.inner.common_name.as_deref()
    }

    /// The issuer's distinguished name (empty for a proxy-reported identity without a
    /// certificate).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The serial number, as colon-separated hex.
    pub fn serial(&self) -> &str {
        &self.inner.serial
    }

    /// Start of the certificate's validity.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.inner.not_before
    }

    /// End of the certificate's validity.
    pub fn not_after(&self) -> Option<SystemTime> {
        self.inner.not_after
    }

    /// SHA-256 of the leaf certificate's DER, base64url without padding: the `x5t#S256`
    /// of RFC 8705 certificate-bound tokens.
    pub fn thumbprint_sha256(&self) -> Option<&str> {
        self.inner.thumbprint.as_deref()
    }

    /// The chain the peer presented, leaf first (empty for a proxy-reported identity
    /// without a certificate).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.inner.chain
    }

    /// Whether a trusted proxy reported this identity (`x-forwarded-client-cert`) rather
    /// than this process's own TLS handshake.
    pub fn is_forwarded(&self) -> bool {
        self.inner.forwarded
    }
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerIdentity")
            .field("spiffe_id", &self.inner.spiffe_id)
            .field("dns_names", &self.inner.dns_names)
            .field("uris", &self.inner.uris)
            .field("subject", &self.inner.subject)
            .field("thumbprint_sha256", &self.inner.thumbprint)
            .field("forwarded", &self.inner.forwarded)
            .finish_non_exhaustive()
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

/// A SPIFFE ID (`spiffe://trust-domain/path`), validated as the SPIFFE ID specification
/// requires: lowercase trust domain of `[a-z0-9.-_]`, path segments of `[a-zA-Z0-9.-_]`
/// that are neither empty nor `.` or `..`, no port, user info, query or fragment, at most
/// 2048 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    id: String,
    path_start: usize,
}

impl SpiffeId {
    /// Parses and validates a SPIFFE ID; `None` when it is not one.
    pub fn parse(id: &str) -> Option<Self> {
        if id.len() > MAX_SPIFFE_ID {
            return None;
        }
        let rest = id.strip_prefix("spiffe://")?;
        let (domain, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let domain_ok = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        let path_ok = path.is_empty()
            || path[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            });
        (domain_ok && path_ok).then(|| Self {
            id: id.to_owned(),
            path_start: "spiffe://".len() + domain.len(),
        })
    }

    /// The whole ID.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The trust domain, such as `prod.example.com`.
    pub fn trust_domain(&self) -> &str {
        &self.id["spiffe://".len()..self.path_start]
    }

    /// The path, such as `/ns/billing/sa/api` (empty for a trust domain's own ID).
    pub fn path(&self) -> &str {
        &self.id[self.path_start..]
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.id, f)
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// What the server knows about one connection: the client's address and, after a mutual-TLS
/// handshake, its identity.
///
/// tonic puts it in every request's extensions (through [`Connected`] on
/// [`MtlsStream`](super::MtlsStream)); with axum, serve the router with
/// `into_make_service_with_connect_info::<PeerInfo>()` to get `ConnectInfo<PeerInfo>`.
///
/// [`Connected`]: https://docs.rs/tonic/latest/tonic/transport/server/trait.Connected.html
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) identity: Option<PeerIdentity>,
}

impl PeerInfo {
    /// A plain TCP connection: an address, no certificate.
    #[cfg_attr(not(any(feature = "axum", feature = "tonic")), allow(dead_code))]
    fn address_only(remote_addr: Option<SocketAddr>) -> Self {
        Self {
            remote_addr,
            identity: None,
        }
    }

    /// The client's socket address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The client's certificate identity, when it presented one.
    pub fn identity(&self) -> Option<&PeerIdentity> {
        self.identity.as_ref()
    }
}

/// What a trusted proxy said about the client: its identity, or that it had none. It
/// overrides the connection's own identity, which is the proxy's.
#[derive(Clone)]
struct Forwarded(Option<PeerIdentity>);

/// The peer identity of a request, wherever the serving adapter put it: what a trusted
/// proxy reported ([`XfccLayer`](super::XfccLayer)), a [`PeerIdentity`] extension inserted
/// by hand, tonic's connect info, or axum's `ConnectInfo<PeerInfo>`.
pub fn peer_identity(extensions: &Extensions) -> Option<PeerIdentity> {
    if let Some(forwarded) = extensions.get::<Forwarded>() {
        return forwarded.0.clone();
    }
    if let Some(identity) = extensions.get::<PeerIdentity>() {
        return Some(identity.clone());
    }
    peer_info(extensions).and_then(|info| info.identity)
}

/// The connection's info, wherever the adapter put it; for plain TCP connections (axum's
/// `ConnectInfo<SocketAddr>`, tonic's `TcpConnectInfo`) just the address.
pub(crate) fn peer_info(extensions: &Extensions) -> Option<PeerInfo> {
    if let Some(info) = extensions.get::<PeerInfo>() {
        return Some(info.clone());
    }
    #[cfg(feature = "axum")]
    {
        use axum::extract::ConnectInfo;
        if let Some(info) = extensions.get::<ConnectInfo<PeerInfo>>() {
            return Some(info.0.clone());
        }
        if let Some(addr) = extensions.get::<ConnectInfo<SocketAddr>>() {
            return Some(PeerInfo::address_only(Some(addr.0)));
        }
    }
    #[cfg(feature = "tonic")]
    if let Some(tcp) = extensions.get::<tonic::transport::server::TcpConnectInfo>() {
        return Some(PeerInfo::address_only(tcp.remote_addr()));
    }
    None
}

/// Records what a trusted proxy reported: from here on [`peer_identity`] answers this,
/// `None` included, never the connection's own (the proxy's) identity.
pub(crate) fn set_forwarded(extensions: &mut Extensions, identity: Option<PeerIdentity>) {
    extensions.insert(Forwarded(identity));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids() {
        let id = SpiffeId::parse("spiffe://prod.example.com/ns/billing/sa/api").unwrap();
        assert_eq!(id.trust_domain(), "prod.example.com");
        assert_eq!(id.path(), "/ns/billing/sa/api");
        assert!(SpiffeId::parse("spiffe://td").is_some());
        for bad in [
            "spiffe://",
            "spiffe:///path",
            "SPIFFE://td/x",
            "spiffe://TD/x",
            "spiffe://td:443/x",
            "spiffe://user@td/x",
            "spiffe://td/x/",
            "spiffe://td//x",
            "spiffe://td/./x",
            "spiffe://td/../x",
            "spiffe://td/x?q=1",
            "spiffe://td/x#f",
            "https://td/x",
        ] {
            assert!(SpiffeId::parse(bad).is_none(), "{bad}");
        }
        let long = format!("spiffe://td/{}", "a".repeat(MAX_SPIFFE_ID));
        assert!(SpiffeId::parse(&long).is_none());
    }
}
