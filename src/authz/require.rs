//! Requirements, built and composed: every function returns an [`BoxRequirement`] that an
//! [`AuthzLayer`](super::AuthzLayer) checks, or a rule of a [`RuleTable`](super::RuleTable)
//! holds.
//!
//! ```
//! use meshward::authz::{AuthzLayer, Roles, require};
//! use serde_json::json;
//!
//! let layer = AuthzLayer::new(require::all([
//!     require::scopes_any(["orders:read", "orders:admin"]),
//!     require::claim("/https:~1~1example.com~1tenant").equals(json!("acme")),
//!     require::any([
//!         require::role(Roles::keycloak_client("orders.api"), "writer"),
//!         require::role(Roles::entra(), "Orders.Write"),
//!     ]),
//!     require::not(require::subject_in(["suspended-user"])),
//!     require::chain_within([
//!         "spiffe://prod.example/ns/edge/sa/gateway",
//!         "spiffe://prod.example/ns/shop/sa/orders",
//!     ]),
//! ]));
//! ```

use std::sync::Arc;

use serde_json::Value;

use super::claims::{ClaimPath, ClaimRequirement, RoleRequirement, Roles, Test};
use super::identity::{Name, NameIn};
use super::peer::PeerRequirement;
use super::requirement::{AllOf, AnyOf, AuthzRequest, BoxRequirement, FromAsyncFn, FromFn, Not};
use super::scope::ScopeRequirement;

/// Every one of `requirements` (in order; the first refusal answers).
pub fn all(requirements: impl IntoIterator<Item = BoxRequirement>) -> BoxRequirement {
    BoxRequirement::new(AllOf(requirements.into_iter().collect()))
}

/// At least one of `requirements` (when none holds, the first one's refusal answers).
pub fn any(requirements: impl IntoIterator<Item = BoxRequirement>) -> BoxRequirement {
    BoxRequirement::new(AnyOf(requirements.into_iter().collect()))
}

/// The opposite of `requirement`; a refusal for want of credentials (401) or of a decision
/// point (503) stays a refusal.
pub fn not(requirement: BoxRequirement) -> BoxRequirement {
    BoxRequirement::new(Not(requirement))
}

/// Any authenticated principal (401 without one).
pub fn authenticated() -> BoxRequirement {
    names(Name::Authenticated, std::iter::empty::<String>())
}

/// Every one of `scopes` (from `scope`, `scp` and the validator's scope claims).
pub fn scopes_all<I>(scopes: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    BoxRequirement::new(ScopeRequirement::all(scopes))
}

/// At least one of `scopes`.
pub fn scopes_any<I>(scopes: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    BoxRequirement::new(ScopeRequirement::any(scopes))
}

/// A claim of the principal, found by `path` (dotted, or an RFC 6901 pointer starting with
/// `/`); say what it must be with the returned builder.
pub fn claim(path: impl Into<String>) -> ClaimRequirementBuilder {
    ClaimRequirementBuilder {
        path: ClaimPath::new(path),
    }
}

/// Builds a claim requirement; made by [`claim`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClaimRequirementBuilder {
    path: ClaimPath,
}

impl ClaimRequirementBuilder {
    fn test(self, test: Test) -> BoxRequirement {
        BoxRequirement::new(ClaimRequirement {
            path: self.path,
            test,
        })
    }

    /// The claim is present and not null.
    pub fn exists(self) -> BoxRequirement {
        self.test(Test::Exists)
    }

    /// The claim equals `value` (as JSON: `"1"` is not `1`).
    pub fn equals(self, value: impl Into<Value>) -> BoxRequirement {
        self.test(Test::Equals(value.into()))
    }

    /// The claim is an array holding `value`, or a space-delimited string holding it as a
    /// word.
    pub fn contains(self, value: impl Into<Value>) -> BoxRequirement {
        self.test(Test::Contains(value.into()))
    }

