//! Reading the registered claims (RFC 7519 §4.1) out of a verified claim set.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::TokenErrorKind;
use crate::principal::unix_time;

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z. Anything later (an `exp` of
/// `1e300`, `i64::MAX`) is a malformed claim, never "does not expire".
pub(crate) const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Reads a NumericDate claim: a number of seconds since the epoch between 0 and
/// [`MAX_NUMERIC_DATE`], an integer or a finite fraction (RFC 7519 §2 allows one; it is
/// floored). A negative value, a value past the year 9999, or anything but a number is an
/// invalid claim.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<i64>, TokenErrorKind> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let seconds = match n.as_i64() {
                Some(i) => i,
                // A fraction: in range, `as` floors it (toward zero, and it is positive).
                None => match n.as_f64() {
                    Some(f) if (0.0..=MAX_NUMERIC_DATE as f64).contains(&f) => f as i64,
                    _ => return Err(invalid(name)),
                },
            };
            if (0..=MAX_NUMERIC_DATE).contains(&seconds) {
                Ok(Some(seconds))
            } else {
                Err(invalid(name))
            }
        }
        Some(_) => Err(invalid(name)),
    }
}

/// Reads a claim that must be a string when present.
pub(crate) fn string(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, TokenErrorKind> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(name)),
    }
}

/// Reads `aud`: a string, or an array of strings (RFC 7519 §4.1.3).
pub(crate) fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, TokenErrorKind> {
    match claims.get("aud") {
        None => Err(TokenErrorKind::MissingClaim {
            claim: "aud".into(),
        }),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| invalid("aud")))
            .collect(),
        Some(_) => Err(invalid("aud")),
    }
}

/// Reads `cnf.x5t#S256` (RFC 8705 §3.1); a `cnf` that is not an object, or an `x5t#S256`
/// that is not a string, is invalid.
pub(crate) fn confirmation_thumbprint(
    claims: &Map<String, Value>,
) -> Result<Option<String>, TokenErrorKind> {
    match claims.get("cnf") {
        None => Ok(None),
        Some(Value::Object(cnf)) => match cnf.get("x5t#S256") {
            None => Ok(None),
            Some(Value::String(t)) => Ok(Some(t.clone())),
            Some(_) => Err(invalid("cnf")),
        },
        Some(_) => Err(invalid("cnf")),
    }
}

/// The time claims of a claim set, read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) expires_at: i64,
    pub(crate) not_before: Option<i64>,
    pub(crate) issued_at: Option<i64>,
}

/// How the time claims are checked: the clock-skew allowance and, when set, the longest a
/// token may live (`exp` minus `iat`, or minus `nbf` when there is no `iat`), in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRules {
    pub(crate) leeway: i64,
    pub(crate) max_lifetime: Option<i64>,
}

/// The one check of `exp` (required, in the future), `nbf` and `iat` (not in the future),
/// each with the leeway, then the maximum lifetime, at `now` (Unix seconds). JWTs and
/// introspection answers both go through it.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    rules: TimeRules,
    now: i64,
) -> Result<Times, TokenErrorKind> {
    let expires_at = numeric_date(claims, "exp")?.ok_or(TokenErrorKind::MissingClaim {
        claim: "exp".into(),
    })?;
    if now >= expires_at.saturating_add(rules.leeway) {
        return Err(expired(expires_at, now));
    }
    let not_before = numeric_date(claims, "nbf")?;
    if let Some(nbf) = not_before
        && nbf > now.saturating_add(rules.leeway)
    {
        return Err(TokenErrorKind::NotYetValid {
            nbf: unix_time(nbf),
            now: unix_time(now),
        });
    }
    let issued_at = numeric_date(claims, "iat")?;
    if let Some(iat) = issued_at
        && iat > now.saturating_add(rules.leeway)
    {
        return Err(TokenErrorKind::IssuedInFuture {
            iat: unix_time(iat),
            now: unix_time(now),
        });
    }
    if let Some(max) = rules.max_lifetime {
        let start = issued_at
            .or(not_before)
            .ok_or_else(|| TokenErrorKind::MissingClaim {
                claim: "iat".into(),
            })?;
        // Both are within 0..=MAX_NUMERIC_DATE: no overflow.
        let lifetime = expires_at - start;
        if lifetime > max {
            let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
            return Err(TokenErrorKind::LifetimeTooLong {
                lifetime: secs(lifetime),
                max: secs(max),
            });
        }
    }
    Ok(Times {
        expires_at,
        not_before,
        issued_at,
    })
}

/// The refusal for a token whose `exp` has passed.
pub(crate) fn expired(exp: i64, now: i64) -> TokenErrorKind {
    TokenErrorKind::Expired {
        exp: unix_time(exp),
        now: unix_time(now),
    }
}

