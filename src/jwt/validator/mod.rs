//! The token validator: strict by default, configured once, shared by every request.
//!
//! - `mod.rs`: the [`Validator`], its verified-token cache, its counters, and the
//!   [`Verifier`] it implements for [`AuthLayer`](super::AuthLayer);
//! - `builder.rs`: [`ValidatorBuilder`] and [`Issuer`], checked once at `build()`;
//! - `verify.rs`: the checks of one token, header, signature and claims;
//! - `lookup.rs`: which key verifies a token, and when remote keys must be fetched first.

mod builder;
mod lookup;
mod resolve;
mod verify;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::Algorithm;

pub use self::builder::{Issuer, ValidatorBuilder};
#[cfg(feature = "remote")]
use self::lookup::NeedsKeys;
use self::lookup::{Failure, FetchPolicy, IssuerEntry, KeySetVersion};
#[cfg(feature = "remote")]
pub use self::resolve::IssuerTemplate;
pub use self::resolve::{
    DEFAULT_MAX_RESOLVED_ISSUERS, DEFAULT_NEW_ISSUERS_PER_MINUTE, IssuerResolver,
};
pub(crate) use self::verify::{SERVICE_TOKEN_TYPE, header_type};
use super::cache::{self, TokenCache};
use super::error::{TokenError, TokenErrorKind};
#[cfg(feature = "remote")]
use super::jwks::KeySourceError;
#[cfg(feature = "remote")]
use super::jwks::KeySourceStats;
#[cfg(feature = "remote")]
use super::jwks::refresh::Reason;
#[cfg(feature = "remote")]
use super::source::SourceKind;
use super::verifier::Verifier;
use crate::gate::Answer;
use crate::principal::{Principal, VerifiedToken, unix_now};

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default cap on a token's length, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default cap on a token's encoded header segment, in bytes.
pub const DEFAULT_MAX_HEADER_LEN: usize = 2 * 1024;
/// Default number of verified tokens kept in the cache.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;

/// Verifies bearer tokens: signature, issuer, audience, expiry and the rest.
///
/// Every check is on by default and none reads its configuration from the token:
///
/// - the signature, with a key chosen by `kid` among the issuer's keys, each of which
///   carries the algorithms it may verify (the header's `alg` only selects among them;
///   `none` is never accepted; HMAC secrets and public keys never mix);
/// - `iss` present and exactly one of the configured issuers;
/// - `aud` present and sharing a value with that issuer's accepted audiences;
/// - `exp` required and in the future, `nbf` and `iat` not in the future, with an explicit
///   [leeway](ValidatorBuilder::leeway) (30 s by default); each a number of seconds between
///   1970 and the year 9999 (anything else, `1e300` included, is a malformed claim);
///   optionally a [maximum lifetime](ValidatorBuilder::max_token_lifetime);
/// - no `crit` header (meshward implements no JWS extension);
/// - optionally a `typ` (such as `at+jwt`, RFC 9068) and required claims;
/// - the token's length (8 KiB) and its header's (2 KiB).
///
/// A verified token is cached (found by a keyed hash, served only for the very same token,
/// never past its `exp`), so a token seen again costs a lookup, not a signature.
///
/// Cloning is cheap: clones share configuration and cache.
///
/// ```
/// use meshward::jwt::{Validator, VerifyingKey};
/// use std::time::Duration;
///
/// # let jwk = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let validator = Validator::builder("https://id.example.com", ["orders-api"])
///     .add_key(VerifyingKey::from_jwk_json(jwk)?.with_kid("2026-11"))
///     .leeway(Duration::from_secs(10))
///     .require_type("at+jwt")
///     .build()?;
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

