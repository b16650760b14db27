//! One introspection request (RFC 7662 §2.1): the token POSTed as a form, authenticated as
//! the resource server's client; the endpoint found by discovery when not configured.

use reqwest::{Client, Url};

use super::error::{IntrospectionError, IntrospectionErrorKind};
use crate::oauth::{self, Endpoint, Failure, NotFound};

/// POSTs `token` and returns the answer's body (status 200 only).
pub(super) async fn introspect(
    endpoint: &Endpoint<'_>,
    token: &str,
) -> Result<Vec<u8>, IntrospectionError> {
    let answer = oauth::post_form(
        endpoint,
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .await
    .map_err(|failure| failed(failure, endpoint))?;
    if answer.status != 200 {
        return Err(IntrospectionErrorKind::Status {
            status: answer.status,
        }
        .into());
    }
    Ok(answer.body)
}

/// A request that gave no answer, as an [`IntrospectionError`].
fn failed(failure: Failure, endpoint: &Endpoint<'_>) -> IntrospectionError {
    use IntrospectionErrorKind as Kind;
    match failure {
        Failure::Request(e) => IntrospectionError::with_source(Kind::Request, e),
        Failure::Timeout => Kind::Timeout {
            after: endpoint.timeout,
        }
        .into(),
        Failure::TooLarge => Kind::TooLarge {
            max: endpoint.max_len,
        }
        .into(),
        Failure::Assertion(Some(e)) => IntrospectionError::with_source(Kind::ClientAssertion, e),
        Failure::Assertion(None) => Kind::ClientAssertion.into(),
    }
}

/// The issuer's `introspection_endpoint`, by discovery.
pub(super) async fn discover(
    client: &Client,
    issuer: &str,
    allow_http: bool,
    timeout: std::time::Duration,
    max_len: usize,
) -> Result<Url, IntrospectionError> {
    oauth::discover(
        client,
        issuer,
        "introspection_endpoint",
        allow_http,
        timeout,
        max_len,
    )
    .await
    .map_err(|not_found| match not_found {
        NotFound::Insecure => IntrospectionErrorKind::InsecureEndpoint.into(),
        NotFound::Missing(Some(Failure::Request(e))) => {
            IntrospectionError::with_source(IntrospectionErrorKind::Discovery, e)
        }
        NotFound::Missing(_) => IntrospectionErrorKind::Discovery.into(),
    })
}
