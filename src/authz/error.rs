//! Errors of the authorization concern.

use std::sync::Arc;

use crate::error::kinded_error;
use crate::rejection::{Refusal, Rejection, RejectionKind};

kinded_error! {
    /// A request was authenticated (or not) but is not allowed through.
    ///
    /// How each kind is answered (401, 403 or 503; gRPC 16, 7 or 14) is decided in one place,
    /// [`Rejection`].
    pub struct AuthzError(AuthzErrorKind);
}

/// The kinds of [`AuthzError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzErrorKind {
    /// The request carries no [`Principal`](crate::Principal): no authentication layer ran
    /// before, or it let an anonymous request through (401).
    #[error("request is not authenticated")]
    Unauthenticated,
    /// The principal lacks the required scopes (403 `insufficient_scope`).
    #[error("principal lacks {} of the scopes {required:?}", if *.all { "one" } else { "all" })]
    InsufficientScope {
        /// The scopes the rule names.
        required: Vec<String>,
        /// Whether all of them were required (else any one).
        all: bool,
    },
    /// The connection carries no client-certificate identity (401).
    #[error("no client certificate identity")]
    NoPeerIdentity,
    /// The client identity matches none of the allowed patterns (403).
    #[error("client identity {identity} is not allowed")]
    PeerNotAllowed {
        /// The SPIFFE ID, else the subject.
        identity: String,
    },
    /// A claim is missing or does not pass the requirement's test (403).
    #[error("claim {claim} does not meet the requirement")]
    ClaimMismatch {
        /// The claim's path.
        claim: String,
    },
    /// The principal lacks the required roles (403).
    #[error("principal lacks the roles {roles:?}")]
    MissingRole {
        /// The roles the requirement names.
        roles: Vec<String>,
    },
    /// The principal's subject is not among those allowed (403).
    #[error("subject is not allowed")]
    SubjectNotAllowed,
    /// The principal's issuer is not among those allowed (403).
    #[error("issuer is not allowed")]
    IssuerNotAllowed,
    /// The calling service is not among those allowed, or the request came from the end user
    /// directly (403).
    #[error("caller {caller:?} is not allowed")]
    CallerNotAllowed {
        /// The calling service, if the request came through one.
        caller: Option<String>,
    },
    /// A service the request came through is not among those allowed (403).
    #[error("service {service} in the call chain is not allowed")]
    ChainNotAllowed {
        /// The first service of the chain not allowed.
        service: String,
    },
    /// A requirement under `not` held (403).
    #[error("an excluded requirement holds")]
    Excluded,
    /// A requirement of your own refused the request (403).
    #[error("requirement not met: {reason}")]
    Custom {
        /// The reason the requirement was given.
        reason: &'static str,
    },
    /// No rule of the table matches the request and the table denies by default (403).
    #[error("no rule allows this request")]
    NoRuleMatched,
    /// The request path cannot be normalised safely (an encoded `/`, a NUL, `..` above the
    /// root, more segments than allowed): no rule is matched against it (403).
    #[error("request path not accepted")]
    PathNotAccepted,
    /// A policy answered "deny" (403).
    #[error("denied by policy{}", .reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    PolicyDenied {
        /// The reason the policy gave, if any.
        reason: Option<String>,
    },
    /// A policy's decision was undefined, or not a decision at all: it fails closed (403).
    #[error("policy decision undefined")]
    PolicyUndefined,
    /// A policy could not be evaluated (an error in the policy, a time limit): it fails
    /// closed (403).
    #[error("policy evaluation failed")]
    PolicyError,
    /// The decision point could not be reached, answered too late or answered garbage: it
    /// fails closed (503, gRPC `UNAVAILABLE`).
    #[error("the policy decision point is unavailable")]
    PolicyUnavailable,
}

