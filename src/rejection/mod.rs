//! How a refused request is answered: one mapping from fault to HTTP status, gRPC code and
//! `WWW-Authenticate` challenge, and the pluggable responder that renders it.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use std::time::Duration;

mod respond;

pub use self::respond::{ChallengeParams, DefaultRejectionResponse, RejectionResponse};
pub(crate) use self::respond::{pass_on_challenge, respond_to};

use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// A refused request: which class of fault it is, and the concern's typed error behind it.
///
/// Every meshward layer that refuses a request inserts its `Rejection` into the
/// *response* extensions, so callers and outer layers can inspect why:
///
/// ```
/// # use meshward::{Rejection, RejectionKind, jwt::TokenError};
/// # fn inspect(response: &http::Response<()>) {
/// if let Some(rejection) = response.extensions().get::<Rejection>() {
///     if rejection.kind() == RejectionKind::InvalidToken {
///         let error = rejection.downcast_ref::<TokenError>();
///         println!("refused: {error:?}");
///     }
/// }
/// # }
/// ```
///
/// The status, gRPC code and challenge come from [`RejectionKind`]; the table is the one in the
/// crate documentation. `Display` prints the fixed [`description`](Self::description) once;
/// the concern's error, with its detail, is the [`source`](StdError::source).
#[derive(Clone)]
pub struct Rejection {
    kind: RejectionKind,
    description: &'static str,
    label: &'static str,
    scope: Option<Arc<str>>,
    retry_after: Option<Duration>,
    error: Arc<dyn StdError + Send + Sync + 'static>,
}

/// What a concern's error tells the rejection about itself. Each concern implements it next
/// to its error type, with exhaustive matches: a new error variant without an answer does
/// not compile.
pub(crate) trait Refusal: StdError + Send + Sync + 'static {
    /// The class of fault, which decides the status, gRPC code and challenge.
    fn rejection_kind(&self) -> RejectionKind;
    /// The fixed text sent to the client.
    fn client_description(&self) -> &'static str;
    /// A short, stable, snake_case reason for audit events and metrics.
    fn label(&self) -> &'static str;
    /// The scopes whose absence caused an insufficient-scope refusal.
    fn scope(&self) -> Option<Arc<str>> {
        None
    }
    /// How long the client should wait before trying again (429, 503).
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Rejection {
    /// A rejection of the given kind caused by `error`. `description` is the fixed text sent
    /// to the client; it must not contain anything taken from the request.
    pub fn new(
        kind: RejectionKind,
        description: &'static str,
        error: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            description,
            label: "custom",
            scope: None,
            retry_after: None,
            error: Arc::new(error),
        }
    }

    /// The rejection a concern's error stands for.
    pub(crate) fn refuse<E: Refusal>(error: E) -> Self {
        Self {
            kind: error.rejection_kind(),
            description: error.client_description(),
            label: error.label(),
            scope: error.scope(),
            retry_after: error.retry_after(),
            error: Arc::new(error),
        }
    }

    /// Names the scopes whose absence caused an [`RejectionKind::InsufficientScope`]
    /// rejection; they appear in the challenge's `scope` parameter (RFC 6750 §3).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<Arc<str>>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Tells the client how long to wait before trying again: a `Retry-After` header on
    /// the HTTP response (whole seconds, rounded up).
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// How long the client should wait before trying again, when the refusal says
    /// ([`RejectionKind::TooManyRequests`] does).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The class of fault.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The fixed description sent to the client.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// A short, stable, snake_case reason (`expired`, `insufficient_scope`, …), the one the
    /// audit event and the metrics carry; `custom` for a rejection made with
    /// [`Rejection::new`].
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The scopes that were required, for insufficient-scope rejections.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The concern's typed error ([`TokenError`](crate::jwt::TokenError),
    /// [`AuthzError`](crate::authz::AuthzError), …).
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// The concern's error as a concrete type, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// The HTTP status for this rejection.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The gRPC status code for this rejection.
    pub fn grpc_code(&self) -> i32 {
        self.kind.grpc_code()
    }

    /// The `WWW-Authenticate` challenge, when the kind has one (401, 400 and the
    /// insufficient-scope 403).
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        self.challenge(realm, None)
    }

    /// The challenge with a `realm` and an RFC 9728 `resource_metadata` parameter.
    fn challenge(
        &self,
        realm: Option<&str>,
        resource_metadata: Option<&str>,
    ) -> Option<HeaderValue> {
        let mut value = String::from("Bearer");
        let mut params = Vec::with_capacity(5);
        if let Some(realm) = realm {
            params.push(("realm", realm));
        }
        match self.kind.error_code() {
            Some(code) => {
                params.push(("error", code));
                params.push(("error_description", self.description));
            }
            None if self.kind != RejectionKind::MissingCredentials => return None,
            None => {}
        }
        if let (RejectionKind::InsufficientScope, Some(scope)) = (self.kind, self.scope.as_deref())
        {
            params.push(("scope", scope));
        }
        if let Some(url) = resource_metadata {
            params.push(("resource_metadata", url));
        }
        for (i, (name, param)) in params.iter().enumerate() {
            value.push_str(if i == 0 { " " } else { ", " });
            value.push_str(name);
            value.push_str("=\"");
            push_quoted(&mut value, param);
            value.push('"');
        }
        HeaderValue::from_str(&value).ok()
    }

    /// Renders the rejection as a plain HTTP response: status, challenge, `Retry-After`
    /// when the refusal says how long to wait, empty body.
    pub fn to_http_response<B: Default>(&self, realm: Option<&str>) -> Response<B> {
        self.http_response(realm, None)
    }

    fn http_response<B: Default>(
        &self,
        realm: Option<&str>,
        resource_metadata: Option<&str>,
    ) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = self.status();
        if let Some(challenge) = self.challenge(realm, resource_metadata) {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds(wait)));
        }
        response
    }

    /// Renders the rejection as a trailers-only gRPC response: HTTP 200 with `grpc-status`
    /// and `grpc-message` in the headers and an empty body, as gRPC servers answer a call
    /// that fails before any message.
    pub fn to_grpc_response<B: Default>(&self) -> Response<B> {
        let mut response = Response::new(B::default());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", HeaderValue::from(self.grpc_code()));
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(self.description)) {
            headers.insert("grpc-message", message);
        }
        response
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .field("label", &self.label)
            .field("scope", &self.scope)
            .field("retry_after", &self.retry_after)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description)
    }
}

