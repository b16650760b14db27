//! Whose quota a request counts against.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;

use crate::principal::Principal;

/// Whose quota a request counts against. Requests for which the key finds nothing (no
/// principal, no such claim) share one bucket, the anonymous one.
///
/// The value is hashed (SHA-256) into the store's key: keys have one length whatever the
/// claims hold, and the store never sees a subject in clear.
///
/// ```
/// use meshward::quota::QuotaKey;
/// // Per API key, from a header an earlier layer checked.
/// let key = QuotaKey::custom(|_principal, headers| {
///     headers.get("x-api-key")?.to_str().ok().map(str::to_owned)
/// });
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum QuotaKey {
    /// The principal's `sub` (the default).
    #[default]
    Subject,
    /// The OAuth client the token was issued to: `client_id` (RFC 9068), else `azp`
    /// (OpenID Connect).
    ClientId,
    /// The calling service of a service-token chain, else the subject: one quota per
    /// service that calls, one per user who calls directly.
    Caller,
    /// A function of the principal and the request headers.
    Custom(Arc<KeyFn>),
}

/// The function of a [`QuotaKey::Custom`].
pub type KeyFn = dyn Fn(Option<&Principal>, &HeaderMap) -> Option<String> + Send + Sync;

impl QuotaKey {
    /// A key computed by `f`; `None` counts the request against the anonymous bucket.
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(Option<&Principal>, &HeaderMap) -> Option<String> + Send + Sync + 'static,
    {
        Self::Custom(Arc::new(f))
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Subject => "sub",
            Self::ClientId => "client",
            Self::Caller => "caller",
            Self::Custom(_) => "custom",
        }
    }

    /// The store key of a request: `<kind>:<base64url SHA-256 of the value>`, or
    /// `<kind>:-` for the anonymous bucket.
    pub(super) fn store_key(&self, principal: Option<&Principal>, headers: &HeaderMap) -> String {
        let value: Option<String> = match self {
            Self::Subject => principal.and_then(Principal::subject).map(str::to_owned),
            Self::ClientId => principal.and_then(|p| {
                ["client_id", "azp"]
                    .iter()
                    .find_map(|name| p.claim_set().get(*name)?.as_str())
                    .map(str::to_owned)
            }),
            Self::Caller => principal
                .and_then(|p| p.caller().or_else(|| p.subject()))
                .map(str::to_owned),
            Self::Custom(f) => f(principal, headers),
        };
        let mut key = String::with_capacity(8 + 43);
        key.push_str(self.kind());
        key.push(':');
        match value {
            Some(value) => {
                URL_SAFE_NO_PAD.encode_string(digest(&SHA256, value.as_bytes()).as_ref(), &mut key)
            }
            None => key.push('-'),
        }
        key
    }
}

impl fmt::Debug for QuotaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Subject => "Subject",
            Self::ClientId => "ClientId",
            Self::Caller => "Caller",
            Self::Custom(_) => "Custom(..)",
        })
    }
}
