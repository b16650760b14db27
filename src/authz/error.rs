use std::fmt;
use std::sync::Arc;

use crate::rejection::RejectionKind;

/// A request was authenticated (or not) but is not allowed through.
#[derive(Debug, Clone)]
pub struct AuthzError {
    kind: AuthzErrorKind,
}

impl AuthzError {
    pub(crate) fn new(kind: AuthzErrorKind) -> Self {
        Self { kind }
    }

    /// What was missing.
    pub fn kind(&self) -> &AuthzErrorKind {
        &self.kind
    }

    pub(crate) fn rejection_parts(&self) -> (RejectionKind, Option<Arc<str>>) {
        match &self.kind {
            AuthzErrorKind::Unauthenticated => (RejectionKind::MissingCredentials, None),
            AuthzErrorKind::InsufficientScope { required, .. } => (
                RejectionKind::InsufficientScope,
                Some(required.join(" ").into()),
            ),
        }
    }
}

impl fmt::Display for AuthzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for AuthzError {}

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
}

impl AuthzErrorKind {
    /// A short, fixed description suitable for a response.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "bearer token required",
            Self::InsufficientScope { .. } => "insufficient scope",
        }
    }
}
