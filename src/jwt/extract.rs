//! Where the bearer token is read from, with the size bounds applied before any parsing.

use std::fmt;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName};

use super::error::{ConfigError, ConfigErrorKind, TokenErrorKind};

/// Where [`AuthLayer`](super::AuthLayer) looks for the bearer token.
///
/// ```
/// use meshward::jwt::TokenLocation;
/// let default = TokenLocation::authorization_header();
/// let header = TokenLocation::header("x-access-token")?;
/// let cookie = TokenLocation::cookie("session")?;
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TokenLocation {
    kind: Location,
}

#[derive(Clone, PartialEq, Eq)]
enum Location {
    Authorization,
    Header(HeaderName),
    Cookie(String),
}

impl TokenLocation {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1): exactly one such header, the scheme
    /// case-insensitive, then one token and nothing after it. The default.
    pub fn authorization_header() -> Self {
        Self {
            kind: Location::Authorization,
        }
    }

    /// A header of your own whose whole value is the token, such as `x-access-token`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidHeader`] when `name` is not a valid header name.
    pub fn header(name: &str) -> Result<Self, ConfigError> {
        let name = HeaderName::try_from(name).map_err(|e| {
            ConfigError::with_source(
                ConfigErrorKind::InvalidHeader {
                    what: "token header name",
                },
                e,
            )
        })?;
        Ok(Self {
            kind: Location::Header(name),
        })
    }

    /// A cookie whose value is the token.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidHeader`] when `name` is empty or not a cookie name.
    pub fn cookie(name: &str) -> Result<Self, ConfigError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !valid {
            return Err(ConfigErrorKind::InvalidHeader {
                what: "token cookie name",
            }
            .into());
        }
        Ok(Self {
            kind: Location::Cookie(name.to_owned()),
        })
    }

    /// Finds the token in `headers`: `Ok(None)` when there is none, an error when the
    /// credential is malformed or longer than `max_len`.
    pub(crate) fn extract<'h>(
        &self,
        headers: &'h HeaderMap,
        max_len: usize,
    ) -> Result<Option<&'h str>, TokenErrorKind> {
        let token = match &self.kind {
            Location::Authorization => match single(headers, &AUTHORIZATION)? {
                None => return Ok(None),
                Some(value) => match bearer(value, max_len)? {
                    None => return Ok(None),
                    Some(token) => token,
                },
            },
            Location::Header(name) => match single(headers, name)? {
                None => return Ok(None),
                Some(value) => value,
            },
            Location::Cookie(name) => match cookie(headers, name)? {
                None => return Ok(None),
                Some(value) => value,
            },
        };
        check_token(token, max_len).map(Some)
    }
}

impl Default for TokenLocation {
    fn default() -> Self {
        Self::authorization_header()
    }
}

impl fmt::Debug for TokenLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Location::Authorization => f.write_str("Authorization: Bearer"),
            Location::Header(name) => write!(f, "header {name}"),
            Location::Cookie(name) => write!(f, "cookie {name}"),
        }
    }
}

/// The value of the one header named `name`; two of them make the request malformed.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, TokenErrorKind> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v.as_bytes())),
        (Some(_), Some(_)) => Err(TokenErrorKind::InvalidRequest),
    }
}

/// `Bearer 1*SP b64token`; another scheme is no bearer token at all.
fn bearer(value: &[u8], max_len: usize) -> Result<Option<&[u8]>, TokenErrorKind> {
    const SCHEME: &[u8] = b"bearer";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return Ok(None);
    }
    let rest = &value[SCHEME.len()..];
    match rest.first() {
        // `Bearerxyz` is some other scheme.
        Some(b) if *b != b' ' => return Ok(None),
        // `Bearer` alone.
        None => return Err(TokenErrorKind::InvalidRequest),
        Some(_) => {}
    }
    let token = rest.trim_ascii_start();
    if token.len() > max_len {
        return Err(TokenErrorKind::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    Ok(Some(token))
}

/// The value of cookie `name` across every `Cookie` header; twice is ambiguous.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h [u8]>, TokenErrorKind> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if &pair[..eq] == name.as_bytes() {
                if found.is_some() {
                    return Err(TokenErrorKind::InvalidRequest);
                }
                found = Some(&pair[eq + 1..]);
            }
        }
    }
    Ok(found)
}

/// A token is non-empty, within the cap, and made of the RFC 6750 `b64token` alphabet
/// (which also rules out spaces, so nothing may follow it).
fn check_token(token: &[u8], max_len: usize) -> Result<&str, TokenErrorKind> {
    if token.len() > max_len {
        return Err(TokenErrorKind::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let body_end = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    let valid = body_end > 0
        && token[..body_end]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b));
    if !valid {
        return Err(TokenErrorKind::InvalidRequest);
    }
    // Only ASCII passed the check above.
    std::str::from_utf8(token).map_err(|_| TokenErrorKind::InvalidRequest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn auth(pairs: &[(&'static str, &'static str)]) -> Result<Option<String>, TokenErrorKind> {
        TokenLocation::default()
            .extract(&headers(pairs), 64)
            .map(|t| t.map(str::to_owned))
    }

    #[test]
    fn authorization_header_forms() {
        assert_eq!(auth(&[]), Ok(None));
        assert_eq!(
            auth(&[("authorization", "Bearer a.b.c")]),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(
            auth(&[("authorization", "bEaReR   a.b.c")]),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(auth(&[("authorization", "Basic dXNlcjpwYXNz")]), Ok(None));
        assert_eq!(auth(&[("authorization", "Bearerish x")]), Ok(None));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a.b.c extra",
            "Bearer a,b",
            "Bearer a.b.c ",
        ] {
            assert_eq!(
                auth(&[("authorization", bad)]),
                Err(TokenErrorKind::InvalidRequest),
                "{bad:?}"
            );
        }
        assert_eq!(
            auth(&[
                ("authorization", "Bearer a.b.c"),
                ("authorization", "Bearer a.b.c")
            ]),
            Err(TokenErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn size_cap_applies_before_parsing() {
        let long = format!("Bearer {}", "a".repeat(65));
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(&long).unwrap());
        assert_eq!(
            TokenLocation::default().extract(&h, 64),
            Err(TokenErrorKind::TooLarge { len: 65, max: 64 })
        );
    }

    #[test]
    fn cookie_and_header_locations() {
        let c = TokenLocation::cookie("session").unwrap();
        let h = headers(&[("cookie", "a=1; session=x.y.z"), ("cookie", "b=2")]);
        assert_eq!(c.extract(&h, 64), Ok(Some("x.y.z")));
        let twice = headers(&[("cookie", "session=x"), ("cookie", "session=y")]);
        assert_eq!(c.extract(&twice, 64), Err(TokenErrorKind::InvalidRequest));
        assert!(TokenLocation::cookie("bad name").is_err());

        let x = TokenLocation::header("x-token").unwrap();
        assert_eq!(
            x.extract(&headers(&[("x-token", "a.b.c")]), 64),
            Ok(Some("a.b.c"))
        );
        assert_eq!(x.extract(&headers(&[]), 64), Ok(None));
    }
}
