//! The [`TokenExchange`]: an outbound [`TokenSource`] that exchanges the caller's token at a
//! security token service, caching each issued token until shortly before it expires.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{Context, SHA256};
use http::HeaderValue;
use reqwest::Url;

use super::builder::TokenExchangeBuilder;
use super::error::ExchangeError;
use super::request::{self, Issued, TargetParameter};
use crate::flight::SingleFlight;
use crate::mint::source::sealed::{Call, Obtained, Sealed};
use crate::mint::{MintError, MintErrorKind, TokenSource};
use crate::oauth::Server;
use crate::principal::Principal;

/// The cache key of an exchange: a SHA-256 of the subject token, audience and scopes.
type Key = [u8; 32];

/// Exchanges the token a service received for a token addressed to the service it calls,
/// at a security token service (OAuth 2.0 Token Exchange, RFC 8693): the outbound side of
/// "one STS signs", for [`MintLayer::from_source`](crate::mint::MintLayer::from_source).
///
/// For each outbound request it takes the [`Principal`] in the request's extensions, POSTs
/// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` with the principal's token
/// as `subject_token` (an access token), the target as `audience` (or `resource`), the
/// narrowed scopes as `scope` when the layer narrows them (the principal's scopes among
/// those named, never wider), authenticated as this service's
/// client (`client_secret_basic` or `private_key_jwt`), and puts the issued token on the
/// request. Issued tokens are reused per (subject token, audience, scopes) until a quarter
/// of their life is left (at least 5 s before they expire), bounded in number; concurrent
/// calls for the same one share one exchange.
///
/// When the service refuses, cannot be reached, answers late, too long or malformed, the
/// outbound call fails with a [`MintError`] of kind `Exchange` (its source an
/// [`ExchangeError`] saying which) and nothing is sent.
///
/// ```
/// use meshward::exchange::TokenExchange;
/// use meshward::mint::MintLayer;
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let sts = TokenExchange::builder("https://sts.example.com")
///     .client_secret_basic("orders", "its secret")
///     .build()?; // the token endpoint is found by discovery, at first use
/// let layer = MintLayer::from_source(sts, "https://inventory.example.com");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenExchange {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) server: Server,
    pub(super) target: TargetParameter,
    pub(super) issued: Option<moka::sync::Cache<Key, Reusable>>,
    pub(super) flights: SingleFlight<Key, Result<HeaderValue, ExchangeError>>,
    pub(super) counters: Counters,
}

/// An issued token and until when it is reused.
#[derive(Clone)]
pub(super) struct Reusable {
    authorization: HeaderValue,
    until: Instant,
}

/// Expires each cached token at its own time.
pub(super) struct UntilRenewal;

impl moka::Expiry<Key, Reusable> for UntilRenewal {
    fn expire_after_create(&self, _: &Key, token: &Reusable, now: Instant) -> Option<Duration> {
        Some(token.until.saturating_duration_since(now))
    }
}

#[derive(Default)]
pub(super) struct Counters {
    exchanges: AtomicU64,
    cache_hits: AtomicU64,
    failures: AtomicU64,
}

/// What a [`TokenExchange`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExchangeStats {
    /// Requests sent to the token endpoint.
    pub exchanges: u64,
    /// Tokens reused from the cache, without a request.
    pub cache_hits: u64,
    /// Exchanges that issued no token.
    pub failures: u64,
}

/// How long an issued token is reused: until a quarter of its life is left, and at least
/// five seconds before it expires (not at all if it lives less).
fn reuse_for(expires_in: Duration) -> Duration {
    let keep = expires_in / 4;
    expires_in.saturating_sub(keep.max(Duration::from_secs(5)))
}

impl TokenExchange {
    /// Starts an exchange at the security token service whose issuer identifier is
    /// `issuer` (its token endpoint found by discovery unless
    /// [`token_endpoint`](TokenExchangeBuilder::token_endpoint) is given).
    pub fn builder(issuer: impl Into<String>) -> TokenExchangeBuilder {
        TokenExchangeBuilder::new(issuer.into())
    }

    pub(super) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Exchanges `principal`'s token for one addressed to `audience`, with `scopes` when
    /// given (else the service decides), reusing a cached one.
    ///
    /// # Errors
    ///
    /// [`ExchangeError`]: refused, unreachable, late, oversized or malformed.
    pub async fn exchange(
        &self,
        principal: &Principal,
        audience: &str,
        scopes: Option<&[String]>,
    ) -> Result<HeaderValue, ExchangeError> {
        let scope = scopes.map(|s| s.join(" "));
        let key = key_of(principal.token(), audience, scope.as_deref());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        self.fetch(
            key,
            principal.token().to_owned(),
            audience.to_owned(),
            scope,
        )
        .await
    }

    /// Finds the token endpoint now (when it is to be discovered).
    ///
    /// # Errors
    ///
    /// [`ExchangeError`] when discovery fails; the first call tries again.
    pub async fn warm_up(&self) -> Result<(), ExchangeError> {
        self.endpoint().await.map(|_| ())
    }

    /// What it has done so far.
    pub fn stats(&self) -> ExchangeStats {
        let c = &self.inner.counters;
        ExchangeStats {
            exchanges: c.exchanges.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
        }
    }