/// The built configuration, the cache and the counters; read by `verify.rs` and
/// `lookup.rs`.
pub(super) struct Inner {
    pub(super) issuers: Vec<IssuerEntry>,
    /// Issuers found on demand, when a resolver is configured.
    pub(super) resolved: Option<self::resolve::Resolved>,
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) leeway: i64,
    /// The longest `exp - iat` accepted, in seconds, when configured.
    pub(super) max_lifetime: Option<i64>,
    pub(super) required_type: Option<String>,
    /// Whether this validator checks service tokens (`typ` `svc+jwt`) and nothing else; an
    /// ordinary validator refuses them.
    pub(super) service_tokens: bool,
    pub(super) required_claims: Vec<String>,
    pub(super) scope_claims: Vec<String>,
    pub(super) max_token_len: usize,
    pub(super) max_header_len: usize,
    pub(super) cache: Option<Arc<TokenCache>>,
    pub(super) counters: Counters,
}

/// The outcome of the synchronous part of a validation.
enum Step {
    Done(Result<Arc<VerifiedToken>, TokenError>),
    #[cfg(feature = "remote")]
    NeedsKeys(NeedsKeys),
}

pub(super) struct Counters {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    rejections: [AtomicU64; TokenErrorKind::LABELS.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            rejections: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Validator {
    /// Starts a validator for tokens from `issuer` meant for any of `audiences`.
    ///
    /// Add that issuer's keys with [`add_key`](ValidatorBuilder::add_key) and friends, and
    /// further issuers with [`add_issuer`](ValidatorBuilder::add_issuer).
    pub fn builder<A>(issuer: impl Into<String>, audiences: A) -> ValidatorBuilder
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        ValidatorBuilder::new(Issuer::new(issuer, audiences))
    }

    pub(super) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Verifies `token` and returns who it names. Awaits only when a remote key set must be
    /// fetched first.
    ///
    /// This sees the token only, not the connection: a certificate-bound token
    /// (`cnf.x5t#S256`, RFC 8705) is returned with
    /// [`Principal::certificate_thumbprint`] set, and it is yours to compare with the peer's
    /// certificate. [`AuthLayer`](super::AuthLayer) does that for you.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] saying why the token was refused.
    pub async fn validate(&self, token: &str) -> Result<Principal, TokenError> {
        match self.step(token, unix_now()) {
            Step::Done(result) => result.map(Principal::from_verified),
            #[cfg(feature = "remote")]
            Step::NeedsKeys(need) => self.finish(token, need).await.map(Principal::from_verified),
        }
    }

    /// Loads every remote key set now, for services that want to fail fast at start.
    /// Static keys need nothing.
    ///
    /// # Errors
    ///
    /// The first [`KeySourceError`] met.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub async fn warm_up(&self) -> Result<(), KeySourceError> {
        for issuer in &self.inner.issuers {
            if let SourceKind::Remote(remote) = &issuer.keys {
                remote.refresh(Reason::Scheduled, None).await?;
            }
        }
        Ok(())
    }

