//! `RequirePeerLayer`: only clients with an (allowed) certificate identity get through.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::identity::{PeerIdentity, peer_identity};
use crate::authz::ResponseFuture;
use crate::rejection::{
    DefaultRejectionResponse, Rejection, RejectionKind, RejectionResponse, respond,
};

/// Requires a client-certificate identity, optionally one from an allow-list.
///
/// No identity at all: 401 (gRPC `UNAUTHENTICATED`). An identity that matches no pattern:
/// 403 (gRPC `PERMISSION_DENIED`). With no pattern, any verified identity is allowed.
///
/// ```
/// use meshward::mtls::RequirePeerLayer;
/// let layer = RequirePeerLayer::new()
///     .allow_spiffe_id("spiffe://prod.example.com/ns/billing/sa/api")
///     .allow_spiffe_path_prefix("spiffe://prod.example.com/ns/payments")
///     .allow_trust_domain("staging.example.com")
///     .allow_dns_name("reports.internal");
/// ```
#[derive(Clone)]
#[must_use]
pub struct RequirePeerLayer<R = DefaultRejectionResponse> {
    rule: Arc<PeerRule>,
    responder: R,
}

#[derive(Debug, Clone, Default)]
struct PeerRule {
    patterns: Vec<PeerPattern>,
}

#[derive(Debug, Clone)]
enum PeerPattern {
    SpiffeId(String),
    SpiffePrefix(String),
    TrustDomain(String),
    Dns(String),
    Subject(String),
}

impl PeerPattern {
    fn matches(&self, id: &PeerIdentity) -> bool {
        let spiffe = id.spiffe_id();
        match self {
            Self::SpiffeId(want) => spiffe.is_some_and(|s| s.as_str() == want),
            Self::SpiffePrefix(prefix) => spiffe.is_some_and(|s| {
                let s = s.as_str();
                let prefix = prefix.trim_end_matches('/');
                s == prefix
                    || s.strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }),
            Self::TrustDomain(td) => spiffe.is_some_and(|s| s.trust_domain() == td),
            Self::Dns(name) => id.dns_names().iter().any(|d| d.eq_ignore_ascii_case(name)),
            Self::Subject(subject) => id.subject() == subject,
        }
    }
}

impl RequirePeerLayer {
    /// Requires any verified client identity; add patterns to narrow it.
    pub fn new() -> Self {
        Self {
            rule: Arc::new(PeerRule::default()),
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl Default for RequirePeerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> RequirePeerLayer<R> {
    fn push(mut self, pattern: PeerPattern) -> Self {
        Arc::make_mut(&mut self.rule).patterns.push(pattern);
        self
    }

    /// Allows exactly this SPIFFE ID.
    pub fn allow_spiffe_id(self, id: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffeId(id.into()))
    }

    /// Allows SPIFFE IDs under this path prefix, at a segment boundary:
    /// `spiffe://td/ns/billing` allows `spiffe://td/ns/billing/sa/api` but not
    /// `spiffe://td/ns/billing-old`.
    pub fn allow_spiffe_path_prefix(self, prefix: impl Into<String>) -> Self {
        self.push(PeerPattern::SpiffePrefix(prefix.into()))
    }

    /// Allows every SPIFFE ID of a trust domain.
    pub fn allow_trust_domain(self, trust_domain: impl Into<String>) -> Self {
        self.push(PeerPattern::TrustDomain(trust_domain.into()))
    }

    /// Allows certificates with this DNS SAN (case-insensitive).
    pub fn allow_dns_name(self, name: impl Into<String>) -> Self {
        self.push(PeerPattern::Dns(name.into()))
    }

    /// Allows certificates with exactly this subject DN (as `CN=…, O=…`).
    pub fn allow_subject(self, subject: impl Into<String>) -> Self {
        self.push(PeerPattern::Subject(subject.into()))
    }

    /// Answers refusals with `responder`.
    pub fn with_rejection_response<R2>(self, responder: R2) -> RequirePeerLayer<R2> {
        RequirePeerLayer {
            rule: self.rule,
            responder,
        }
    }
}

impl<R> fmt::Debug for RequirePeerLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequirePeerLayer")
            .field("patterns", &self.rule.patterns)
            .finish_non_exhaustive()
    }
}

impl<S, R: Clone> Layer<S> for RequirePeerLayer<R> {
    type Service = RequirePeer<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePeer {
            inner,
            rule: Arc::clone(&self.rule),
            responder: self.responder.clone(),
        }
    }
}

/// The service made by [`RequirePeerLayer`].
#[derive(Clone)]
pub struct RequirePeer<S, R> {
    inner: S,
    rule: Arc<PeerRule>,
    responder: R,
}

impl<S, R> RequirePeer<S, R> {
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
}

impl<S: fmt::Debug, R> fmt::Debug for RequirePeer<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequirePeer")
            .field("inner", &self.inner)
            .field("patterns", &self.rule.patterns)
            .finish_non_exhaustive()
    }
}

/// A request's peer is missing or not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The connection carries no client-certificate identity.
    #[error("no client certificate identity")]
    NoIdentity,
    /// The identity matches none of the allowed patterns.
    #[error("client identity {identity} is not allowed")]
    NotAllowed {
        /// The SPIFFE ID, else the subject.
        identity: String,
    },
}

impl From<PeerError> for Rejection {
    fn from(error: PeerError) -> Self {
        match error {
            PeerError::NoIdentity => Rejection::new(
                RejectionKind::MissingCredentials,
                "client certificate required",
                error,
            ),
            PeerError::NotAllowed { .. } => {
                Rejection::new(RejectionKind::Forbidden, "client not allowed", error)
            }
        }
    }
}

impl PeerRule {
    fn check(&self, identity: Option<&PeerIdentity>) -> Result<(), PeerError> {
        let identity = identity.ok_or(PeerError::NoIdentity)?;
        if self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(identity)) {
            Ok(())
        } else {
            Err(PeerError::NotAllowed {
                identity: identity
                    .spiffe_id()
                    .map_or_else(|| identity.subject().to_owned(), |s| s.as_str().to_owned()),
            })
        }
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequirePeer<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
    R: RejectionResponse<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let identity = peer_identity(request.extensions());
        match self.rule.check(identity.as_ref()) {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(error) => {
                tracing::info!(
                    target: "meshward::audit",
                    decision = "deny",
                    reason = %error,
                    method = %request.method(),
                    path = request.uri().path(),
                    "peer requirement not met"
                );
                ResponseFuture::rejected(respond(&self.responder, error.into(), request))
            }
        }
    }
}