fn invalid(name: &str) -> TokenErrorKind {
    TokenErrorKind::InvalidClaim {
        claim: name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    fn times(v: Value, max_lifetime: Option<i64>) -> Result<Times, TokenErrorKind> {
        let rules = TimeRules {
            leeway: 30,
            max_lifetime,
        };
        check_times(&map(v), rules, NOW)
    }

    #[test]
    fn the_time_claims_and_their_edges() {
        assert_eq!(
            times(json!({"exp": NOW + 60, "nbf": NOW, "iat": NOW - 1}), None),
            Ok(Times {
                expires_at: NOW + 60,
                not_before: Some(NOW),
                issued_at: Some(NOW - 1),
            })
        );
        // The leeway is inclusive for nbf/iat, exclusive for exp.
        assert!(times(json!({"exp": NOW - 29}), None).is_ok());
        assert!(matches!(
            times(json!({"exp": NOW - 30}), None),
            Err(TokenErrorKind::Expired { .. })
        ));
        assert!(times(json!({"exp": NOW + 60, "nbf": NOW + 30}), None).is_ok());
        assert!(matches!(
            times(json!({"exp": NOW + 60, "nbf": NOW + 31}), None),
            Err(TokenErrorKind::NotYetValid { .. })
        ));
        assert!(times(json!({"exp": NOW + 60, "iat": NOW + 30}), None).is_ok());
        assert!(matches!(
            times(json!({"exp": NOW + 60, "iat": NOW + 31}), None),
            Err(TokenErrorKind::IssuedInFuture { .. })
        ));
        assert_eq!(
            times(json!({}), None),
            Err(TokenErrorKind::MissingClaim {
                claim: "exp".into()
            })
        );
    }

    #[test]
    fn the_maximum_lifetime_counts_from_iat_else_nbf() {
        let ok = json!({"exp": NOW + 60, "iat": NOW});
        assert!(times(ok.clone(), Some(60)).is_ok());
        assert_eq!(
            times(ok, Some(59)),
            Err(TokenErrorKind::LifetimeTooLong {
                lifetime: Duration::from_secs(60),
                max: Duration::from_secs(59),
            })
        );
        // Without iat, from nbf; an iat wins over nbf.
        assert!(times(json!({"exp": NOW + 60, "nbf": NOW - 1}), Some(60)).is_err());
        assert!(
            times(
                json!({"exp": NOW + 60, "nbf": NOW - 1, "iat": NOW}),
                Some(60)
            )
            .is_ok()
        );
        // Neither: a maximum cannot be checked, so iat is missing.
        assert_eq!(
            times(json!({"exp": NOW + 60}), Some(60)),
            Err(TokenErrorKind::MissingClaim {
                claim: "iat".into()
            })
        );
    }

    #[test]
    fn numeric_dates() {
        let c = map(json!({
            "a": 10, "b": 10.9, "c": "10", "d": 1e300, "e": -5, "f": -0.5,
            "max": MAX_NUMERIC_DATE, "past_max": MAX_NUMERIC_DATE + 1,
            "max_f": 253_402_300_798.5, "past_max_f": 253_402_300_800.0,
            "i64": i64::MAX, "u64": u64::MAX, "zero": 0, "null": null, "bool": true,
        }));
        assert_eq!(numeric_date(&c, "a"), Ok(Some(10)));
        assert_eq!(numeric_date(&c, "b"), Ok(Some(10)));
        assert_eq!(numeric_date(&c, "zero"), Ok(Some(0)));
        assert_eq!(numeric_date(&c, "max"), Ok(Some(MAX_NUMERIC_DATE)));
        assert_eq!(numeric_date(&c, "max_f"), Ok(Some(MAX_NUMERIC_DATE - 1)));
        for bad in [
            "c",
            "d",
            "e",
            "f",
            "past_max",
            "past_max_f",
            "i64",
            "u64",
            "null",
            "bool",
        ] {
            assert_eq!(
                numeric_date(&c, bad),
                Err(TokenErrorKind::InvalidClaim { claim: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(numeric_date(&c, "z"), Ok(None));
    }

    #[test]
    fn audience_shapes() {
        assert_eq!(
            audiences(&map(json!({"aud": "x"}))),
            Ok(vec!["x".to_owned()])
        );
        assert_eq!(
            audiences(&map(json!({"aud": ["x", "y"]}))),
            Ok(vec!["x".to_owned(), "y".to_owned()])
        );
        assert!(audiences(&map(json!({"aud": ["x", 1]}))).is_err());
        assert!(audiences(&map(json!({"aud": 1}))).is_err());
        assert!(audiences(&map(json!({}))).is_err());
    }
}
