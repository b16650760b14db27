//! `ServiceBuilder` methods for meshward's layers.

use tower::ServiceBuilder;
use tower::layer::util::Stack;

use crate::authz::{AuthzLayer, RequireScopesLayer, Requirement};
use crate::jwt::{AuthLayer, Verifier};
use crate::mint::{MintLayer, ServiceSigner};
use crate::quota::{Limit, QuotaLayer};

mod sealed {
    pub trait Sealed<T> {}
    impl<L> Sealed<L> for tower::ServiceBuilder<L> {}
}

/// Adds meshward's layers to a [`ServiceBuilder`], one method per layer, in the order a
/// request meets them.
///
/// ```
/// use std::time::Duration;
/// use meshward::ServiceBuilderExt;
/// use meshward::authz::require;
/// use meshward::quota::Limit;
/// use tower::ServiceBuilder;
/// # fn f(validator: meshward::jwt::Validator) -> Result<(), Box<dyn std::error::Error>> {
/// let inbound = ServiceBuilder::new()
///     .authenticate(validator)
///     .authorize(require::scopes_any(["orders:read"]))
///     .quota(Limit::builder().requests(10, Duration::from_secs(1)).build()?);
/// # Ok(()) }
/// # fn g(signer: meshward::mint::ServiceSigner) {
/// let outbound = ServiceBuilder::new()
///     .mint(signer, "spiffe://prod.example/ns/shop/sa/inventory");
/// # }
/// ```
///
/// This trait is sealed.
pub trait ServiceBuilderExt<L>: sealed::Sealed<L> + Sized {
    /// Requires a bearer token that `verifier` accepts: [`AuthLayer::new`].
    fn authenticate<V: Verifier>(self, verifier: V) -> ServiceBuilder<Stack<AuthLayer<V>, L>>;

    /// Requires every one of `scopes`: [`RequireScopesLayer::all`].
    fn require_all_scopes<I>(self, scopes: I) -> ServiceBuilder<Stack<RequireScopesLayer, L>>
    where
        I: IntoIterator,
        I::Item: Into<String>;

    /// Requires any one of `scopes`: [`RequireScopesLayer::any`].
    fn require_any_scope<I>(self, scopes: I) -> ServiceBuilder<Stack<RequireScopesLayer, L>>
    where
        I: IntoIterator,
        I::Item: Into<String>;

    /// Requires `requirement` (a rule table, a policy, scopes, a combination):
    /// [`AuthzLayer::new`].
    fn authorize<Q: Requirement>(self, requirement: Q) -> ServiceBuilder<Stack<AuthzLayer<Q>, L>>;

    /// Limits each principal to `limit`: [`QuotaLayer::new`].
    fn quota(self, limit: Limit) -> ServiceBuilder<Stack<QuotaLayer, L>>;

    /// On an outbound client: signs each call with a service token for `audience`
    /// ([`MintLayer::new`]).
    fn mint(
        self,
        signer: ServiceSigner,
        audience: impl Into<String>,
    ) -> ServiceBuilder<Stack<MintLayer, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn authenticate<V: Verifier>(self, verifier: V) -> ServiceBuilder<Stack<AuthLayer<V>, L>> {
        self.layer(AuthLayer::new(verifier))
    }

    fn require_all_scopes<I>(self, scopes: I) -> ServiceBuilder<Stack<RequireScopesLayer, L>>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.layer(RequireScopesLayer::all(scopes))
    }

    fn require_any_scope<I>(self, scopes: I) -> ServiceBuilder<Stack<RequireScopesLayer, L>>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.layer(RequireScopesLayer::any(scopes))
    }

    fn authorize<Q: Requirement>(self, requirement: Q) -> ServiceBuilder<Stack<AuthzLayer<Q>, L>> {
        self.layer(AuthzLayer::new(requirement))
    }

    fn quota(self, limit: Limit) -> ServiceBuilder<Stack<QuotaLayer, L>> {
        self.layer(QuotaLayer::new(limit))
    }

    fn mint(
        self,
        signer: ServiceSigner,
        audience: impl Into<String>,
    ) -> ServiceBuilder<Stack<MintLayer, L>> {
        self.layer(MintLayer::new(signer, audience))
    }
}
