//! Who the caller is: authenticated at all, a subject or issuer in a set, the calling service
//! and every service of the chain in a set.

use std::collections::BTreeSet;

use super::error::AuthzErrorKind;
use super::requirement::{AuthzRequest, Decision, Requirement};

/// Which name of the principal a [`NameIn`] requirement looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// Any principal at all.
    Authenticated,
    /// The end user's `sub`.
    Subject,
    /// The end user's issuer.
    Issuer,
    /// The service that called this one (the request must have come through services).
    Caller,
    /// Every service the request came through (vacuous for an end user calling directly).
    Chain,
}

/// A name of the principal is in a set.
#[derive(Debug, Clone)]
pub(crate) struct NameIn {
    pub(crate) name: Name,
    pub(crate) allowed: BTreeSet<String>,
}

impl Requirement for NameIn {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let principal = match request.authenticated() {
            Ok(p) => p,
            Err(e) => return Decision::deny(e),
        };
        let allowed = |name: &str| self.allowed.contains(name);
        let refused = match self.name {
            Name::Authenticated => None,
            Name::Subject => (!principal.subject().is_some_and(allowed))
                .then_some(AuthzErrorKind::SubjectNotAllowed),
            Name::Issuer => {
                (!allowed(principal.issuer())).then_some(AuthzErrorKind::IssuerNotAllowed)
            }
            Name::Caller => (!principal.caller().is_some_and(allowed)).then(|| {
                AuthzErrorKind::CallerNotAllowed {
                    caller: principal.caller().map(str::to_owned),
                }
            }),
            Name::Chain => principal
                .actor_chain()
                .iter()
                .find(|service| !allowed(service))
                .map(|service| AuthzErrorKind::ChainNotAllowed {
                    service: service.clone(),
                }),
        };
        match refused {
            None => Decision::allow(),
            Some(kind) => Decision::deny(kind.into()),
        }
    }
}
