//! Reading the registered claims (RFC 7519 §4.1) out of a verified claim set.

use serde_json::{Map, Value};

use super::error::TokenErrorKind;

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