    /// The claim is a string (or an array with a string) matching `pattern`, where `*`
    /// stands for any run of characters: `"*@example.com"`, `"team-*"`.
    pub fn matches(self, pattern: impl Into<String>) -> BoxRequirement {
        self.test(Test::Matches(pattern.into()))
    }
}

/// The principal holds `role` where `roles` says the identity provider puts roles.
pub fn role(roles: Roles, role: impl Into<String>) -> BoxRequirement {
    roles_all(roles, [role])
}

/// The principal holds every one of `names`.
pub fn roles_all<I>(roles: Roles, names: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    BoxRequirement::new(RoleRequirement {
        roles,
        names: names.into_iter().map(Into::into).collect(),
        all: true,
    })
}

/// The principal holds at least one of `names`.
pub fn roles_any<I>(roles: Roles, names: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    BoxRequirement::new(RoleRequirement {
        roles,
        names: names.into_iter().map(Into::into).collect(),
        all: false,
    })
}

fn names<I>(name: Name, allowed: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    BoxRequirement::new(NameIn {
        name,
        allowed: allowed.into_iter().map(Into::into).collect(),
    })
}

/// The end user's `sub` is one of `subjects`.
pub fn subject_in<I>(subjects: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    names(Name::Subject, subjects)
}

/// The end user's issuer is one of `issuers`.
pub fn issuer_in<I>(issuers: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    names(Name::Issuer, issuers)
}

/// The request came through services, and the one that called this service is one of
/// `services`.
pub fn caller_in<I>(services: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    names(Name::Caller, services)
}

/// Every service the request came through is one of `services` (an end user calling
/// directly passes: combine with [`caller_in`] to require a service).
pub fn chain_within<I>(services: I) -> BoxRequirement
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    names(Name::Chain, services)
}

/// The connection's client certificate matches `peer` (see [`PeerRequirement`]).
pub fn peer(peer: PeerRequirement) -> BoxRequirement {
    BoxRequirement::new(peer)
}

/// A requirement of your own: allowed when `f` answers `true`; refused (403, label `custom`,
/// the error naming `reason`) otherwise.
pub fn from_fn<F>(reason: &'static str, f: F) -> BoxRequirement
where
    F: Fn(&AuthzRequest<'_>) -> bool + Send + Sync + 'static,
{
    BoxRequirement::new(FromFn {
        f: Arc::new(f),
        reason,
    })
}

/// A requirement of your own that waits (a lookup in a database, a call to a service):
/// allowed when the future `f` returns resolves to `true`; refused (403, label `custom`,
/// the error naming `reason`) when it resolves to `false`.
///
/// `f` sees the request and returns a future that owns what it needs of it (the future
/// outlives the borrow). The layer waits for it before the inner service runs, so bound its
/// time yourself (`tokio::time::timeout`): a future that never resolves holds the request.
///
/// ```
/// use meshward::authz::{AuthzLayer, require};
///
/// let layer = AuthzLayer::new(require::from_async_fn("tenant is active", |request| {
///     let tenant = request
///         .principal()
///         .and_then(|p| p.claim("tenant"))
///         .and_then(|t| t.as_str())
///         .map(str::to_owned);
///     async move {
///         // Ask the tenant directory here.
///         tenant.is_some_and(|t| t != "suspended")
///     }
/// }));
/// ```
pub fn from_async_fn<F, Fut>(reason: &'static str, f: F) -> BoxRequirement
where
    F: Fn(&AuthzRequest<'_>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    BoxRequirement::new(FromAsyncFn {
        f: Arc::new(move |request: &AuthzRequest<'_>| Box::pin(f(request))),
        reason,
    })
}

impl From<ScopeRequirement> for BoxRequirement {
    fn from(requirement: ScopeRequirement) -> Self {
        Self::new(requirement)
    }
}

impl From<PeerRequirement> for BoxRequirement {
    fn from(requirement: PeerRequirement) -> Self {
        Self::new(requirement)
    }
}
