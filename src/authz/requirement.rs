//! What a request must satisfy: the [`Requirement`] trait, the view of a request it checks,
//! the [`Decision`] it answers, and the combinators (`all`, `any`, `not`) and type-erased
//! [`BoxRequirement`] that compose requirements.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Extensions, HeaderMap, Method, Request, Uri};

use super::error::{AuthzError, AuthzErrorKind};
use crate::gate::Answer;
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

    /// The view of the request whose head is `head`.
    pub fn from_parts(head: &'a http::request::Parts) -> Self {
        Self {
            method: &head.method,
            uri: &head.uri,
            headers: &head.headers,
            extensions: &head.extensions,
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

    /// Whether header `name` carried a credential of this request (never copied out).
    #[cfg_attr(not(any(feature = "rego", feature = "opa")), allow(dead_code))]
    pub(crate) fn is_credential(&self, name: &http::HeaderName) -> bool {
        crate::principal::is_credential(name, self.extensions)
    }

    /// The principal, or the refusal a requirement that needs one answers with (401).
    pub(crate) fn authenticated(&self) -> Result<&'a Principal, AuthzError> {
        self.principal()
            .ok_or_else(|| AuthzErrorKind::Unauthenticated.into())
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

/// A decision that waits: a remote decision point's answer.
pub(crate) type PendingDecision =
    Pin<Box<dyn Future<Output = Result<(), AuthzError>> + Send + 'static>>;

/// What a [`Requirement`] answered about one request: allowed or refused now, or (for a
/// remote decision point) later; and which rule decided, when a rule table did.
pub struct Decision {
    outcome: Outcome,
    rule: Option<Arc<str>>,
}

pub(crate) type Outcome = Answer<Result<(), AuthzError>, PendingDecision>;

impl Decision {
    /// The request may go through.
    pub fn allow() -> Self {
        Self::ready(Ok(()))
    }

    /// The request is refused with `error`.
    pub fn deny(error: AuthzError) -> Self {
        Self::ready(Err(error))
    }

    pub(crate) fn ready(result: Result<(), AuthzError>) -> Self {
        Self {
            outcome: Answer::Now(result),
            rule: None,
        }
    }

    pub(crate) fn pending(decision: PendingDecision) -> Self {
        Self {
            outcome: Answer::Later(decision),
            rule: None,
        }
    }

    /// Names the rule that decided (for the audit event).
    pub(crate) fn with_rule(mut self, rule: Option<Arc<str>>) -> Self {
        if rule.is_some() {
            self.rule = rule;
        }
        self
    }

    /// The decision, if it was made without waiting.
    pub fn ready_result(&self) -> Option<&Result<(), AuthzError>> {
        match &self.outcome {
            Answer::Now(result) => Some(result),
            Answer::Later(_) => None,
        }
    }

    /// The rule that decided, when a rule table did.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Outcome, Option<Arc<str>>) {
        (self.outcome, self.rule)
    }
}

impl From<Result<(), AuthzError>> for Decision {
    fn from(result: Result<(), AuthzError>) -> Self {
        Self::ready(result)
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Decision");
        match &self.outcome {
            Answer::Now(result) => d.field("result", result),
            Answer::Later(_) => d.field("result", &"pending"),
        };
        d.field("rule", &self.rule).finish()
    }
}

/// A check of a request, run by [`AuthzLayer`](super::AuthzLayer) before the inner service:
/// it allows the request, refuses it with an [`AuthzError`], or (a remote decision point)
/// answers later.
///
/// meshward's requirements are built with the functions of [`require`](super::require) (and
/// [`ScopeRequirement`](super::ScopeRequirement), [`PeerRequirement`](super::PeerRequirement),
/// [`RuleTable`](super::RuleTable), the Rego and OPA policies). Your own logic goes in
/// [`require::from_fn`](super::require::from_fn) (a closure that decides at once),
/// [`require::from_async_fn`](super::require::from_async_fn) (one that waits), or an
/// implementation of this trait of your own:
///
/// ```
/// use meshward::authz::{AuthzErrorKind, AuthzRequest, Decision, Requirement};
///
/// /// Refuses requests outside office hours, whatever the token says.
/// #[derive(Debug)]
/// struct OfficeHours;
///
/// impl Requirement for OfficeHours {
///     fn check(&self, request: &AuthzRequest<'_>) -> Decision {
///         let open = request.headers().get("x-office").is_some_and(|v| v == "open");
///         if open {
///             Decision::allow()
///         } else {
///             Decision::deny(AuthzErrorKind::Custom { reason: "closed" }.into())
///         }
///     }
/// }
///
/// let layer = meshward::authz::AuthzLayer::new(OfficeHours);
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// Checks `request`.
    fn check(&self, request: &AuthzRequest<'_>) -> Decision;
}

/// Any requirement, behind one type: what [`require`](super::require)'s functions return and
/// what combinators and rule tables hold. Cloning is cheap.
#[derive(Clone)]
pub struct BoxRequirement {
    inner: Arc<dyn Requirement>,
    name: &'static str,
}

impl BoxRequirement {
    /// Type-erases `requirement`.
    pub fn new<Q: Requirement + fmt::Debug>(requirement: Q) -> Self {
        Self {
            name: std::any::type_name::<Q>(),
            inner: Arc::new(Debugged(requirement)),
        }
    }
}

/// Keeps a requirement's `Debug` through the type erasure.
struct Debugged<Q>(Q);

impl<Q: Requirement> Requirement for Debugged<Q> {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        self.0.check(request)
    }
}

