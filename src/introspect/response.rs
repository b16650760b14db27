//! The introspection answer (RFC 7662 §2.2) checked the way the `Validator` checks a JWT's
//! claims: `active`, then `iss`, `exp`, `nbf`, `iat`, `aud`, `token_type`, and the scopes.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::error::{IntrospectionError, IntrospectionErrorKind};
use crate::jwt::TokenErrorKind;
use crate::jwt::claims;
use crate::principal::{Scopes, TypedClaims, VerifiedToken};

/// What the answer is checked against.
pub(super) struct Checks {
    pub(super) issuer: String,
    pub(super) audiences: Vec<String>,
    /// `token_type` values accepted (compared ignoring ASCII case) when the answer has one.
    pub(super) token_types: Vec<String>,
    pub(super) leeway: i64,
}

/// A usable answer: the token is active and passed every check, or it is not active.
pub(super) enum Verdict {
    Active(Arc<VerifiedToken>),
    Inactive,
}

/// Reads the answer's body: a JSON object whose `active` is a boolean.
pub(super) fn parse(body: &[u8]) -> Result<Map<String, Value>, IntrospectionError> {
    let answer: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| IntrospectionError::with_source(IntrospectionErrorKind::Malformed, e))?;
    if !answer.get("active").is_some_and(Value::is_boolean) {
        return Err(IntrospectionErrorKind::Malformed.into());
    }
    Ok(answer)
}

