//! Where the bearer token is read from, with the size bounds applied before any parsing.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Uri};

use super::error::{ConfigError, ConfigErrorKind, TokenErrorKind};

/// Where [`AuthLayer`](super::AuthLayer) looks for the bearer token.
///
/// A layer may look in several places, in order
/// ([`AuthLayer::token_locations`](super::AuthLayer::token_locations)): the first that holds
/// a token decides, and a malformed credential in one of them is refused rather than skipped.
///
/// ```
/// use meshward::jwt::TokenLocation;
/// let default = TokenLocation::authorization_header();
/// let header = TokenLocation::header("x-access-token")?;
/// let cookie = TokenLocation::cookie("session")?;
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TokenLocation {
    kind: Location,
}

type TokenFn = dyn Fn(&HeaderMap, &Uri) -> Option<String> + Send + Sync;

#[derive(Clone)]
enum Location {
    Authorization,
    Header(HeaderName),
    Cookie(String),
    Custom(Arc<TokenFn>),
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
    pub fn header(name: impl AsRef<str>) -> Result<Self, ConfigError> {
        let name = HeaderName::try_from(name.as_ref()).map_err(|e| {
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
    pub fn cookie(name: impl AsRef<str>) -> Result<Self, ConfigError> {
        let name = name.as_ref();
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

    /// A function of your own that finds the token in the request's headers and URI, for
    /// places meshward does not read by itself: a WebSocket subprotocol, or a query
    /// parameter. What it returns is held to the same rules as any token: the size cap and
    /// the RFC 6750 token alphabet.
    ///
    /// ```
    /// use meshward::jwt::TokenLocation;
    /// // `Sec-WebSocket-Protocol: access_token, <token>`, as some browser clients send it.
    /// let subprotocol = TokenLocation::from_fn(|headers, _uri| {
    ///     let value = headers.get("sec-websocket-protocol")?.to_str().ok()?;
    ///     let mut parts = value.split(',').map(str::trim);
    ///     (parts.next()? == "access_token").then(|| parts.next().map(str::to_owned))?
    /// });
    /// ```
    ///
    /// # Security
    ///
    /// A token in a query parameter ends up in access logs, browser history and `Referer`
    /// headers (RFC 6750 §2.3, §5.3); read one only when nothing else is possible, and keep
    /// such tokens short-lived.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&HeaderMap, &Uri) -> Option<String> + Send + Sync + 'static,
    {
        Self {
            kind: Location::Custom(Arc::new(f)),
        }
    }

    /// Finds the token: `Ok(None)` when there is none here, an error when the credential is
    /// malformed or longer than `max_len`. Its alphabet is not checked yet (see [`checked`]).
    pub(crate) fn locate<'h>(
        &self,
        headers: &'h HeaderMap,
        uri: &Uri,
        max_len: usize,
    ) -> Result<Option<Cow<'h, [u8]>>, TokenErrorKind> {
        let token = match &self.kind {
            Location::Authorization => match single(headers, &AUTHORIZATION)? {
                None => return Ok(None),
                Some(value) => match bearer(value, max_len)? {
                    None => return Ok(None),
                    Some(token) => Cow::Borrowed(token),
                },
            },
            Location::Header(name) => match single(headers, name)? {
                None => return Ok(None),
                Some(value) => Cow::Borrowed(value),
            },
            Location::Cookie(name) => match cookie(headers, name)? {
                None => return Ok(None),
                Some(value) => Cow::Borrowed(value),
            },
            Location::Custom(f) => match f(headers, uri) {
                None => return Ok(None),
                Some(token) => Cow::Owned(token.into_bytes()),
            },
        };
        if token.len() > max_len {
            return Err(TokenErrorKind::TooLarge {
                len: token.len(),
                max: max_len,
            });
        }
        Ok(Some(token))
    }

    /// [`locate`](Self::locate), then [`checked`].
    #[cfg(test)]
    pub(crate) fn extract<'h>(
        &self,
        headers: &'h HeaderMap,
        uri: &Uri,
        max_len: usize,
    ) -> Result<Option<Cow<'h, str>>, TokenErrorKind> {
        self.locate(headers, uri, max_len)?.map(checked).transpose()
    }
}

/// Looks in each location in turn: the first that holds a token decides.
pub(crate) fn locate_first<'h>(
    locations: &[TokenLocation],
    headers: &'h HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<Option<Cow<'h, [u8]>>, TokenErrorKind> {
    for location in locations {
        if let Some(token) = location.locate(headers, uri, max_len)? {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// [`locate_first`], then [`checked`].
#[cfg(test)]
pub(crate) fn extract_first<'h>(
    locations: &[TokenLocation],
    headers: &'h HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<Option<Cow<'h, str>>, TokenErrorKind> {
    locate_first(locations, headers, uri, max_len)?
        .map(checked)
        .transpose()
}

/// A located token that is non-empty and made of the RFC 6750 `b64token` alphabet (which
/// also rules out spaces, so nothing may follow it), as text.
pub(crate) fn checked(token: Cow<'_, [u8]>) -> Result<Cow<'_, str>, TokenErrorKind> {
    match token {
        Cow::Borrowed(bytes) => check_token(bytes).map(Cow::Borrowed),
        Cow::Owned(bytes) => {
            check_token(&bytes)?;
            String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| TokenErrorKind::InvalidRequest)
        }
    }
}

impl TokenLocation {
    /// The header of a [`header`](Self::header) location, which is a credential of the
    /// requests it reads (the fixed ones, `Authorization` and `Cookie`, are always).
    pub(crate) fn own_header(&self) -> Option<&HeaderName> {
        match &self.kind {
            Location::Header(name) => Some(name),
            Location::Authorization | Location::Cookie(_) | Location::Custom(_) => None,
        }
    }
}

impl PartialEq for TokenLocation {
    fn eq(&self, other: &Self) -> bool {
        match (&self.kind, &other.kind) {
            (Location::Authorization, Location::Authorization) => true,
            (Location::Header(a), Location::Header(b)) => a == b,
            (Location::Cookie(a), Location::Cookie(b)) => a == b,
            (Location::Custom(a), Location::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for TokenLocation {}

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
            Location::Custom(_) => f.write_str("<fn>"),
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

/// RFC 6750's `b64token` characters, `=` padding aside: letters, digits and `-._~+/`.
fn in_b64token(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// `token` is non-empty and in the `b64token` alphabet, `=` padding at the end aside.
fn check_token(token: &[u8]) -> Result<&str, TokenErrorKind> {
    let body_end = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    // Every byte is looked at (no early exit), which lets the compiler check many at once.
    let valid = body_end > 0
        && token[..body_end]
            .iter()
            .fold(true, |valid, b| valid & in_b64token(*b));
    if !valid {
        return Err(TokenErrorKind::InvalidRequest);
    }
    // Only ASCII passed the check above.
    std::str::from_utf8(token).map_err(|_| TokenErrorKind::InvalidRequest)
}

#[cfg(test)]
mod tests;
