//! One introspection request (RFC 7662 §2.1): the token POSTed as a form, authenticated as
//! the resource server's client; the endpoint found by discovery when not configured.

use super::error::{IntrospectionError, IntrospectionErrorKind};
use crate::oauth::{self, Endpoint};

/// POSTs `token` and returns the answer's body (status 200 only).
pub(super) async fn introspect(
    endpoint: &Endpoint<'_>,
    token: &str,
) -> Result<Vec<u8>, IntrospectionError> {
    let answer = oauth::post_form(
        endpoint,
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .await?;
    if answer.status != 200 {
        return Err(IntrospectionErrorKind::Status {
            status: answer.status,
        }
        .into());
    }
    Ok(answer.body)
}
