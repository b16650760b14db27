//! Behind a TLS-terminating proxy: the client identity from a trusted
//! `x-forwarded-client-cert` header (Envoy's XFCC format), and never from anyone else.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, Request};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tower_layer::Layer;
use tower_service::Service;

use crate::peer::{IdentityParts, PeerIdentity, peer_info, set_forwarded};

/// The header Envoy sets.
pub const XFCC: HeaderName = HeaderName::from_static("x-forwarded-client-cert");

/// The longest XFCC header read; longer ones are treated as absent.
const MAX_XFCC_LEN: usize = 64 * 1024;

/// Takes the client identity from `x-forwarded-client-cert` on requests that come from a
/// trusted proxy, and strips the header from every other request.
///
/// A proxy is trusted by its address (the TCP peer) or by its own mutual-TLS SPIFFE ID. The
/// identity is read from the header's last element, the one the nearest proxy added: from
/// its `Cert` when present (its `Hash`, if given, must match), else from `URI`, `DNS`,
/// `Subject` and `Hash`. It is inserted as a [`PeerIdentity`] that later layers
/// ([`RequirePeerLayer`](crate::authz::RequirePeerLayer), certificate-bound tokens) and handlers
/// see, marked [`is_forwarded`](PeerIdentity::is_forwarded).
///
/// ```
/// use meshward::mtls::XfccLayer;
/// let layer = XfccLayer::new()
///     .trust_proxy_addr("10.0.0.7".parse().unwrap())
///     .trust_proxy_spiffe_id("spiffe://prod.example.com/ns/ingress/sa/envoy");
/// ```
///
/// # Security
///
/// Whoever is trusted here can claim any client identity. Trust only the proxy's own
/// address or identity, and make sure clients cannot reach the service around it.
#[derive(Clone, Default)]
#[must_use]
pub struct XfccLayer {
    trust: Arc<Trust>,
}

#[derive(Debug, Clone, Default)]
struct Trust {
    addrs: Vec<IpAddr>,
    spiffe_ids: Vec<String>,
}

impl XfccLayer {
    /// Trusts nobody yet: the header is stripped from every request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the proxy connecting from `addr`.
    pub fn trust_proxy_addr(mut self, addr: IpAddr) -> Self {
        Arc::make_mut(&mut self.trust).addrs.push(addr);
        self
    }

    /// Trusts the proxy whose client certificate carries this SPIFFE ID.
    pub fn trust_proxy_spiffe_id(mut self, id: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.trust).spiffe_ids.push(id.into());
        self
    }
}

impl fmt::Debug for XfccLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XfccLayer")
            .field("addrs", &self.trust.addrs)
            .field("spiffe_ids", &self.trust.spiffe_ids)
            .finish()
    }
}

impl<S> Layer<S> for XfccLayer {
    type Service = Xfcc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Xfcc {
            inner,
            trust: Arc::clone(&self.trust),
        }
    }
}

/// The service made by [`XfccLayer`].
#[derive(Clone)]
pub struct Xfcc<S> {
    inner: S,
    trust: Arc<Trust>,
}

impl<S: fmt::Debug> fmt::Debug for Xfcc<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xfcc")
            .field("inner", &self.inner)
            .field("trust", &self.trust)
            .finish()
    }
}

impl Trust {
    fn trusts<B>(&self, request: &Request<B>) -> bool {
        let Some(info) = peer_info(request.extensions()) else {
            return false;
        };
        let by_addr = info
            .remote_addr()
            .is_some_and(|a| self.addrs.contains(&a.ip()));
        let by_id = info
            .identity()
            .and_then(PeerIdentity::spiffe_id)
            .is_some_and(|id| self.spiffe_ids.iter().any(|t| t == id.as_str()));
        by_addr || by_id
    }
}

impl<S, B> Service<Request<B>> for Xfcc<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if self.trust.trusts(&request) {
            // From the proxy, the client's identity is what the header says, or none: never
            // the proxy's own certificate.
            let identity = if request.headers().contains_key(&XFCC) {
                single_header(&request).and_then(|v| match parse(v) {
                    Ok(identity) => Some(identity),
                    Err(reason) => {
                        tracing::warn!(target: "meshward::mtls", reason, "unusable x-forwarded-client-cert from a trusted proxy");
                        None
                    }
                })
            } else {
                None
            };
            if identity.is_none() {
                request.headers_mut().remove(&XFCC);
            }
            set_forwarded(request.extensions_mut(), identity);
        } else if request.headers_mut().remove(&XFCC).is_some() {
            tracing::info!(target: "meshward::mtls", path = request.uri().path(), "x-forwarded-client-cert from an untrusted peer stripped");
        }
        self.inner.call(request)
    }
}

fn single_header<B>(request: &Request<B>) -> Option<&str> {
    let mut values = request.headers().get_all(&XFCC).iter();
    match (values.next(), values.next()) {
        (Some(v), None) if v.len() <= MAX_XFCC_LEN => v.to_str().ok(),
        _ => None,
    }
}

