//! Who is on the other end of the connection: the [`PeerIdentity`] a client certificate
//! proves, the [`PeerInfo`] of a connection, and the one lookup, [`peer_identity`], that
//! finds them in a request's extensions whichever adapter put them there.
//!
//! This is part of the ground floor: it is available without the `mtls` feature, so that a
//! [`Principal`](crate::Principal), an authorization rule or a proxy's report can name a
//! peer. Parsing certificates (X.509) is the business of [`mtls`](crate::mtls), which builds
//! these values; this module only holds and finds them.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::Extensions;
use rustls_pki_types::CertificateDer;

/// The longest SPIFFE ID accepted, in bytes (SPIFFE ID specification §2.3).
const MAX_SPIFFE_ID: usize = 2048;

/// The identity a client certificate proves: its SPIFFE ID, names, subject, validity and
/// thumbprint.
///
/// Parsed once per connection by the `mtls` acceptor (or, behind a trusted proxy, from its
/// `x-forwarded-client-cert` header by the `mtls` XFCC layer) and shared by every request on
/// that connection. Cloning is cheap.
#[derive(Clone)]
pub struct PeerIdentity {
    inner: Arc<IdentityParts>,
}

/// The fields of a [`PeerIdentity`], filled in by whoever parsed the certificate or the
/// proxy's report.
#[derive(Clone, Default)]
pub(crate) struct IdentityParts {
    pub(crate) spiffe_id: Option<SpiffeId>,
    pub(crate) dns_names: Vec<String>,
    pub(crate) uris: Vec<String>,
    pub(crate) subject: String,
    pub(crate) common_name: Option<String>,
    pub(crate) issuer: String,
    pub(crate) serial: String,
    pub(crate) not_before: Option<SystemTime>,
    pub(crate) not_after: Option<SystemTime>,
    pub(crate) thumbprint: Option<String>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) forwarded: bool,
}

// Only the `mtls` feature makes identities (from certificates and proxies' reports).
#[cfg_attr(not(feature = "mtls"), allow(dead_code))]
impl IdentityParts {
    /// Takes the SPIFFE ID out of the URI SANs: an X.509-SVID carries exactly one URI SAN,
    /// and with more than one, none of them is the SPIFFE ID.
    pub(crate) fn with_uris(mut self, uris: Vec<String>) -> Self {
        self.spiffe_id = match uris.as_slice() {
            [only] => SpiffeId::parse(only),
            _ => None,
        };
        self.uris = if self.spiffe_id.is_some() {
            Vec::new()
        } else {
            uris
        };
        self
    }
}

#[cfg_attr(not(feature = "mtls"), allow(dead_code))]
impl PeerIdentity {
    pub(crate) fn from_parts(parts: IdentityParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// The same identity, marked as reported by a trusted proxy.
    pub(crate) fn into_forwarded(self) -> Self {
        let mut parts = Arc::unwrap_or_clone(self.inner);
        parts.forwarded = true;
        Self::from_parts(parts)
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

    /// The SPIFFE ID if there is one, else the subject: how logs and errors name a peer.
    pub(crate) fn display_name(&self) -> &str {
        self.spiffe_id()
            .map_or_else(|| self.subject(), SpiffeId::as_str)
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

/// A SPIFFE ID (`spiffe://trust-domain/path`), validated as the SPIFFE ID specification
/// requires: lowercase trust domain of `[a-z0-9.-_]`, path segments of `[a-zA-Z0-9.-_]`
/// that are neither empty nor `.` or `..`, no port, user info, query or fragment, at most
/// 2048 bytes.
///
/// ```
/// use meshward::SpiffeId;
/// let id = SpiffeId::parse("spiffe://prod.example.com/ns/billing/sa/api").unwrap();
/// assert_eq!(id.trust_domain(), "prod.example.com");
/// assert_eq!(id.path(), "/ns/billing/sa/api");
/// assert!(SpiffeId::parse("spiffe://prod.example.com/ns/../admin").is_none());
/// ```
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
/// With the `mtls` feature, tonic puts it in every request's extensions (through `Connected`
/// on `mtls::MtlsStream`); with axum, serve the router with
/// `into_make_service_with_connect_info::<PeerInfo>()` to get `ConnectInfo<PeerInfo>`; with
/// hyper, `mtls::AddPeerInfo` inserts it.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) identity: Option<PeerIdentity>,
}

impl PeerInfo {
    /// What is known of a connection: its address, and the client's identity if it proved
    /// one.
    pub fn new(remote_addr: Option<SocketAddr>, identity: Option<PeerIdentity>) -> Self {
        Self {
            remote_addr,
            identity,
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
/// proxy reported (the `mtls` XFCC layer), a [`PeerIdentity`] extension inserted by hand, a
/// [`PeerInfo`] (tonic's connect info over mutual TLS, hyper's `AddPeerInfo`), or axum's
/// `ConnectInfo<PeerInfo>`.
///
/// ```
/// let request = http::Request::new(());
/// assert!(meshward::peer_identity(request.extensions()).is_none());
/// ```
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
    framework_connect_info(extensions)
}

/// The one place the ground floor sees through a framework's own wrapper around connection
/// info: axum keeps it in `ConnectInfo<T>` and plain tonic in `TcpConnectInfo`, types the
/// lookup cannot find under meshward's own. It names the frameworks' types only, never
/// meshward's adapters (see ARCHITECTURE.md).
#[allow(unused_variables)]
fn framework_connect_info(extensions: &Extensions) -> Option<PeerInfo> {
    #[cfg(feature = "axum")]
    {
        use ::axum::extract::ConnectInfo;
        if let Some(info) = extensions.get::<ConnectInfo<PeerInfo>>() {
            return Some(info.0.clone());
        }
        if let Some(addr) = extensions.get::<ConnectInfo<SocketAddr>>() {
            return Some(PeerInfo::new(Some(addr.0), None));
        }
    }
    #[cfg(feature = "tonic")]
    if let Some(tcp) = extensions.get::<::tonic::transport::server::TcpConnectInfo>() {
        return Some(PeerInfo::new(tcp.remote_addr(), None));
    }
    None
}

/// Records what a trusted proxy reported: from here on [`peer_identity`] answers this,
/// `None` included, never the connection's own (the proxy's) identity.
#[cfg_attr(not(feature = "mtls"), allow(dead_code))]
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

    #[test]
    fn one_uri_san_is_the_spiffe_id_two_are_not() {
        let one = IdentityParts::default().with_uris(vec!["spiffe://td/a".into()]);
        assert_eq!(
            one.spiffe_id.as_ref().map(SpiffeId::as_str),
            Some("spiffe://td/a")
        );
        assert!(one.uris.is_empty());
        let two = IdentityParts::default()
            .with_uris(vec!["spiffe://td/a".into(), "spiffe://td/b".into()]);
        assert!(two.spiffe_id.is_none());
        assert_eq!(two.uris.len(), 2);
    }

    #[test]
    fn forwarded_report_overrides_the_connection() {
        let own = PeerIdentity::from_parts(
            IdentityParts::default().with_uris(vec!["spiffe://td/proxy".into()]),
        );
        let mut ext = Extensions::new();
        ext.insert(PeerInfo::new(None, Some(own)));
        assert_eq!(
            peer_identity(&ext).unwrap().spiffe_id().unwrap().as_str(),
            "spiffe://td/proxy"
        );
        set_forwarded(&mut ext, None);
        assert!(peer_identity(&ext).is_none());
    }
}
