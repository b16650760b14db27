//! One introspection request (RFC 7662 §2.1): the token POSTed as a form, authenticated as
//! the resource server's client; the endpoint found by discovery when not configured.

use super::error::{IntrospectionError, IntrospectionErrorKind};
use crate::oauth::{self, Endpoint, Failure};

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