/// The identity in the last element of an XFCC header.
pub(crate) fn parse(header: &str) -> Result<PeerIdentity, &'static str> {
    let element = split_unquoted(header, ',')
        .into_iter()
        .last()
        .ok_or("empty header")?;
    let mut cert = None;
    let mut hash = None;
    let mut subject = None;
    let mut uris = Vec::new();
    let mut dns = Vec::new();
    for pair in split_unquoted(element, ';') {
        let (key, value) = pair.split_once('=').ok_or("pair without '='")?;
        let value = unquote(value.trim())?;
        match key.trim().to_ascii_lowercase().as_str() {
            "cert" => cert = Some(value),
            "hash" => hash = Some(value),
            "subject" => subject = Some(value),
            "uri" => uris.push(value),
            "dns" => dns.push(value),
            _ => {}
        }
    }
    let hash = match hash {
        Some(hex) => Some(decode_hex(&hex).ok_or("Hash is not hex SHA-256")?),
        None => None,
    };
    if let Some(cert) = cert {
        let pem = percent_encoding::percent_decode_str(&cert)
            .decode_utf8()
            .map_err(|_| "Cert is not URL-encoded UTF-8")?;
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| "Cert is not PEM")?;
        if let Some(hash) = &hash
            && aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref()).as_ref() != hash
        {
            return Err("Hash does not match Cert");
        }
        let identity = PeerIdentity::from_chain(&[der]).map_err(|_| "Cert is not X.509")?;
        return Ok(identity.into_forwarded());
    }
    if uris.is_empty() && dns.is_empty() && subject.is_none() && hash.is_none() {
        return Err("element names no identity");
    }
    let thumbprint = hash.map(|h| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
    });
    let parts = IdentityParts {
        dns_names: dns,
        subject: subject.unwrap_or_default(),
        thumbprint,
        forwarded: true,
        ..IdentityParts::default()
    };
    Ok(PeerIdentity::from_parts(parts.with_uris(uris)))
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Removes surrounding quotes and `\"` escapes.
fn unquote(value: &str) -> Result<String, &'static str> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let inner = inner.strip_suffix('"').ok_or("unterminated quote")?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().ok_or("dangling escape")?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respect_quotes() {
        let h = r#"By=spiffe://a/b;Hash=00;Subject="CN=x,O=\"y\"";URI=spiffe://td/svc,By=z;DNS=d"#;
        let elements = split_unquoted(h, ',');
        assert_eq!(elements.len(), 2);
        let pairs = split_unquoted(elements[0], ';');
        assert_eq!(pairs[2], r#"Subject="CN=x,O=\"y\"""#);
        assert_eq!(unquote(r#""CN=x,O=\"y\"""#).unwrap(), r#"CN=x,O="y""#);
        // An escaped quote does not end the quoted value; a backslash outside quotes
        // escapes nothing.
        let h = r#"Subject="O=\"a;b\"";URI=spiffe://td/x"#;
        assert_eq!(
            split_unquoted(h, ';'),
            [r#"Subject="O=\"a;b\"""#, "URI=spiffe://td/x"]
        );
        assert_eq!(split_unquoted(r"DNS=a\;DNS=b", ';'), [r"DNS=a\", "DNS=b"]);
    }

    #[test]
    fn identity_from_fields_of_the_last_element() {
        let hash = "a".repeat(64);
        let h = format!(
            r#"By=spiffe://td/proxy;URI=spiffe://td/first,By=spiffe://td/me;Hash={hash};Subject="CN=client";URI=spiffe://td/ns/x;DNS=x.internal"#
        );
        let id = parse(&h).unwrap();
        assert_eq!(id.spiffe_id().unwrap().as_str(), "spiffe://td/ns/x");
        assert_eq!(id.dns_names(), ["x.internal"]);
        assert_eq!(id.subject(), "CN=client");
        assert!(id.is_forwarded());
        assert!(id.thumbprint_sha256().is_some());
        // The hex Hash becomes the base64url x5t#S256: SHA-256("abc") as a known vector.
        let h = "URI=spiffe://td/x;Hash=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(
            parse(h).unwrap().thumbprint_sha256(),
            Some("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
        );
        assert!(parse("By=spiffe://td/me").is_err());
        assert!(parse(r#"Subject="unterminated"#).is_err());
        assert!(parse("Hash=zz").is_err());
    }

    #[test]
    fn any_one_identity_field_is_enough() {
        let uri = parse("By=spiffe://td/me;URI=spiffe://td/ns/a").unwrap();
        assert_eq!(uri.spiffe_id().unwrap().as_str(), "spiffe://td/ns/a");
        let dns = parse("By=spiffe://td/me;DNS=a.internal").unwrap();
        assert_eq!(dns.dns_names(), ["a.internal"]);
        let subject = parse(r#"By=spiffe://td/me;Subject="CN=a""#).unwrap();
        assert_eq!(subject.subject(), "CN=a");
        let hash = parse(&format!("By=spiffe://td/me;Hash={}", "b".repeat(64))).unwrap();
        assert!(hash.thumbprint_sha256().is_some());
        assert_eq!(
            parse("By=spiffe://td/me").unwrap_err(),
            "element names no identity"
        );
    }
}
