//! What a request must satisfy: the [`Requirement`] trait, the view of a request it checks,
//! and the requirements meshward ships (scopes, peer identities).

use std::fmt;

use http::{Extensions, HeaderMap, Method, Request, Uri};

use super::error::{AuthzError, AuthzErrorKind};
use crate::peer::{PeerIdentity, peer_identity};
use crate::principal::Principal;

/// What a [`Requirement`] sees of a request: its method, URI and headers, the
/// [`Principal`] an authentication layer put there, and the peer identity of its
/// connection.
#[derive(Clone, Copy)]
pub struct AuthzRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> AuthzRequest<'a> {
    /// The view of `request`.
    pub fn new<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The principal an authentication layer admitted, if any.
    pub fn principal(&self) -> Option<&'a Principal> {
        self.extensions.get::<Principal>()
    }

    /// The connection's client identity (or a trusted proxy's report of it), if any; see
    /// [`peer_identity`](crate::peer_identity).
    pub fn peer(&self) -> Option<PeerIdentity> {
        peer_identity(self.extensions)
    }
}

impl fmt::Debug for AuthzRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzRequest")
            .field("method", self.method)
            .field("uri", self.uri)
            .finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ScopeRequirement {}
    impl Sealed for super::PeerRequirement {}
}

/// A synchronous check of a request, run by [`AuthzLayer`](super::AuthzLayer) before the
/// inner service: `Ok` lets the request through, an [`AuthzError`] refuses it.
///
/// This trait is sealed.
pub trait Requirement: sealed::Sealed + Send + Sync + 'static {
    /// Checks `request`.
    ///
    /// # Errors
    ///
    /// The [`AuthzError`] that refuses the request.
    fn check(&self, request: &AuthzRequest<'_>) -> Result<(), AuthzError>;
}

/// The principal must hold scopes: all of a list, or any one of it. A request without a
/// principal is unauthenticated (401); one whose principal lacks them gets 403
/// `insufficient_scope`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    scopes: Vec<String>,
    all: bool,
}

impl ScopeRequirement {
    /// Every one of `scopes`.
    pub fn all<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self {
            scopes: scopes.into_iter().map(Into::into).collect(),
            all: true,
        }
    }

    /// At least one of `scopes`.
    pub fn any<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self {
            scopes: scopes.into_iter().map(Into::into).collect(),
            all: false,
        }
    }

    /// The scopes named.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether all of them are required (else any one).
    pub fn requires_all(&self) -> bool {
        self.all
    }
}

impl Requirement for ScopeRequirement {
    fn check(&self, request: &AuthzRequest<'_>) -> Result<(), AuthzError> {
        let principal = request.principal().ok_or(AuthzErrorKind::Unauthenticated)?;
        let held = principal.scopes();
        let wanted = self.scopes.iter().map(String::as_str);
        let ok = if self.all {
            held.contains_all(wanted)
        } else {
            held.contains_any(wanted)
        };
        if ok {
            Ok(())
        } else {
            Err(AuthzErrorKind::InsufficientScope {
                required: self.scopes.clone(),
                all: self.all,
            }
            .into())
        }
    }
}

impl fmt::Debug for ScopeRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeRequirement")
            .field("scopes", &self.scopes)
            .field("all", &self.all)
            .finish()
    }
}

/// The connection must carry a client-certificate identity, and, when patterns are given,
/// one that matches at least one of them. No identity: 401 (gRPC `UNAUTHENTICATED`); an
/// identity that matches no pattern: 403 (gRPC `PERMISSION_DENIED`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerRequirement {
    patterns: Vec<PeerPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PeerPattern {
    SpiffeId(String),
    SpiffePrefix(String),
    TrustDomain(String),
    Dns(String),
    Subject(String),
}

impl PeerPattern {
    fn matches(&self, id: &PeerIdentity) -> bool {
        let spiffe = id.spiffe_id();
        match self {
            Self::SpiffeId(want) => spiffe.is_some_and(|s| s.as_str() == want),
            Self::SpiffePrefix(prefix) => spiffe.is_some_and(|s| {
                let s = s.as_str();
                let prefix = prefix.trim_end_matches('/');
                s == prefix
                    || s.strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }),
            Self::TrustDomain(td) => spiffe.is_some_and(|s| s.trust_domain() == td),
            Self::Dns(name) => id.dns_names().iter().any(|d| d.eq_ignore_ascii_case(name)),
            Self::Subject(subject) => id.subject() == subject,
        }
    }
}

impl PeerRequirement {
    /// Any verified client identity; add patterns to narrow it.
    pub fn any_verified() -> Self {
        Self::default()
    }

    fn push(mut self, pattern: PeerPattern) -> Self {
        self.patterns.push(pattern);
        self
    }