impl AuthzErrorKind {
    /// A short, fixed description suitable for a response.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "bearer token required",
            Self::InsufficientScope { .. } => "insufficient scope",
            Self::NoPeerIdentity => "client certificate required",
            Self::PeerNotAllowed { .. } => "client not allowed",
            Self::ClaimMismatch { .. }
            | Self::MissingRole { .. }
            | Self::SubjectNotAllowed
            | Self::IssuerNotAllowed
            | Self::CallerNotAllowed { .. }
            | Self::ChainNotAllowed { .. }
            | Self::Excluded
            | Self::Custom { .. }
            | Self::NoRuleMatched
            | Self::PathNotAccepted => "forbidden",
            Self::PolicyDenied { .. } | Self::PolicyUndefined | Self::PolicyError => {
                "denied by policy"
            }
            Self::PolicyUnavailable => "authorization unavailable",
        }
    }

    /// A short, stable, snake_case name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::NoPeerIdentity => "no_peer_identity",
            Self::PeerNotAllowed { .. } => "peer_not_allowed",
            Self::ClaimMismatch { .. } => "claim_mismatch",
            Self::MissingRole { .. } => "missing_role",
            Self::SubjectNotAllowed => "subject_not_allowed",
            Self::IssuerNotAllowed => "issuer_not_allowed",
            Self::CallerNotAllowed { .. } => "caller_not_allowed",
            Self::ChainNotAllowed { .. } => "chain_not_allowed",
            Self::Excluded => "excluded",
            Self::Custom { .. } => "custom",
            Self::NoRuleMatched => "no_rule",
            Self::PathNotAccepted => "path_not_accepted",
            Self::PolicyDenied { .. } => "policy_denied",
            Self::PolicyUndefined => "policy_undefined",
            Self::PolicyError => "policy_error",
            Self::PolicyUnavailable => "policy_unavailable",
        }
    }
}

impl AuthzError {
    /// Whether a refusal stays a refusal under `not`: missing credentials (401) and an
    /// unreachable decision point (503) are not "the requirement does not hold".
    pub(crate) fn keeps_through_not(&self) -> bool {
        matches!(
            self.kind(),
            AuthzErrorKind::Unauthenticated
                | AuthzErrorKind::NoPeerIdentity
                | AuthzErrorKind::PolicyUnavailable
        )
    }
}

impl Refusal for AuthzError {
    fn rejection_kind(&self) -> RejectionKind {
        match self.kind() {
            AuthzErrorKind::Unauthenticated | AuthzErrorKind::NoPeerIdentity => {
                RejectionKind::MissingCredentials
            }
            AuthzErrorKind::InsufficientScope { .. } => RejectionKind::InsufficientScope,
            AuthzErrorKind::PolicyUnavailable => RejectionKind::Unavailable,
            AuthzErrorKind::PeerNotAllowed { .. }
            | AuthzErrorKind::ClaimMismatch { .. }
            | AuthzErrorKind::MissingRole { .. }
            | AuthzErrorKind::SubjectNotAllowed
            | AuthzErrorKind::IssuerNotAllowed
            | AuthzErrorKind::CallerNotAllowed { .. }
            | AuthzErrorKind::ChainNotAllowed { .. }
            | AuthzErrorKind::Excluded
            | AuthzErrorKind::Custom { .. }
            | AuthzErrorKind::NoRuleMatched
            | AuthzErrorKind::PathNotAccepted
            | AuthzErrorKind::PolicyDenied { .. }
            | AuthzErrorKind::PolicyUndefined
            | AuthzErrorKind::PolicyError => RejectionKind::Forbidden,
        }
    }

    fn client_description(&self) -> &'static str {
        self.kind().description()
    }

    fn label(&self) -> &'static str {
        self.kind().label()
    }

    fn scope(&self) -> Option<Arc<str>> {
        match self.kind() {
            AuthzErrorKind::InsufficientScope { required, .. } => Some(required.join(" ").into()),
            AuthzErrorKind::Unauthenticated
            | AuthzErrorKind::NoPeerIdentity
            | AuthzErrorKind::PeerNotAllowed { .. }
            | AuthzErrorKind::ClaimMismatch { .. }
            | AuthzErrorKind::MissingRole { .. }
            | AuthzErrorKind::SubjectNotAllowed
            | AuthzErrorKind::IssuerNotAllowed
            | AuthzErrorKind::CallerNotAllowed { .. }
            | AuthzErrorKind::ChainNotAllowed { .. }
            | AuthzErrorKind::Excluded
            | AuthzErrorKind::Custom { .. }
            | AuthzErrorKind::NoRuleMatched
            | AuthzErrorKind::PathNotAccepted
            | AuthzErrorKind::PolicyDenied { .. }
            | AuthzErrorKind::PolicyUndefined
            | AuthzErrorKind::PolicyError
            | AuthzErrorKind::PolicyUnavailable => None,
        }
    }
}

impl From<AuthzError> for Rejection {
    fn from(error: AuthzError) -> Self {
        Self::refuse(error)
    }
}
