//! Scopes: the principal must hold all of a list, or any one of it.

use std::fmt;

use super::error::{AuthzError, AuthzErrorKind};
use super::requirement::{AuthzRequest, Decision, Requirement};

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
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        self.check_scopes(request).into()
    }
}

impl ScopeRequirement {
    fn check_scopes(&self, request: &AuthzRequest<'_>) -> Result<(), AuthzError> {
        let principal = request.authenticated()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn check_scopes(requirement: &ScopeRequirement, held: Option<&str>) -> Option<AuthzErrorKind> {
        let mut request = Request::new(());
        if let Some(held) = held {
            request
                .extensions_mut()
                .insert(crate::principal::test_principal(held));
        }
        requirement
            .check(&AuthzRequest::new(&request))
            .ready_result()
            .and_then(|r| r.clone().err())
            .map(|e| e.kind().clone())
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
}
