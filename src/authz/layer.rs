use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::peer::PeerRequirement;
use super::requirement::Requirement;
use super::scope::ScopeRequirement;
use super::service::{Authz, AuthzGate};
use crate::gate::{Gated, IntoGate};
use crate::rejection::DefaultRejectionResponse;

/// Checks a [`Requirement`] on every request; put it after
/// [`AuthLayer`](crate::jwt::AuthLayer) (or after the mTLS acceptor, for peer requirements).
///
/// A request that fails the requirement never reaches the inner service: the responder `R`
/// answers (401 without credentials, 403 otherwise, 503 when a decision point cannot be
/// reached; gRPC 16, 7 or 14). In [dry-run mode](Self::dry_run) it goes through, and the
/// audit event says it would have been refused.
#[must_use]
pub struct AuthzLayer<Q, R = DefaultRejectionResponse> {
    config: Arc<AuthzGate<Q>>,
    responder: R,
}

impl<Q, R: Clone> Clone for AuthzLayer<Q, R> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            responder: self.responder.clone(),
        }
    }
}

/// Requires the request's [`Principal`](crate::Principal) to hold scopes: an [`AuthzLayer`]
/// with a [`ScopeRequirement`].
///
/// A request with no principal gets 401; one whose principal lacks the scopes gets 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (gRPC:
/// `PERMISSION_DENIED`).
pub type RequireScopesLayer<R = DefaultRejectionResponse> = AuthzLayer<ScopeRequirement, R>;

/// Requires a client-certificate identity, optionally one from an allow-list: an
/// [`AuthzLayer`] with a [`PeerRequirement`].
///
/// No identity at all: 401 (gRPC `UNAUTHENTICATED`). An identity that matches no pattern:
/// 403 (gRPC `PERMISSION_DENIED`). With no pattern, any verified identity is allowed.
///
/// ```
/// use meshward::authz::RequirePeerLayer;
/// let layer = RequirePeerLayer::default()
///     .spiffe_id("spiffe://prod.example.com/ns/billing/sa/api")
///     .spiffe_path_prefix("spiffe://prod.example.com/ns/payments")
///     .trust_domain("staging.example.com")
///     .dns_name("reports.internal");
/// ```
pub type RequirePeerLayer<R = DefaultRejectionResponse> = AuthzLayer<PeerRequirement, R>;

impl<Q: Requirement> AuthzLayer<Q> {
    /// Checks `requirement` on every request.
    pub fn new(requirement: Q) -> Self {
        Self {
            config: Arc::new(AuthzGate {
                requirement: Arc::new(requirement),
                dry_run: false,
            }),
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl<Q, R> AuthzLayer<Q, R> {
    /// Answers refusals with `responder`.
    pub fn with_rejection_response<R2>(self, responder: R2) -> AuthzLayer<Q, R2> {
        AuthzLayer {
            config: self.config,
            responder,
        }
    }

    /// The requirement checked.
    pub fn requirement(&self) -> &Q {
        &self.config.requirement
    }
}

impl<Q, R> AuthzLayer<Q, R> {
    /// Lets every request through, and records each one the requirement would have refused
    /// as an audit event with `decision = "would_deny"`: for rolling a policy out.
    ///
    /// # Security
    ///
    /// Nothing is enforced in this mode.
    pub fn dry_run(mut self) -> Self {
        tracing::warn!(target: "meshward::authz", "authorization in dry-run mode: nothing is enforced");
        Arc::make_mut(&mut self.config).dry_run = true;
        self
    }
}

impl AuthzLayer<ScopeRequirement> {
    /// Every one of `scopes` is required.
    pub fn all<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(ScopeRequirement::all(scopes))
    }

    /// At least one of `scopes` is required.
    pub fn any<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(ScopeRequirement::any(scopes))
    }
}

impl Default for AuthzLayer<PeerRequirement> {
    /// Requires any verified client identity; add patterns to narrow it.
    fn default() -> Self {
        Self::new(PeerRequirement::any_verified())
    }
}

impl<R> AuthzLayer<PeerRequirement, R> {
    fn map_peer(mut self, f: impl FnOnce(PeerRequirement) -> PeerRequirement) -> Self {
        let requirement = Arc::make_mut(&mut Arc::make_mut(&mut self.config).requirement);
        *requirement = f(std::mem::take(requirement));
        self
    }

    /// Admits exactly this SPIFFE ID (one more entry of the allow-list). see [`PeerRequirement::spiffe_id`].
    pub fn spiffe_id(self, id: impl Into<String>) -> Self {
        self.map_peer(|p| p.spiffe_id(id))
    }

    /// Admits SPIFFE IDs under this path prefix, at a segment boundary; see
    /// [`PeerRequirement::spiffe_path_prefix`].
    pub fn spiffe_path_prefix(self, prefix: impl Into<String>) -> Self {
        self.map_peer(|p| p.spiffe_path_prefix(prefix))
    }

    /// Admits every SPIFFE ID of a trust domain.
    pub fn trust_domain(self, trust_domain: impl Into<String>) -> Self {
        self.map_peer(|p| p.trust_domain(trust_domain))
    }

    /// Admits certificates with this DNS SAN (case-insensitive).
    pub fn dns_name(self, name: impl Into<String>) -> Self {
        self.map_peer(|p| p.dns_name(name))
    }

    /// Admits certificates with exactly this subject DN (as `CN=…, O=…`).
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.map_peer(|p| p.subject(subject))
    }
}

impl<S, Q, R: Clone> Layer<S> for AuthzLayer<Q, R> {
    type Service = Authz<S, Q, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(inner, Arc::clone(&self.config), self.responder.clone())
    }
}

impl<Q: Requirement, R> IntoGate for AuthzLayer<Q, R> {
    type Gate = AuthzGate<Q>;

    fn into_gate(self) -> Arc<AuthzGate<Q>> {
        self.config
    }
}

impl<Q: fmt::Debug, R> fmt::Debug for AuthzLayer<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzLayer")
            .field("requirement", &self.config.requirement)
            .field("dry_run", &self.config.dry_run)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}
