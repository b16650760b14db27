//! The responder: what renders a [`Rejection`] into a response, the default one, and the
//! challenge parameters one layer passes on to the next.

use std::fmt;
use std::sync::Arc;

use http::{Extensions, Response, request::Parts};

use super::{Rejection, is_grpc};

/// Renders a [`Rejection`] into a response.
///
/// The default, [`DefaultRejectionResponse`], answers gRPC requests with a trailers-only gRPC
/// status and everything else with a status, a `WWW-Authenticate` challenge and an empty
/// body. Implement this trait, or pass a closure
/// `Fn(&Rejection, &http::request::Parts) -> http::Response<B>`, to render your own body.
///
/// ```
/// use meshward::{Rejection, jwt::AuthLayer};
/// # fn f(validator: meshward::jwt::Validator) {
/// let layer = AuthLayer::new(validator).with_rejection_response(
///     |rejection: &Rejection, _request: &http::request::Parts| {
///         let mut response = http::Response::new(format!("{{\"error\":\"{}\"}}", rejection.description()));
///         *response.status_mut() = rejection.status();
///         response
///     },
/// );
/// # }
/// ```
pub trait RejectionResponse<B> {
    /// Builds the response for `rejection` to the request whose head is `request`.
    fn response(&self, rejection: &Rejection, request: &Parts) -> Response<B>;

    /// The challenge parameters (`realm`) this responder was configured with. A meshward
    /// layer that lets a request through passes them on in the request's extensions, so that
    /// the layers after it answer with the same challenge without being configured again.
    fn challenge_params(&self) -> Option<&ChallengeParams> {
        None
    }
}

impl<F, B> RejectionResponse<B> for F
where
    F: Fn(&Rejection, &Parts) -> Response<B>,
{
    fn response(&self, rejection: &Rejection, request: &Parts) -> Response<B> {
        self(rejection, request)
    }
}

/// Parameters every `WWW-Authenticate` challenge of a server carries (the `realm`, and the
/// RFC 9728 `resource_metadata` URL), configured once on the first layer's
/// [`DefaultRejectionResponse`] and passed on to the layers after it in the request
/// extensions.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ChallengeParams {
    realm: Option<Arc<str>>,
    resource_metadata: Option<Arc<str>>,
}

impl ChallengeParams {
    /// The `realm` parameter (empty when only the resource metadata was configured).
    pub fn realm(&self) -> &str {
        self.realm.as_deref().unwrap_or("")
    }

    /// The `resource_metadata` parameter: where the server's protected-resource metadata
    /// (RFC 9728) is served.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }
}

impl fmt::Debug for ChallengeParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeParams")
            .field("realm", &self.realm)
            .field("resource_metadata", &self.resource_metadata)
            .finish()
    }
}

/// A challenge parameter's value: control characters dropped (quotes and backslashes are
/// escaped when rendered).
fn param_value(value: String) -> Arc<str> {
    value
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .into()
}

/// The standard rendering: gRPC trailers-only for `content-type: application/grpc*`, else
/// an empty-bodied HTTP response with the RFC 6750 challenge.
///
/// Without a realm of its own it uses the one an earlier meshward layer passed on (see
/// [`RejectionResponse::challenge_params`]): configure the realm once, on the first layer.
#[derive(Clone, Default)]
pub struct DefaultRejectionResponse {
    params: Option<ChallengeParams>,
}

impl DefaultRejectionResponse {
    /// The default responder, with no `realm` of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `realm="…"` to every challenge, this layer's and those of the meshward layers
    /// after it. Quotes and backslashes are escaped; control characters are dropped.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.params
            .get_or_insert_with(ChallengeParams::default)
            .realm = Some(param_value(realm.into()));
        self
    }

    /// Adds `resource_metadata="…"` (RFC 9728 §5.1) to every challenge: the URL of the
    /// server's protected-resource metadata, from which a client learns which
    /// authorization server to get a token from. See
    /// [`ResourceMetadata`](crate::jwt::ResourceMetadata), whose
    /// [`url`](crate::jwt::ResourceMetadata::url) this usually is.
    #[must_use]
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.params
            .get_or_insert_with(ChallengeParams::default)
            .resource_metadata = Some(param_value(url.into()));
        self
    }
}

impl fmt::Debug for DefaultRejectionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultRejectionResponse")
            .field("params", &self.params)
            .finish()
    }
}

impl<B: Default> RejectionResponse<B> for DefaultRejectionResponse {
    fn response(&self, rejection: &Rejection, request: &Parts) -> Response<B> {
        if is_grpc(&request.headers) {
            return rejection.to_grpc_response();
        }
        let params = self
            .params
            .as_ref()
            .or_else(|| request.extensions.get::<ChallengeParams>());
        rejection.http_response(
            params.and_then(|p| p.realm.as_deref()),
            params.and_then(ChallengeParams::resource_metadata),
        )
    }

    fn challenge_params(&self) -> Option<&ChallengeParams> {
        self.params.as_ref()
    }
}

/// Passes a responder's challenge parameters on to the layers after this one, unless an
/// earlier layer already did. Costs nothing when none are configured.
pub(crate) fn pass_on_challenge<B, R: RejectionResponse<B>>(
    responder: &R,
    extensions: &mut Extensions,
) {
    if let Some(params) = responder.challenge_params()
        && extensions.get::<ChallengeParams>().is_none()
    {
        extensions.insert(params.clone());
    }
}

/// Answers the request whose head is `head` with `responder`'s rendering of `rejection`, and
/// puts the rejection in the response extensions. Every refusing gate ends here.
pub(crate) fn respond_to<ResBody, R>(
    responder: &R,
    rejection: Rejection,
    head: &Parts,
) -> Response<ResBody>
where
    R: RejectionResponse<ResBody>,
{
    let mut response = responder.response(&rejection, head);
    response.extensions_mut().insert(rejection);
    response
}
