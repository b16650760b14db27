//! Errors of the authorization concern.

use std::sync::Arc;

use crate::error::kinded_error;
use crate::rejection::{Refusal, Rejection, RejectionKind};

kinded_error! {
    /// A request was authenticated (or not) but is not allowed through.
    ///
    /// How each kind is answered (401 or 403, gRPC 16 or 7) is decided in one place,
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
}

impl AuthzErrorKind {
    /// A short, fixed description suitable for a response.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "bearer token required",
            Self::InsufficientScope { .. } => "insufficient scope",
            Self::NoPeerIdentity => "client certificate required",
            Self::PeerNotAllowed { .. } => "client not allowed",
        }
    }

    /// A short, stable, snake_case name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::NoPeerIdentity => "no_peer_identity",
            Self::PeerNotAllowed { .. } => "peer_not_allowed",
        }
    }
}

impl Refusal for AuthzError {
    fn rejection_kind(&self) -> RejectionKind {
        match self.kind() {
            AuthzErrorKind::Unauthenticated | AuthzErrorKind::NoPeerIdentity => {
                RejectionKind::MissingCredentials
            }
            AuthzErrorKind::InsufficientScope { .. } => RejectionKind::InsufficientScope,
            AuthzErrorKind::PeerNotAllowed { .. } => RejectionKind::Forbidden,
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
            | AuthzErrorKind::PeerNotAllowed { .. } => None,
        }
    }
}

impl From<AuthzError> for Rejection {
    fn from(error: AuthzError) -> Self {
        Self::refuse(error)
    }
}