    fn cached(&self, key: &Key) -> Option<HeaderValue> {
        let hit = self.inner.issued.as_ref()?.get(key)?;
        if hit.until <= Instant::now() {
            return None;
        }
        self.inner
            .counters
            .cache_hits
            .fetch_add(1, Ordering::Relaxed);
        Some(hit.authorization)
    }

    async fn endpoint(&self) -> Result<&Url, ExchangeError> {
        Ok(self.inner.server.url().await?)
    }

    /// One exchange for every call that needs `key` meanwhile.
    async fn fetch(
        &self,
        key: Key,
        subject_token: String,
        audience: String,
        scope: Option<String>,
    ) -> Result<HeaderValue, ExchangeError> {
        self.inner
            .flights
            .run(key, || {
                self.ask(key, &subject_token, &audience, scope.as_deref())
            })
            .await
    }

    async fn ask(
        &self,
        key: Key,
        subject_token: &str,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<HeaderValue, ExchangeError> {
        let inner = &*self.inner;
        let result = async {
            let url = self.endpoint().await?;
            inner.counters.exchanges.fetch_add(1, Ordering::Relaxed);
            let endpoint = inner.server.endpoint(url);
            request::exchange(&endpoint, subject_token, (inner.target, audience), scope).await
        }
        .await;
        match result {
            Ok(Issued {
                authorization,
                expires_in,
            }) => {
                let reuse = reuse_for(expires_in);
                if let Some(issued) = &inner.issued
                    && !reuse.is_zero()
                {
                    issued.insert(
                        key,
                        Reusable {
                            authorization: authorization.clone(),
                            until: Instant::now() + reuse,
                        },
                    );
                }
                Ok(authorization)
            }
            Err(error) => {
                inner.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "meshward::exchange",
                    %error,
                    audience,
                    "token exchange failed: the outbound call is not sent"
                );
                Err(error)
            }
        }
    }
}

/// The cache key: the subject token, the audience and the scope, each length-prefixed.
fn key_of(subject_token: &str, audience: &str, scope: Option<&str>) -> Key {
    let mut context = Context::new(&SHA256);
    for part in [Some(subject_token), Some(audience), scope] {
        match part {
            Some(part) => {
                context.update(&(part.len() as u64).to_be_bytes());
                context.update(part.as_bytes());
            }
            None => context.update(&u64::MAX.to_be_bytes()),
        }
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

fn as_mint_error(error: ExchangeError) -> MintError {
    MintError::with_source(MintErrorKind::Exchange, error)
}

impl Sealed for TokenExchange {
    fn obtain(&self, call: &Call<'_>) -> Obtained {
        let Some(principal) = call.principal else {
            // Exchanging needs a token to exchange; a service acting for itself signs its
            // own (`MintLayer::new`).
            return Obtained::Ready(Err(MintErrorKind::NoPrincipal.into()));
        };
        // Narrowing keeps the principal's scopes that are among those named: never wider.
        let scope = call.narrowed.map(|wanted| {
            principal
                .scopes()
                .iter()
                .filter(|held| wanted.iter().any(|w| w == held))
                .collect::<Vec<_>>()
                .join(" ")
        });
        let key = key_of(principal.token(), call.audience, scope.as_deref());
        if let Some(hit) = self.cached(&key) {
            return Obtained::Ready(Ok(hit));
        }
        let this = self.clone();
        let subject_token = principal.token().to_owned();
        let audience = call.audience.to_owned();
        Obtained::Pending(Box::pin(async move {
            this.fetch(key, subject_token, audience, scope)
                .await
                .map_err(as_mint_error)
        }))
    }
}

impl TokenSource for TokenExchange {}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("TokenExchange")
            .field("issuer", &inner.server.issuer)
            .field("endpoint", &inner.server.configured().map(Url::as_str))
            .field("client_id", &inner.server.auth.client_id())
            .field("target", &inner.target)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_reused_for_three_quarters_of_their_life_and_never_near_expiry() {
        assert_eq!(
            reuse_for(Duration::from_secs(300)),
            Duration::from_secs(225)
        );
        assert_eq!(reuse_for(Duration::from_secs(40)), Duration::from_secs(30));
        assert_eq!(reuse_for(Duration::from_secs(8)), Duration::from_secs(3));
        assert_eq!(reuse_for(Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(reuse_for(Duration::from_secs(1)), Duration::ZERO);
    }

    #[test]
    fn keys_separate_token_audience_and_scope() {
        let k = key_of("t", "a", None);
        assert_eq!(k, key_of("t", "a", None));
        assert_ne!(k, key_of("t", "a", Some("")));
        assert_ne!(key_of("ta", "", None), key_of("t", "a", None));
        assert_ne!(key_of("t", "a", Some("x y")), key_of("t", "a", Some("x")));
    }

    #[test]
    fn an_issued_token_leaves_the_cache_at_its_renewal_time() {
        use moka::Expiry as _;
        let now = Instant::now();
        let token = Reusable {
            authorization: HeaderValue::from_static("Bearer x"),
            until: now + Duration::from_secs(30),
        };
        let key = key_of("t", "a", None);
        assert_eq!(
            UntilRenewal.expire_after_create(&key, &token, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            UntilRenewal.expire_after_create(&key, &token, now + Duration::from_secs(60)),
            Some(Duration::ZERO)
        );
    }
}
