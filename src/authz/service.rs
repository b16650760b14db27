//! The check [`AuthzLayer`](super::AuthzLayer) runs on every request: ask the requirement,
//! then allow, refuse, or (in dry-run mode) let a refusal through. It is the layer's
//! [gate](crate::gate); [`Gated`] drives it in a tower stack (a decision that waits, in its
//! response future), the [`Engine`](crate::gate::Engine) outside one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::request::Parts;

use super::error::AuthzError;
use super::peer::PeerRequirement;
use super::requirement::{AuthzRequest, PendingDecision, Requirement};
use super::scope::ScopeRequirement;
use crate::audit::{self, Layer};
use crate::gate::{Answer, Gate, Gated, Started};
use crate::principal::Principal;
use crate::rejection::Rejection;

/// The [gate](crate::gate) of an [`AuthzLayer`](super::AuthzLayer): its requirement and whether it is in dry-run
/// mode, and the check (`service.rs`) it runs on every request. Cloning it clones a
/// pointer, whatever the requirement.
pub struct AuthzGate<Q> {
    pub(crate) requirement: Arc<Q>,
    pub(crate) dry_run: bool,
}

impl<Q> Clone for AuthzGate<Q> {
    fn clone(&self) -> Self {
        Self {
            requirement: Arc::clone(&self.requirement),
            dry_run: self.dry_run,
        }
    }
}

impl<Q: fmt::Debug> fmt::Debug for AuthzGate<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzGate")
            .field("requirement", &self.requirement)
            .field("dry_run", &self.dry_run)
            .finish()
    }
}

/// The service made by [`AuthzLayer`](super::AuthzLayer): its gate over the inner service.
pub type Authz<S, Q, R> = Gated<S, AuthzGate<Q>, R>;

/// The response future of [`Authz`]: the one future of every gate.
pub type ResponseFuture<S, ReqBody, Q, R> =
    crate::gate::ResponseFuture<S, ReqBody, AuthzGate<Q>, R>;

/// The service made by [`RequireScopesLayer`](super::RequireScopesLayer).
pub type RequireScopes<S, R> = Authz<S, ScopeRequirement, R>;

/// The service made by [`RequirePeerLayer`](super::RequirePeerLayer).
pub type RequirePeer<S, R> = Authz<S, PeerRequirement, R>;

/// A decision that waits (a remote decision point's), with the rule that asked for it.
pub struct Deciding {
    decision: PendingDecision,
    rule: Option<Arc<str>>,
}

impl Future for Deciding {
    type Output = (Result<(), AuthzError>, Option<Arc<str>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let decided = ready!(self.decision.as_mut().poll(cx));
        Poll::Ready((decided, self.rule.take()))
    }
}

impl std::fmt::Debug for Deciding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deciding")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

impl<Q: Requirement> Gate for AuthzGate<Q> {
    type Wait = Deciding;

    fn check(&self, head: &mut Parts, started: Started) -> Answer<Result<(), Rejection>, Deciding> {
        let (outcome, rule) = self
            .requirement
            .check(&AuthzRequest::from_parts(head))
            .into_parts();
        match outcome {
            Answer::Now(decided) => Answer::Now(self.conclude((decided, rule), head, started)),
            Answer::Later(decision) => Answer::Later(Deciding { decision, rule }),
        }
    }

    /// The end of every request's path, whether the requirement decided at once or after a
    /// wait.
    fn conclude(
        &self,
        (decided, rule): (Result<(), AuthzError>, Option<Arc<str>>),
        head: &mut Parts,
        started: Started,
    ) -> Result<(), Rejection> {
        let principal = head.extensions.get::<Principal>();
        let rule = rule.as_deref();
        match decided {
            Ok(()) => {
                audit::record_rule(
                    Layer::Authz,
                    head,
                    principal,
                    audit::Outcome::Allow("allowed"),
                    rule,
                    started,
                );
                Ok(())
            }
            Err(error) => {
                let rejection = Rejection::from(error);
                let outcome = if self.dry_run {
                    audit::Outcome::WouldDeny(&rejection)
                } else {
                    audit::Outcome::Deny(&rejection)
                };
                audit::record_rule(Layer::Authz, head, principal, outcome, rule, started);
                if self.dry_run { Ok(()) } else { Err(rejection) }
            }
        }
    }
}
