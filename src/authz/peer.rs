//! Peers: the connection must carry a client-certificate identity, optionally one of an
//! allow-list.

use super::error::{AuthzError, AuthzErrorKind};
use super::requirement::{AuthzRequest, Decision, Requirement};
use crate::peer::PeerIdentity;

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

    /// Admits exactly this SPIFFE ID (one more entry of the allow-list).
    #[must_use]
    pub fn spiffe_id(self, id: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffeId(id.into()))
    }

    /// Admits SPIFFE IDs under this path prefix, at a segment boundary:
    /// `spiffe://td/ns/billing` admits `spiffe://td/ns/billing/sa/api` but not
    /// `spiffe://td/ns/billing-old`.
    #[must_use]
    pub fn spiffe_path_prefix(self, prefix: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffePrefix(prefix.into()))
    }

    /// Admits every SPIFFE ID of a trust domain.
    #[must_use]
    pub fn trust_domain(self, trust_domain: impl Into<String>) -> Self {
        self.push(PeerPattern::TrustDomain(trust_domain.into()))
    }

    /// Admits certificates with this DNS SAN (case-insensitive).
    #[must_use]
    pub fn dns_name(self, name: impl Into<String>) -> Self {
        self.push(PeerPattern::Dns(name.into()))
    }

    /// Admits certificates with exactly this subject DN (as `CN=…, O=…`).
    #[must_use]
    pub fn subject(self, subject: impl Into<String>) -> Self {
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
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        self.check_identity(request.peer().as_ref()).into()
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
            PeerRequirement::any_verified().spiffe_id("spiffe://prod.example/ns/billing/sa/api"),
            PeerRequirement::any_verified().spiffe_path_prefix("spiffe://prod.example/ns/billing/"),
            PeerRequirement::any_verified().trust_domain("prod.example"),
            PeerRequirement::any_verified().dns_name("BILLING.internal"),
            PeerRequirement::any_verified().subject("CN=billing, O=Example"),
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
            .spiffe_path_prefix("spiffe://staging.example/ns/billing");
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