/// Checks a parsed answer for `token` at `now` (Unix seconds). `Err` is why an active token
/// is refused anyway (401): another issuer, expired, another audience, another type.
pub(super) fn check(
    checks: &Checks,
    mut answer: Map<String, Value>,
    token: &str,
    now: i64,
) -> Result<Verdict, TokenErrorKind> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Ok(Verdict::Inactive);
    }
    answer.remove("active");
    // The endpoint is the issuer's: an answer without `iss` speaks for it; one that names
    // another issuer is refused.
    let issuer = match claims::string(&answer, "iss")? {
        None => checks.issuer.clone(),
        Some(iss) if iss == checks.issuer => iss,
        Some(_) => return Err(TokenErrorKind::InvalidIssuer),
    };
    // No maximum lifetime: the answer is the server's word on the token now, asked again
    // whenever the short answer cache expires, so a long-lived opaque token is its call (a
    // revoked one turns inactive at the next question).
    let claims::Times {
        expires_at,
        not_before,
        issued_at,
    } = claims::check_times(
        &answer,
        claims::TimeRules {
            leeway: checks.leeway,
            max_lifetime: None,
        },
        now,
    )?;
    let audiences = claims::audiences(&answer)?;
    if !audiences.iter().any(|a| checks.audiences.contains(a)) {
        return Err(TokenErrorKind::InvalidAudience {
            expected: checks.audiences.clone(),
        });
    }
    if let Some(kind) = claims::string(&answer, "token_type")?
        && !checks
            .token_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&kind))
    {
        return Err(TokenErrorKind::InvalidType);
    }
    let subject = claims::string(&answer, "sub")?;
    let jwt_id = claims::string(&answer, "jti")?;
    let cnf_x5t = claims::confirmation_thumbprint(&answer)?;
    let mut scopes = Scopes::default();
    if let Some(scope) = answer.get("scope") {
        if !scope.is_string() {
            return Err(TokenErrorKind::InvalidClaim {
                claim: "scope".into(),
            });
        }
        scopes.insert_value(scope);
    }
    Ok(Verdict::Active(Arc::new(VerifiedToken {
        issuer,
        subject,
        audiences,
        expires_at,
        not_before,
        issued_at,
        jwt_id,
        algorithm: None,
        key_id: None,
        key_fingerprint: 0,
        scopes,
        claims: answer,
        raw: token.into(),
        cnf_x5t,
        typed: TypedClaims::default(),
    })))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::principal::unix_time;

    const NOW: i64 = 1_800_000_000;

    fn checks() -> Checks {
        Checks {
            issuer: "https://idp.test".into(),
            audiences: vec!["orders".into()],
            token_types: vec!["Bearer".into()],
            leeway: 30,
        }
    }

    fn active(extra: Value) -> Map<String, Value> {
        let mut answer = json!({
            "active": true, "iss": "https://idp.test", "aud": "orders", "sub": "alice",
            "client_id": "web", "scope": "orders:read orders:write", "exp": NOW + 60,
            "iat": NOW - 10, "token_type": "Bearer", "jti": "j-1",
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                answer.as_object_mut().unwrap().remove(k);
            } else {
                answer[k] = v.clone();
            }
        }
        answer.as_object().unwrap().clone()
    }

    fn verdict(answer: Map<String, Value>) -> Result<Option<Arc<VerifiedToken>>, TokenErrorKind> {
        check(&checks(), answer, "opaque-token", NOW).map(|v| match v {
            Verdict::Active(token) => Some(token),
            Verdict::Inactive => None,
        })
    }

    #[test]
    fn an_active_answer_becomes_a_verified_token() {
        let token = verdict(active(json!({}))).unwrap().unwrap();
        assert_eq!(token.issuer, "https://idp.test");
        assert_eq!(token.subject.as_deref(), Some("alice"));
        assert_eq!(token.audiences, ["orders"]);
        assert_eq!(token.expires_at, NOW + 60);
        assert_eq!(token.issued_at, Some(NOW - 10));
        assert_eq!(token.jwt_id.as_deref(), Some("j-1"));
        assert!(token.scopes.contains("orders:write"));
        assert_eq!(token.algorithm, None);
        assert_eq!(&*token.raw, "opaque-token");
        assert_eq!(token.claims["client_id"], "web");
        assert!(!token.claims.contains_key("active"));
        // No `iss`: the endpoint speaks for its issuer. Any case of "bearer".
        let token = verdict(active(json!({"iss": null, "token_type": "bearer"})))
            .unwrap()
            .unwrap();
        assert_eq!(token.issuer, "https://idp.test");
        // No token_type at all is fine; `aud` may be a list.
        assert!(
            verdict(active(json!({"token_type": null, "aud": ["x", "orders"]})))
                .unwrap()
                .is_some()
        );
        // Within the leeway.
        assert!(verdict(active(json!({"exp": NOW - 29}))).unwrap().is_some());
        assert!(verdict(active(json!({"nbf": NOW + 30}))).unwrap().is_some());
        assert!(verdict(active(json!({"iat": NOW + 30}))).unwrap().is_some());
    }

    #[test]
    fn an_answer_is_not_held_to_a_maximum_lifetime() {
        // The server's word on an opaque token: ten years of life is its call.
        let long = active(json!({"iat": NOW - 10, "exp": NOW + 10 * 365 * 86_400}));
        assert!(verdict(long).unwrap().is_some());
        // And no iat at all is fine: there is no maximum to count from it.
        let mut no_iat = active(json!({}));
        no_iat.remove("iat");
        assert!(verdict(no_iat).unwrap().is_some());
    }

    #[test]
    fn inactive_is_inactive_whatever_else_it_says() {
        assert!(verdict(active(json!({"active": false}))).unwrap().is_none());
        assert!(
            verdict(active(json!({"active": false, "iss": "https://evil"})))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn each_check_refuses_with_its_kind() {
        let cases: Vec<(Value, TokenErrorKind)> = vec![
            (
                json!({"iss": "https://evil"}),
                TokenErrorKind::InvalidIssuer,
            ),
            (
                json!({"iss": 7}),
                TokenErrorKind::InvalidClaim {
                    claim: "iss".into(),
                },
            ),
            (
                json!({"exp": null}),
                TokenErrorKind::MissingClaim {
                    claim: "exp".into(),
                },
            ),
            (
                json!({"exp": "soon"}),
                TokenErrorKind::InvalidClaim {
                    claim: "exp".into(),
                },
            ),
            (
                json!({"exp": 1e300}),
                TokenErrorKind::InvalidClaim {
                    claim: "exp".into(),
                },
            ),
            (
                json!({"exp": NOW - 30}),
                TokenErrorKind::Expired {
                    exp: unix_time(NOW - 30),
                    now: unix_time(NOW),
                },
            ),
            (
                json!({"nbf": NOW + 31}),
                TokenErrorKind::NotYetValid {
                    nbf: unix_time(NOW + 31),
                    now: unix_time(NOW),
                },
            ),
            (
                json!({"iat": NOW + 31}),
                TokenErrorKind::IssuedInFuture {
                    iat: unix_time(NOW + 31),
                    now: unix_time(NOW),
                },
            ),
            (
                json!({"aud": "billing"}),
                TokenErrorKind::InvalidAudience {
                    expected: vec!["orders".into()],
                },
            ),
            (
                json!({"aud": null}),
                TokenErrorKind::MissingClaim {
                    claim: "aud".into(),
                },
            ),
            (json!({"token_type": "DPoP"}), TokenErrorKind::InvalidType),
            (
                json!({"token_type": 1}),
                TokenErrorKind::InvalidClaim {
                    claim: "token_type".into(),
                },
            ),
            (
                json!({"sub": ["a"]}),
                TokenErrorKind::InvalidClaim {
                    claim: "sub".into(),
                },
            ),
            (
                json!({"scope": ["a"]}),
                TokenErrorKind::InvalidClaim {
                    claim: "scope".into(),
                },
            ),
            (
                json!({"cnf": "x"}),
                TokenErrorKind::InvalidClaim {
                    claim: "cnf".into(),
                },
            ),
        ];
        for (extra, kind) in cases {
            assert_eq!(verdict(active(extra.clone())).err(), Some(kind), "{extra}");
        }
    }

    #[test]
    fn a_body_must_be_an_object_with_a_boolean_active() {
        assert!(parse(br#"{"active": true}"#).is_ok());
        assert!(parse(br#"{"active": false}"#).is_ok());
        for body in [
            &br#"{"active": "true"}"#[..],
            br#"{"active": 1}"#,
            br#"{}"#,
            br#"[{"active": true}]"#,
            b"<html>",
            b"",
        ] {
            assert_eq!(
                parse(body).unwrap_err().kind(),
                &IntrospectionErrorKind::Malformed,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
