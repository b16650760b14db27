//! The one shape of an inbound check: a **gate** looks at a request's head (method, URI,
//! headers, extensions, the connection's peer) and answers at once or after a wait; a
//! refusal is a [`Rejection`], an admission may add to the head (the [`Principal`], the
//! challenge parameters) before the request goes on.
//!
//! [`AuthLayer`](crate::jwt::AuthLayer), [`AuthzLayer`](crate::authz::AuthzLayer) and
//! [`QuotaLayer`](crate::quota::QuotaLayer) are gates, each driven through tower by one
//! generic service, [`Gated`], and one response future, [`ResponseFuture`]. The same gates,
//! stacked in order, are the [`Engine`]: the decision engine that takes a request head
//! without any tower service around it (a proxy's description of a request) and answers
//! admit or refuse, running the very code the layers run.
//!
//! ```
//! use meshward::gate::Engine;
//! use meshward::authz::{AuthzLayer, RuleTable};
//! # fn f(auth: meshward::jwt::AuthLayer) -> Result<(), Box<dyn std::error::Error>> {
//! let rules = RuleTable::from_toml(r#"
//!     [[rule]]
//!     name = "health"
//!     path = "/healthz"
//!     allow = "anyone"
//! "#)?;
//! let engine = Engine::builder().gate(auth).gate(AuthzLayer::new(rules)).build();
//! # Ok(()) }
//! ```
//!
//! [`Principal`]: crate::Principal

/// The inner-service accessors every meshward service has, as tower-http writes them:
/// `get_ref`, `get_mut`, `into_inner` on a struct whose inner service is the field `inner`.
macro_rules! inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
pub(crate) use inner_service_accessors;

mod engine;
mod future;
mod service;

use std::fmt;
use std::future::Future;

use http::request::Parts;

pub use self::engine::{Admitted, Engine, EngineBuilder, IntoGate, Refused};
pub use self::future::ResponseFuture;
pub use self::service::Gated;
pub use crate::audit::Started;
use crate::rejection::Rejection;

/// Decided now, or after a wait: what every check of meshward answers, from a verifier's
/// attempt on a token to a gate's check of a request.
///
/// A token found in a cache, a rule table, a quota in memory decide [`Now`](Self::Now);
/// a key set to fetch, a remote decision point, a shared store answer
/// [`Later`](Self::Later), with the future that finishes the check.
// Now or later is all there is: matching both, with no wildcard, is the point.
#[allow(clippy::exhaustive_enums)]
pub enum Answer<T, F> {
    /// Decided without waiting.
    Now(T),
    /// Decided when the future completes.
    Later(F),
}

impl<T: fmt::Debug, F> fmt::Debug for Answer<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Now(value) => f.debug_tuple("Now").field(value).finish(),
            Self::Later(_) => f.write_str("Later"),
        }
    }
}

/// One inbound check: the shape [`AuthLayer`](crate::jwt::AuthLayer),
/// [`AuthzLayer`](crate::authz::AuthzLayer) and [`QuotaLayer`](crate::quota::QuotaLayer)
/// share, driven by [`Gated`] in a tower stack and by the [`Engine`] outside one.
///
/// [`check`](Self::check) sees the request's head and decides now (admitting by adding to
/// the head, or refusing) or hands over a wait; what the wait finds goes to
/// [`conclude`](Self::conclude), with the same head. Either way the gate records its
/// decision (the audit event) itself. Implement it for a check of your own and put it in a
/// tower stack with [`Gated::new`], or in an [`Engine`].
pub trait Gate: Send + Sync + 'static {
    /// The wait of a check that could not decide at once; its output is what
    /// [`conclude`](Self::conclude) decides on.
    type Wait: Future<Output: Send> + Send + 'static;

    /// Checks the request whose head is `head`, which an admission may add to.
    fn check(
        &self,
        head: &mut Parts,
        started: Started,
    ) -> Answer<Result<(), Rejection>, Self::Wait>;

    /// Decides on what the wait found, as [`check`](Self::check) would have.
    fn conclude(
        &self,
        found: <Self::Wait as Future>::Output,
        head: &mut Parts,
        started: Started,
    ) -> Result<(), Rejection>;
}

/// A gate that never waits has this as its [`Gate::Wait`].
pub type NeverWaits = std::future::Pending<std::convert::Infallible>;
