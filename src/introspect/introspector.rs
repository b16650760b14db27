//! The [`Introspector`]: a [`Verifier`] that asks the token's issuer about opaque tokens,
//! caches the answer, and hands JWS-shaped tokens to a [`Validator`] when one is given.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use reqwest::Url;

use super::builder::IntrospectorBuilder;
use super::error::IntrospectionError;
use super::request;
use super::response::{self, Checks, Verdict};
use crate::flight::SingleFlight;
use crate::gate;
use crate::jwt::{TokenError, TokenErrorKind, Validator, Verifier};
use crate::oauth::Server;
use crate::principal::{Principal, VerifiedToken, unix_now};

/// The cache key of a token: its SHA-256 (a collision would need a second preimage).
type TokenHash = [u8; 32];

/// Verifies opaque bearer tokens by asking their issuer (OAuth 2.0 Token Introspection,
/// RFC 7662), for an [`AuthLayer`](crate::jwt::AuthLayer) beside or instead of JWT
/// validation.
///
/// For each token it has no answer for, it POSTs the token to the introspection endpoint
/// (configured, or found by discovery from the issuer), authenticated as this resource
/// server's client (`client_secret_basic` or `private_key_jwt`). An answer whose `active`
/// is `true` is then checked as the [`Validator`] checks a JWT: `iss` (when present) is the
/// issuer, `exp` is required and not past, `nbf` and `iat` not in the future (with the
/// leeway), `aud` names one of the audiences, `token_type` (when present) is `Bearer`; the
/// scopes come from `scope`. The [`Principal`] is the same type, with the same accessors;
/// its claims are the answer's members, and
/// [`is_introspected`](Principal::is_introspected) says how it was verified.
///
/// - Inactive, or active but failing a check: 401 `invalid_token` (label `inactive` or the
///   check's).
/// - The endpoint unreachable, slow, answering an error status (a client it refuses gets
///   401 there) or a malformed or oversized body: 503 (gRPC `UNAVAILABLE`), never 401.
///
/// Answers are cached under the token's SHA-256: an active one until the token's `exp` or
/// the [cache ceiling](IntrospectorBuilder::cache_ceiling), whichever comes first (a
/// revoked token is admitted until then); an inactive one for the
/// [negative cache's](IntrospectorBuilder::negative_cache) time. Failures are not cached.
/// Concurrent requests with the same token share one introspection (single flight).
///
/// With a [`Validator`] ([`IntrospectorBuilder::jwt`]), a token shaped as a compact JWS (three
/// dot-separated parts whose first is a JSON object) is validated as a JWT, and only others
/// are introspected.
///
/// ```
/// use meshward::introspect::Introspector;
/// use meshward::jwt::AuthLayer;
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let introspector = Introspector::builder("https://idp.example.com", ["orders-api"])
///     .client_secret_basic("orders-api", "its secret")
///     .build()?; // the endpoint is found by discovery, at first use
/// let layer = AuthLayer::new(introspector);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) checks: Checks,
    pub(super) server: Server,
    pub(super) max_token_len: usize,
    pub(super) answers: Option<moka::sync::Cache<TokenHash, Answer>>,
    pub(super) ceiling: Duration,
    pub(super) negative_ttl: Duration,
    pub(super) flights: SingleFlight<TokenHash, Result<Answer, IntrospectionError>>,
    pub(super) jwt: Option<Validator>,
    pub(super) counters: Counters,
}

/// An answer as cached: the verified token, or "not active", and until when it holds.
#[derive(Clone)]
pub(super) struct Answer {
    token: Option<Arc<VerifiedToken>>,
    refusal: Option<TokenErrorKind>,
    until: Instant,
}

/// Expires each cached answer at its own time.
pub(super) struct UntilExpiry;

impl moka::Expiry<TokenHash, Answer> for UntilExpiry {
    fn expire_after_create(
        &self,
        _: &TokenHash,
        answer: &Answer,
        now: Instant,
    ) -> Option<Duration> {
        Some(answer.until.saturating_duration_since(now))
    }
}

#[derive(Default)]
pub(super) struct Counters {
    introspections: AtomicU64,
    cache_hits: AtomicU64,
    inactive: AtomicU64,
    failures: AtomicU64,
}