impl StdError for Rejection {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error as &(dyn StdError + 'static))
    }
}

/// The classes of refusal, each with one HTTP status and one gRPC code.
///
/// | kind | HTTP | challenge `error` | gRPC |
/// | --- | --- | --- | --- |
/// | `MissingCredentials` | 401 | none (RFC 6750 §3.1) | 16 `UNAUTHENTICATED` |
/// | `InvalidRequest` | 400 | `invalid_request` | 16 `UNAUTHENTICATED` |
/// | `InvalidToken` | 401 | `invalid_token` | 16 `UNAUTHENTICATED` |
/// | `InsufficientScope` | 403 | `insufficient_scope` | 7 `PERMISSION_DENIED` |
/// | `Forbidden` | 403 | no challenge | 7 `PERMISSION_DENIED` |
/// | `Unavailable` | 503 | no challenge | 14 `UNAVAILABLE` |
/// | `TooManyRequests` | 429 (with `Retry-After`) | no challenge | 8 `RESOURCE_EXHAUSTED` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credentials were presented.
    MissingCredentials,
    /// The credentials were presented in a malformed way.
    InvalidRequest,
    /// The token is invalid: signature, expiry, issuer, audience, key, format.
    InvalidToken,
    /// The token is valid but lacks a required scope.
    InsufficientScope,
    /// The caller is known but a policy or peer-identity rule denies the request.
    Forbidden,
    /// The request could not be checked: keys or a policy engine are unreachable.
    Unavailable,
    /// The caller used up its quota for now.
    TooManyRequests,
}

impl RejectionKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingCredentials | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The gRPC status code.
    pub fn grpc_code(self) -> i32 {
        match self {
            Self::MissingCredentials | Self::InvalidRequest | Self::InvalidToken => 16,
            Self::InsufficientScope | Self::Forbidden => 7,
            Self::Unavailable => 14,
            Self::TooManyRequests => 8,
        }
    }

    /// The RFC 6750 error code for the challenge, if any.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::MissingCredentials
            | Self::Forbidden
            | Self::Unavailable
            | Self::TooManyRequests => None,
        }
    }
}

/// A wait in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3's delay-seconds).
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let seconds = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    seconds.max(1)
}

/// Whether a request is a gRPC call (`content-type: application/grpc`, `+proto`, `+json`…).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.as_bytes().get(..16))
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"application/grpc"))
}

/// Appends `s` as the inside of an HTTP quoted-string.
fn push_quoted(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if !c.is_control() && c.is_ascii() {
            out.push(c);
        }
    }
}

/// Percent-encodes a `grpc-message` as the gRPC HTTP/2 protocol requires: bytes outside
/// printable ASCII, and `%` itself.
fn grpc_percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
