//! One token exchange request (RFC 8693 §2.1) and its answer (§2.2).

use std::time::Duration;

use http::HeaderValue;
use serde_json::{Map, Value};

use super::error::{ExchangeError, ExchangeErrorKind};
use crate::oauth::{self, Endpoint};

/// The grant type of RFC 8693.
pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The type of the token exchanged: an access token (RFC 8693 §3).
pub(super) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The longest OAuth error code kept from a refusal.
const MAX_ERROR_CODE: usize = 64;

/// How the target is named in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetParameter {
    /// `audience`: the logical name of the target service (RFC 8693 §2.1).
    Audience,
    /// `resource`: the target's URI (RFC 8707).
    Resource,
}

/// A token issued by the exchange.
pub(super) struct Issued {
    pub(super) authorization: HeaderValue,
    pub(super) expires_in: Duration,
}

/// Exchanges `subject_token` for a token for `target`, with `scope` when narrowed.
pub(super) async fn exchange(
    endpoint: &Endpoint<'_>,
    subject_token: &str,
    target: (TargetParameter, &str),
    scope: Option<&str>,
) -> Result<Issued, ExchangeError> {
    let target_name = match target.0 {
        TargetParameter::Audience => "audience",
        TargetParameter::Resource => "resource",
    };
    let mut params = vec![
        ("grant_type", GRANT_TYPE),
        ("subject_token", subject_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("requested_token_type", ACCESS_TOKEN_TYPE),
        (target_name, target.1),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let answer = oauth::post_form(endpoint, &params).await?;
    let body: Option<Map<String, Value>> = serde_json::from_slice(&answer.body).ok();
    if answer.status != 200 {
        let error = body
            .as_ref()
            .and_then(|b| b.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(MAX_ERROR_CODE)
            .collect();
        return Err(ExchangeErrorKind::Refused {
            status: answer.status,
            error,
        }
        .into());
    }
    issued(body.ok_or(ExchangeErrorKind::Malformed)?)
}

/// The token of a 200 answer: `access_token`, a `token_type` of `Bearer` (or `N_A`, RFC
/// 8693 §2.2.1, for a token used as a bearer anyway), and `expires_in` (required here: a
/// token with no known lifetime cannot be reused safely).
fn issued(body: Map<String, Value>) -> Result<Issued, ExchangeError> {
    let malformed = || ExchangeError::from(ExchangeErrorKind::Malformed);
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(malformed)?;
    match body.get("token_type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("n_a") => {}
        _ => return Err(malformed()),
    }
    let expires_in = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or_else(malformed)?;
    let mut authorization =
        HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| malformed())?;
    authorization.set_sensitive(true);
    Ok(Issued {
        authorization,
        expires_in: Duration::from_secs(expires_in),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(v: Value) -> Result<Issued, ExchangeErrorKind> {
        issued(v.as_object().unwrap().clone()).map_err(|e| e.kind().clone())
    }

    #[test]
    fn an_answer_needs_a_bearer_token_and_its_lifetime() {
        let ok = answer(
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                               "issued_token_type": ACCESS_TOKEN_TYPE}),
        )
        .unwrap();
        assert_eq!(ok.authorization, "Bearer t");
        assert!(ok.authorization.is_sensitive());
        assert_eq!(ok.expires_in, Duration::from_secs(300));
        assert!(answer(json!({"access_token": "t", "token_type": "N_A", "expires_in": 1})).is_ok());
        for bad in [
            json!({"token_type": "Bearer", "expires_in": 300}),
            json!({"access_token": "", "token_type": "Bearer", "expires_in": 300}),
            json!({"access_token": 7, "token_type": "Bearer", "expires_in": 300}),
            json!({"access_token": "t", "token_type": "DPoP", "expires_in": 300}),
            json!({"access_token": "t", "expires_in": 300}),
            json!({"access_token": "t", "token_type": "Bearer"}),
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 0}),
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": -5}),
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": "300"}),
            json!({"access_token": "a\nb", "token_type": "Bearer", "expires_in": 300}),
        ] {
            assert_eq!(
                answer(bad.clone()).err(),
                Some(ExchangeErrorKind::Malformed),
                "{bad}"
            );
        }
    }
}