impl Requirement for BoxRequirement {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        self.inner.check(request)
    }
}

impl fmt::Debug for BoxRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BoxRequirement").field(&self.name).finish()
    }
}

/// Every one of the requirements; the first refusal (in order) is the answer.
#[derive(Debug, Clone)]
pub(crate) struct AllOf(pub(crate) Vec<BoxRequirement>);

impl Requirement for AllOf {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let mut waiting = Vec::new();
        for requirement in &self.0 {
            match requirement.check(request).into_parts().0 {
                Answer::Now(Ok(())) => {}
                Answer::Now(Err(error)) => return Decision::deny(error),
                Answer::Later(decision) => waiting.push(decision),
            }
        }
        if waiting.is_empty() {
            return Decision::allow();
        }
        Decision::pending(Box::pin(async move {
            for decision in waiting {
                decision.await?;
            }
            Ok(())
        }))
    }
}

/// At least one of the requirements; when none holds, the first one's refusal is the answer.
#[derive(Debug, Clone)]
pub(crate) struct AnyOf(pub(crate) Vec<BoxRequirement>);

impl Requirement for AnyOf {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let mut first_error = None;
        let mut waiting = Vec::new();
        for requirement in &self.0 {
            match requirement.check(request).into_parts().0 {
                Answer::Now(Ok(())) => return Decision::allow(),
                Answer::Now(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Answer::Later(decision) => waiting.push(decision),
            }
        }
        let nothing = || {
            AuthzError::from(AuthzErrorKind::Custom {
                reason: "any of nothing",
            })
        };
        if waiting.is_empty() {
            return Decision::deny(first_error.unwrap_or_else(nothing));
        }
        Decision::pending(Box::pin(async move {
            let mut error = first_error;
            for decision in waiting {
                match decision.await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
            Err(error.unwrap_or_else(nothing))
        }))
    }
}

/// The opposite of a requirement: allowed when it refuses. A refusal for want of credentials
/// (401) or of a decision point (503) stays what it is: "not" never lets an anonymous
/// request through, nor one nobody could decide on.
#[derive(Debug, Clone)]
pub(crate) struct Not(pub(crate) BoxRequirement);

fn invert(result: Result<(), AuthzError>) -> Result<(), AuthzError> {
    match result {
        Ok(()) => Err(AuthzErrorKind::Excluded.into()),
        Err(error) if error.keeps_through_not() => Err(error),
        Err(_) => Ok(()),
    }
}

impl Requirement for Not {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        match self.0.check(request).into_parts().0 {
            Answer::Now(result) => Decision::ready(invert(result)),
            Answer::Later(decision) => {
                Decision::pending(Box::pin(async move { invert(decision.await) }))
            }
        }
    }
}

type Predicate = dyn Fn(&AuthzRequest<'_>) -> bool + Send + Sync;

/// A requirement of your own: a closure over the request.
#[derive(Clone)]
pub(crate) struct FromFn {
    pub(crate) f: Arc<Predicate>,
    pub(crate) reason: &'static str,
}

impl Requirement for FromFn {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        if (self.f)(request) {
            Decision::allow()
        } else {
            Decision::deny(
                AuthzErrorKind::Custom {
                    reason: self.reason,
                }
                .into(),
            )
        }
    }
}

type AsyncPredicate =
    dyn Fn(&AuthzRequest<'_>) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

/// A requirement of your own that waits: a closure over the request returning a future.
#[derive(Clone)]
pub(crate) struct FromAsyncFn {
    pub(crate) f: Arc<AsyncPredicate>,
    pub(crate) reason: &'static str,
}

impl Requirement for FromAsyncFn {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let decision = (self.f)(request);
        let reason = self.reason;
        Decision::pending(Box::pin(async move {
            if decision.await {
                Ok(())
            } else {
                Err(AuthzErrorKind::Custom { reason }.into())
            }
        }))
    }
}

impl fmt::Debug for FromAsyncFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromAsyncFn")
            .field("f", &"<fn>")
            .field("reason", &self.reason)
            .finish()
    }
}

impl fmt::Debug for FromFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn")
            .field("f", &"<fn>")
            .field("reason", &self.reason)
            .finish()
    }
}
