use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::RequireScopes;
use crate::rejection::DefaultRejectionResponse;

/// Requires the request's [`Principal`](crate::Principal) to hold scopes; put it after
/// [`AuthLayer`](crate::jwt::AuthLayer).
///
/// A request with no principal gets 401; one whose principal lacks the scopes gets 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (gRPC:
/// `PERMISSION_DENIED`).
#[derive(Clone)]
#[must_use]
pub struct RequireScopesLayer<R = DefaultRejectionResponse> {
    pub(crate) rule: Arc<ScopeRule>,
    pub(crate) responder: R,
}

pub(crate) struct ScopeRule {
    pub(crate) scopes: Vec<String>,
    pub(crate) all: bool,
}

impl RequireScopesLayer {
    /// Every one of `scopes` is required.
    pub fn all<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::with_rule(scopes, true)
    }

    /// At least one of `scopes` is required.
    pub fn any<I>(scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::with_rule(scopes, false)
    }

    fn with_rule<I>(scopes: I, all: bool) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self {
            rule: Arc::new(ScopeRule {
                scopes: scopes.into_iter().map(Into::into).collect(),
                all,
            }),
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl<R> RequireScopesLayer<R> {
    /// Answers refusals with `responder`.
    pub fn with_rejection_response<R2>(self, responder: R2) -> RequireScopesLayer<R2> {
        RequireScopesLayer {
            rule: self.rule,
            responder,
        }
    }
}

impl<S, R: Clone> Layer<S> for RequireScopesLayer<R> {
    type Service = RequireScopes<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopes::new(inner, Arc::clone(&self.rule), self.responder.clone())
    }
}

impl<R> fmt::Debug for RequireScopesLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopesLayer")
            .field("scopes", &self.rule.scopes)
            .field("all", &self.rule.all)
            .finish_non_exhaustive()
    }
}