    /// Counters: verified-token cache hits and misses, rejections by reason, and each remote
    /// key source's fetches.
    pub fn stats(&self) -> ValidatorStats {
        let c = &self.inner.counters;
        ValidatorStats {
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            cache_misses: c.cache_misses.load(Ordering::Relaxed),
            rejections: TokenErrorKind::LABELS
                .iter()
                .zip(&c.rejections)
                .map(|(label, n)| (*label, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            #[cfg(feature = "remote")]
            key_sources: {
                let resolved = self
                    .inner
                    .resolved
                    .as_ref()
                    .map(|r| r.entries(true))
                    .unwrap_or_default();
                self.inner
                    .issuers
                    .iter()
                    .chain(resolved.iter().map(|e| &**e))
                    .filter_map(|i| match &i.keys {
                        SourceKind::Remote(r) => Some((i.issuer.clone(), KeySourceStats::of(r))),
                        SourceKind::Static(_) => None,
                    })
                    .collect()
            },
        }
    }

    /// The longest token accepted, in bytes.
    pub fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    /// The longest encoded header accepted, in bytes.
    pub(crate) fn max_header_len(&self) -> usize {
        self.inner.max_header_len
    }

    /// The synchronous part of a validation, for verifiers built on this one (service-token
    /// chains): a verified token, or why not, or `None` when remote keys must be fetched
    /// first (then [`validate_verified`](Self::validate_verified) finishes it).
    pub(crate) fn try_now(&self, token: &str) -> Option<Result<Arc<VerifiedToken>, TokenError>> {
        match self.step(token, unix_now()) {
            Step::Done(result) => Some(result),
            #[cfg(feature = "remote")]
            Step::NeedsKeys(_) => None,
        }
    }

    /// Changes whenever one of this validator's remote key sets is replaced (a fetch
    /// completed): what was verified before may no longer be, since a key may have gone.
    /// Constant for configured keys.
    pub(crate) fn key_generation(&self) -> u64 {
        #[cfg(feature = "remote")]
        {
            let generation = |issuer: &IssuerEntry| match &issuer.keys {
                SourceKind::Remote(remote) => remote.generation(),
                SourceKind::Static(_) => 0,
            };
            let resolved = self.inner.resolved.as_ref().map_or(0, |r| {
                r.entries(false)
                    .iter()
                    .map(|e| generation(e))
                    .fold(0, u64::wrapping_add)
            });
            self.inner
                .issuers
                .iter()
                .map(generation)
                .fold(resolved, u64::wrapping_add)
        }
        #[cfg(not(feature = "remote"))]
        0
    }

    /// A whole validation, waiting for keys when it must, yielding the verified token.
    pub(crate) async fn validate_verified(
        &self,
        token: &str,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        match self.step(token, unix_now()) {
            Step::Done(result) => result,
            #[cfg(feature = "remote")]
            Step::NeedsKeys(need) => self.finish(token, need).await,
        }
    }

    fn count_rejection(&self, error: &TokenError) {
        if let Some(counter) = self
            .inner
            .counters
            .rejections
            .get(error.kind().label_index())
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record<T>(&self, result: Result<T, TokenError>) -> Result<T, TokenError> {
        if let Err(e) = &result {
            self.count_rejection(e);
        }
        result
    }

    /// The synchronous part: the size cap, a cache hit, or a full check with the keys at
    /// hand.
    fn step(&self, token: &str, now: i64) -> Step {
        let inner = &*self.inner;
        if token.len() > inner.max_token_len {
            return Step::Done(
                self.record(Err(TokenErrorKind::TooLarge {
                    len: token.len(),
                    max: inner.max_token_len,
                }
                .into())),
            );
        }
        let key = inner
            .cache
            .as_ref()
            .map(|cache| (cache, cache.key(token.as_bytes())));
        if let Some((cache, key)) = &key {
            if let Some(hit) = cache.get(key, token.as_bytes()) {
                inner.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                if now >= hit.expires_at.saturating_add(inner.leeway) {
                    cache.remove(key);
                    return Step::Done(
                        self.record(Err(super::claims::expired(hit.expires_at, now).into())),
                    );
                }
                return Step::Done(Ok(hit));
            }
            inner.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
        match inner.verify(token, now, FetchPolicy::Allowed) {
            Ok((verified, version)) => Step::Done(Ok(self.remember(key, verified, &version, now))),
            Err(Failure::Token(e)) => Step::Done(self.record(Err(e))),
            #[cfg(feature = "remote")]
            Err(Failure::NeedsKeys(need)) => Step::NeedsKeys(need),
        }
    }

    /// Completes a validation that needed keys: fetch (or join the fetch under way), then
    /// verify once more without fetching again.
    #[cfg(feature = "remote")]
    async fn finish(&self, token: &str, need: NeedsKeys) -> Result<Arc<VerifiedToken>, TokenError> {
        let fetched = need.fetch().await.err();
        let now = unix_now();
        let inner = &*self.inner;
        let key = inner
            .cache
            .as_ref()
            .map(|cache| (cache, cache.key(token.as_bytes())));
        let result = match inner.verify(token, now, FetchPolicy::AfterFetch(fetched)) {
            Ok((verified, version)) => Ok(self.remember(key, verified, &version, now)),
            Err(Failure::Token(e)) => Err(e),
            Err(Failure::NeedsKeys(_)) => Err(TokenErrorKind::KeysUnavailable.into()),
        };
        self.record(result)
    }

    /// Caches a freshly verified token, unless it is not valid yet (nbf within the leeway) or
    /// its key set was replaced while it was being verified (the replacement may have removed
    /// its key, and dropped that key's tokens before this one was inserted).
    fn remember(
        &self,
        key: Option<(&Arc<TokenCache>, cache::TokenHash)>,
        verified: VerifiedToken,
        version: &KeySetVersion,
        now: i64,
    ) -> Arc<VerifiedToken> {
        let verified = Arc::new(verified);
        if let Some((cache, key)) = key
            && verified.not_before.is_none_or(|nbf| nbf <= now)
            && version.is_current()
        {
            let ttl = verified
                .expires_at
                .saturating_add(self.inner.leeway)
                .saturating_sub(now);
            let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
            cache.insert(key, Arc::clone(&verified), ttl);
        }
        verified
    }

    /// Test helper: the full synchronous path at a given time.
    #[cfg(test)]
    pub(crate) fn validate_at(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        match self.step(token, now) {
            Step::Done(result) => result,
            #[cfg(feature = "remote")]
            Step::NeedsKeys(_) => Err(TokenErrorKind::KeysUnavailable.into()),
        }
    }
}

/// The asynchronous finish of a validation that waits for a remote key set.
type Finish = Pin<Box<dyn Future<Output = Result<Principal, TokenError>> + Send + 'static>>;

impl Verifier for Validator {
    type Future = Finish;

    fn attempt(&self, token: &str) -> Answer<Result<Principal, TokenError>, Self::Future> {
        match self.step(token, unix_now()) {
            Step::Done(result) => Answer::Now(result.map(Principal::from_verified)),
            #[cfg(feature = "remote")]
            Step::NeedsKeys(need) => {
                let validator = self.clone();
                let token = token.to_owned();
                Answer::Later(Box::pin(async move {
                    validator
                        .finish(&token, need)
                        .await
                        .map(Principal::from_verified)
                }))
            }
        }
    }

    fn cached(&self, token: &[u8]) -> Option<Principal> {
        let inner = &*self.inner;
        let cache = inner.cache.as_ref()?;
        let hit = cache.get(&cache.key(token), token)?;
        // An expired entry is left to `attempt`, which refuses it and drops it.
        if unix_now() >= hit.expires_at.saturating_add(inner.leeway) {
            return None;
        }
        inner.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(Principal::from_verified(hit))
    }

    fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    fn record_rejection(&self, error: &TokenError) {
        self.count_rejection(error);
    }
}

/// Counters of a [`Validator`]; see [`Validator::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorStats {
    /// Tokens answered from the verified-token cache.
    pub cache_hits: u64,
    /// Tokens looked up in the cache and not found.
    pub cache_misses: u64,
    /// Refusals by reason (see [`TokenErrorKind::label`]); reasons never seen are left out.
    pub rejections: Vec<(&'static str, u64)>,
    /// Each remote key source, by issuer.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub key_sources: Vec<(String, KeySourceStats)>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Validator")
            .field(
                "issuers",
                &inner.issuers.iter().map(|i| &i.issuer).collect::<Vec<_>>(),
            )
            .field("leeway", &inner.leeway)
            .field("required_type", &inner.required_type)
            .field("required_claims", &inner.required_claims)
            .field("max_token_len", &inner.max_token_len)
            .field("token_cache", &inner.cache.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
