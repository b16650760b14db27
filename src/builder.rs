//! `ServiceBuilder` methods for meshward's layers.

use tower::ServiceBuilder;
use tower::layer::util::Stack;

use crate::authz::RequireScopesLayer;
use crate::jwt::{AuthLayer, Verifier};

mod sealed {
    pub trait Sealed<T> {}
    impl<L> Sealed<L> for tower::ServiceBuilder<L> {}
}

/// Adds meshward's layers to a [`ServiceBuilder`].
///
/// ```
/// use meshward::ServiceBuilderExt;
/// use tower::ServiceBuilder;
/// # fn f(validator: meshward::jwt::Validator) {
/// let layers = ServiceBuilder::new()
///     .authenticate(validator)
///     .require_all_scopes(["orders:read"]);
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
}