/// What an [`Introspector`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IntrospectionStats {
    /// Requests sent to the introspection endpoint.
    pub introspections: u64,
    /// Tokens answered from the cache, without a request.
    pub cache_hits: u64,
    /// Answers that said "not active".
    pub inactive: u64,
    /// Introspections that gave no usable answer (each refused with 503).
    pub failures: u64,
}

impl Introspector {
    /// Starts an introspector for the tokens of `issuer` meant for one of `audiences`.
    pub fn builder<I, A>(issuer: impl Into<String>, audiences: I) -> IntrospectorBuilder
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        IntrospectorBuilder::new(
            issuer.into(),
            audiences.into_iter().map(Into::into).collect(),
        )
    }

    pub(super) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Checks `token` and returns who it names: from the cache, by validation when it is a
    /// JWT and a [`Validator`] was given, else by asking the endpoint.
    ///
    /// # Errors
    ///
    /// A [`TokenError`]: `Inactive` and the claim checks' kinds (401),
    /// `IntrospectionUnavailable` (503) with an [`IntrospectionError`] as its source.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        match self.attempt(token) {
            gate::Answer::Now(result) => result,
            gate::Answer::Later(future) => future.await,
        }
    }

    /// Finds the endpoint now (when it is to be discovered) so that the first request does
    /// not wait for it.
    ///
    /// # Errors
    ///
    /// [`IntrospectionError`] when discovery fails; the first request tries again.
    pub async fn warm_up(&self) -> Result<(), IntrospectionError> {
        self.endpoint().await.map(|_| ())
    }

    /// What it has done so far.
    pub fn stats(&self) -> IntrospectionStats {
        let c = &self.inner.counters;
        IntrospectionStats {
            introspections: c.introspections.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            inactive: c.inactive.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
        }
    }

    async fn endpoint(&self) -> Result<&Url, IntrospectionError> {
        Ok(self.inner.server.url().await?)
    }

    /// The cached answer for `hash`, if any still holds (not counted as a hit: the caller
    /// counts the answers it uses).
    fn lookup(&self, hash: &TokenHash) -> Option<Result<Principal, TokenError>> {
        let answer = self.inner.answers.as_ref()?.get(hash)?;
        self.conclude(answer)
    }

    fn count_hit(&self) {
        self.inner
            .counters
            .cache_hits
            .fetch_add(1, Ordering::Relaxed);
    }

    /// An answer as a result; `None` for an active token whose `exp` has passed meanwhile
    /// (the entry is stale: ask again).
    fn conclude(&self, answer: Answer) -> Option<Result<Principal, TokenError>> {
        match (answer.token, answer.refusal) {
            (Some(token), _) if unix_now() < token.expires_at => {
                Some(Ok(Principal::from_verified(token)))
            }
            (Some(_), _) => None,
            (None, refusal) => Some(Err(refusal.unwrap_or(TokenErrorKind::Inactive).into())),
        }
    }

    /// Asks the endpoint, once for every request that carries `token` meanwhile.
    async fn introspect(&self, token: &str, hash: TokenHash) -> Result<Principal, TokenError> {
        let outcome = self.inner.flights.run(hash, || self.ask(token, hash)).await;
        match outcome {
            Ok(answer) => self
                .conclude(answer)
                .unwrap_or_else(|| Err(TokenErrorKind::Inactive.into())),
            Err(error) => Err(TokenError::with_source(
                TokenErrorKind::IntrospectionUnavailable,
                error,
            )),
        }
    }

    /// One request to the endpoint, its answer checked and cached.
    async fn ask(&self, token: &str, hash: TokenHash) -> Result<Answer, IntrospectionError> {
        let inner = &*self.inner;
        let result = async {
            let url = self.endpoint().await?;
            inner
                .counters
                .introspections
                .fetch_add(1, Ordering::Relaxed);
            let endpoint = inner.server.endpoint(url);
            let body = request::introspect(&endpoint, token).await?;
            response::parse(&body)
        }
        .await;
        let parsed = match result {
            Ok(parsed) => parsed,
            Err(error) => {
                inner.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "meshward::introspect",
                    %error,
                    source = ?std::error::Error::source(&error).map(ToString::to_string),
                    "token introspection failed: the request is refused with 503"
                );
                return Err(error);
            }
        };
        let now = Instant::now();
        let answer = match response::check(&inner.checks, parsed, token, unix_now()) {
            Ok(Verdict::Active(verified)) => {
                // To the instant of `exp`, not the second: the entry is gone when it passes.
                let left = crate::principal::unix_time(verified.expires_at)
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                Answer {
                    until: now + left.min(inner.ceiling),
                    token: Some(verified),
                    refusal: None,
                }
            }
            Ok(Verdict::Inactive) => {
                inner.counters.inactive.fetch_add(1, Ordering::Relaxed);
                Answer {
                    token: None,
                    refusal: None,
                    until: now + inner.negative_ttl,
                }
            }
            // Active but refused here (another audience, expired): as final as inactive.
            Err(kind) => Answer {
                token: None,
                refusal: Some(kind),
                until: now + inner.negative_ttl,
            },
        };
        if let Some(answers) = &inner.answers
            && answer.until > now
        {
            answers.insert(hash, answer.clone());
        }
        Ok(answer)
    }
}