    /// Allows exactly this SPIFFE ID.
    #[must_use]
    pub fn allow_spiffe_id(self, id: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffeId(id.into()))
    }

    /// Allows SPIFFE IDs under this path prefix, at a segment boundary:
    /// `spiffe://td/ns/billing` allows `spiffe://td/ns/billing/sa/api` but not
    /// `spiffe://td/ns/billing-old`.
    #[must_use]
    pub fn allow_spiffe_path_prefix(self, prefix: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffePrefix(prefix.into()))
    }

    /// Allows every SPIFFE ID of a trust domain.
    #[must_use]
    pub fn allow_trust_domain(self, trust_domain: impl Into<String>) -> Self {
        self.push(PeerPattern::TrustDomain(trust_domain.into()))
    }

    /// Allows certificates with this DNS SAN (case-insensitive).
    #[must_use]
    pub fn allow_dns_name(self, name: impl Into<String>) -> Self {
        self.push(PeerPattern::Dns(name.into()))
    }

    /// Allows certificates with exactly this subject DN (as `CN=…, O=…`).
    #[must_use]
    pub fn allow_subject(self, subject: impl Into<String>) -> Self {
        self.push(PeerPattern::Subject(subject.into()))
    }

    fn check_identity(&self, identity: Option<&PeerIdentity>) -> Result<(), AuthzError> {
        let identity = identity.ok_or(AuthzErrorKind::NoPeerIdentity)?;
        if self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(identity)) {
            Ok(())
        } else {
            Err(AuthzErrorKind::PeerNotAllowed {
                identity: identity.display_name().to_owned(),
            }
            .into())
        }
    }
}

impl Requirement for PeerRequirement {
    fn check(&self, request: &AuthzRequest<'_>) -> Result<(), AuthzError> {
        self.check_identity(request.peer().as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::IdentityParts;

    fn identity(uri: Option<&str>, dns: &[&str], subject: &str) -> PeerIdentity {
        let parts = IdentityParts {
            dns_names: dns.iter().map(|d| (*d).to_owned()).collect(),
            subject: subject.to_owned(),
            ..IdentityParts::default()
        };
        PeerIdentity::from_parts(parts.with_uris(uri.into_iter().map(str::to_owned).collect()))
    }

    fn kind(result: Result<(), AuthzError>) -> Option<AuthzErrorKind> {
        result.err().map(|e| e.kind().clone())
    }

    fn check_scopes(requirement: &ScopeRequirement, held: Option<&str>) -> Option<AuthzErrorKind> {
        let mut request = Request::new(());
        if let Some(held) = held {
            request
                .extensions_mut()
                .insert(crate::principal::test_principal(held));
        }
        kind(requirement.check(&AuthzRequest::new(&request)))
    }

    #[test]
    fn all_needs_every_scope_any_needs_one() {
        let all = ScopeRequirement::all(["read", "write"]);
        let any = ScopeRequirement::any(["read", "write"]);
        let missing_all = Some(AuthzErrorKind::InsufficientScope {
            required: vec!["read".into(), "write".into()],
            all: true,
        });
        let missing_any = Some(AuthzErrorKind::InsufficientScope {
            required: vec!["read".into(), "write".into()],
            all: false,
        });
        assert_eq!(check_scopes(&all, Some("read write admin")), None);
        assert_eq!(check_scopes(&all, Some("read")), missing_all);
        assert_eq!(check_scopes(&any, Some("write")), None);
        assert_eq!(check_scopes(&any, Some("admin")), missing_any);
        // No principal at all (an anonymous request an optional AuthLayer let through).
        assert_eq!(
            check_scopes(&all, None),
            Some(AuthzErrorKind::Unauthenticated)
        );
        assert_eq!(
            check_scopes(&any, None),
            Some(AuthzErrorKind::Unauthenticated)
        );
        assert_eq!(all.scopes(), ["read", "write"]);
        assert!(all.requires_all());
        assert!(!any.requires_all());
    }

    #[test]
    fn each_peer_pattern_matches_only_its_own() {
        let billing = identity(
            Some("spiffe://prod.example/ns/billing/sa/api"),
            &["billing.internal"],
            "CN=billing, O=Example",
        );
        let other = identity(
            Some("spiffe://staging.example/ns/billing-old/sa/api"),
            &["other.internal"],
            "CN=other, O=Example",
        );
        let cases = [
            PeerRequirement::any_verified()
                .allow_spiffe_id("spiffe://prod.example/ns/billing/sa/api"),
            PeerRequirement::any_verified()
                .allow_spiffe_path_prefix("spiffe://prod.example/ns/billing/"),
            PeerRequirement::any_verified().allow_trust_domain("prod.example"),
            PeerRequirement::any_verified().allow_dns_name("BILLING.internal"),
            PeerRequirement::any_verified().allow_subject("CN=billing, O=Example"),
        ];
        for requirement in &cases {
            assert_eq!(
                kind(requirement.check_identity(Some(&billing))),
                None,
                "{requirement:?}"
            );
            assert_eq!(
                kind(requirement.check_identity(Some(&other))),
                Some(AuthzErrorKind::PeerNotAllowed {
                    identity: "spiffe://staging.example/ns/billing-old/sa/api".into()
                }),
                "{requirement:?}"
            );
            assert_eq!(
                kind(requirement.check_identity(None)),
                Some(AuthzErrorKind::NoPeerIdentity)
            );
        }
        // A prefix stops at a segment boundary.
        let prefix = PeerRequirement::any_verified()
            .allow_spiffe_path_prefix("spiffe://staging.example/ns/billing");
        assert!(prefix.check_identity(Some(&other)).is_err());
        // No pattern: any verified identity.
        assert_eq!(
            kind(PeerRequirement::any_verified().check_identity(Some(&other))),
            None
        );
        // Without a SPIFFE ID, the subject names the refused peer.
        let plain = identity(None, &[], "CN=plain");
        assert_eq!(
            kind(cases[0].check_identity(Some(&plain))),
            Some(AuthzErrorKind::PeerNotAllowed {
                identity: "CN=plain".into()
            })
        );
    }
}
