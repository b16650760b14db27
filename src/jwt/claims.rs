//! Reading the registered claims (RFC 7519 §4.1) out of a verified claim set.

use serde_json::{Map, Value};

use super::error::TokenErrorKind;

/// Reads a NumericDate claim: an integer or finite float of seconds since the epoch.
/// Values beyond the range of `i64` saturate.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<i64>, TokenErrorKind> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    // `as` saturates, and floors toward zero; NaN cannot come out of JSON.
                    Some(f) if f.is_finite() => Ok(Some(f as i64)),
                    _ => Err(invalid(name)),
                }
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
        let c = map(json!({"a": 10, "b": 10.9, "c": "10", "d": 1e300, "e": -5}));
        assert_eq!(numeric_date(&c, "a"), Ok(Some(10)));
        assert_eq!(numeric_date(&c, "b"), Ok(Some(10)));
        assert!(numeric_date(&c, "c").is_err());
        assert_eq!(numeric_date(&c, "d"), Ok(Some(i64::MAX)));
        assert_eq!(numeric_date(&c, "e"), Ok(Some(-5)));
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