/// Whether `token` is shaped as a compact JWS: three parts, the first a base64url JSON
/// object (a JWS header). Opaque tokens are anything else.
fn looks_like_jws(token: &str) -> bool {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).ok()
        })
        .is_some()
}

fn hash_of(token: &[u8]) -> TokenHash {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest(&SHA256, token).as_ref());
    hash
}

/// The asynchronous finish of a check that waits (for the endpoint, or for keys).
type Finish = Pin<Box<dyn Future<Output = Result<Principal, TokenError>> + Send + 'static>>;

impl crate::jwt::verifier::sealed::Sealed for Introspector {}

impl Verifier for Introspector {
    type Future = Finish;

    fn attempt(&self, token: &str) -> gate::Answer<Result<Principal, TokenError>, Self::Future> {
        if token.len() > self.inner.max_token_len {
            return gate::Answer::Now(Err(TokenErrorKind::TooLarge {
                len: token.len(),
                max: self.inner.max_token_len,
            }
            .into()));
        }
        if let Some(validator) = &self.inner.jwt
            && looks_like_jws(token)
        {
            return match validator.attempt(token) {
                gate::Answer::Now(result) => gate::Answer::Now(result),
                gate::Answer::Later(future) => gate::Answer::Later(Box::pin(future)),
            };
        }
        let hash = hash_of(token.as_bytes());
        if let Some(result) = self.lookup(&hash) {
            self.count_hit();
            return gate::Answer::Now(result);
        }
        let this = self.clone();
        let token = token.to_owned();
        gate::Answer::Later(Box::pin(async move { this.introspect(&token, hash).await }))
    }

    fn cached(&self, token: &[u8]) -> Option<Principal> {
        if let Some(validator) = &self.inner.jwt
            && let Some(principal) = validator.cached(token)
        {
            return Some(principal);
        }
        if token.len() > self.inner.max_token_len {
            return None;
        }
        match self.lookup(&hash_of(token))? {
            Ok(principal) => {
                self.count_hit();
                Some(principal)
            }
            // A cached refusal is decided in `attempt`, with its reason.
            Err(_) => None,
        }
    }

    fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    fn record_rejection(&self, error: &TokenError) {
        if let Some(validator) = &self.inner.jwt {
            validator.record_rejection(error);
        }
    }
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Introspector")
            .field("issuer", &inner.checks.issuer)
            .field("audiences", &inner.checks.audiences)
            .field("endpoint", &inner.server.configured().map(Url::as_str))
            .field("client_id", &inner.server.auth.client_id())
            .field("jwt", &inner.jwt.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_parts_with_a_json_header_look_like_a_jws() {
        let header = "eyJhbGciOiJFUzI1NiJ9"; // {"alg":"ES256"}
        assert!(looks_like_jws(&format!("{header}.e30.c2ln")));
        assert!(!looks_like_jws(&format!("{header}.e30")));
        assert!(!looks_like_jws(&format!("{header}.e30.c2ln.x")));
        assert!(!looks_like_jws("opaque-token-value"));
        assert!(!looks_like_jws("a.b.c"));
        assert!(!looks_like_jws("WzFd.e30.c2ln")); // [1]: JSON, not an object
    }
}
