//! Refusing a token presented twice: the [`ReplayGuard`] trait and its bounded in-memory
//! default, and the same "first use" on a [`SharedState`] for many instances. Service
//! tokens use it today; any token kind with a `jti` that must be good once can.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{SharedState, StateError, Swap};
use crate::error::kinded_error;
use crate::principal::{unix_now, unix_time};

kinded_error! {
    /// A [`ReplayGuard`] could not answer (its store is unreachable); the verifier then
    /// refuses the token (503).
    pub struct ReplayGuardError(ReplayGuardErrorKind);
}

/// The kinds of [`ReplayGuardError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayGuardErrorKind {
    /// The guard's store could not be reached or did not answer in time.
    #[error("the replay guard's store is unavailable")]
    Unavailable,
}

/// Remembers the `jti` of each token it has admitted (service tokens, with
/// [`ServiceTokenVerifierBuilder::replay_guard`](crate::mint::ServiceTokenVerifierBuilder::replay_guard)),
/// until that token expires, so that the same token presented again is refused.
///
/// [`InMemoryReplayGuard`] remembers within one process; a shared store (one guard for many
/// instances of a service) implements the same trait.
///
/// # Interplay with token reuse
///
/// A signer reuses a minted token for several calls to the same audience (see
/// [`ServiceSignerBuilder::minted_token_cache`](crate::mint::ServiceSignerBuilder::minted_token_cache)):
/// services that call a receiver with a replay guard must turn that reuse off, or their
/// second call is a replay.
pub trait ReplayGuard: Send + Sync + 'static {
    /// Records that `jti` was used, remembering it until `expires_at`.
    ///
    /// # Errors
    ///
    /// [`ReplayGuardError`] when the guard cannot answer; the token is then refused (503),
    /// never admitted unchecked.
    fn first_use(&self, jti: &str, expires_at: SystemTime) -> Result<bool, ReplayGuardError>;
}

/// A [`ReplayGuard`] in this process's memory: bounded by entry count (default 100 000),
/// each `jti` kept until its token expires.
///
/// # Security
///
/// Beyond its capacity it forgets the least recently used entries, and a forgotten token can
/// be replayed until it expires: size it to (calls per second) × (token lifetime).
pub struct InMemoryReplayGuard {
    seen: moka::sync::Cache<Box<str>, Instant>,
}

struct UntilExpiry;

impl moka::Expiry<Box<str>, Instant> for UntilExpiry {
    fn expire_after_create(&self, _: &Box<str>, until: &Instant, now: Instant) -> Option<Duration> {
        Some(until.saturating_duration_since(now))
    }
}

impl InMemoryReplayGuard {
    /// Default number of `jti`s remembered.
    pub const DEFAULT_CAPACITY: u64 = 100_000;

    /// A guard remembering up to `capacity` tokens.
    pub fn new(capacity: u64) -> Self {
        Self {
            seen: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        }
    }
}

impl Default for InMemoryReplayGuard {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

/// How long a `jti` is remembered: until a minute past `expires_at` (a receiver's leeway
/// still admits the token then), at most a day.
pub(crate) fn remember_until(expires_at: SystemTime) -> Duration {
    let left = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        + Duration::from_secs(60);
    left.min(Duration::from_secs(24 * 60 * 60))
}

impl ReplayGuard for InMemoryReplayGuard {
    fn first_use(&self, jti: &str, expires_at: SystemTime) -> Result<bool, ReplayGuardError> {
        let until = Instant::now() + remember_until(expires_at);
        let entry = self.seen.entry(jti.into()).or_insert(until);
        Ok(entry.is_fresh())
    }
}

/// Where the `jti`s seen are remembered.
#[derive(Clone)]
pub(crate) enum Guard {
    /// Asked without waiting (in this process).
    Local(Arc<dyn ReplayGuard>),
    /// A store shared by the instances of this service, asked with a wait.
    Shared(Arc<dyn SharedState>),
}

/// The shared replay guard's key for a token: `replay:` and a SHA-256 of its issuer and
/// `jti` (a `jti` is unique per issuer; hashing bounds the key's length).
pub(crate) fn replay_key(issuer: &str, jti: &str) -> String {
    use aws_lc_rs::digest::{Context, SHA256};
    use base64::Engine as _;
    let mut context = Context::new(&SHA256);
    context.update(issuer.as_bytes());
    context.update(&[0]);
    context.update(jti.as_bytes());
    let mut key = String::from("replay:");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_string(context.finish().as_ref(), &mut key);
    key
}

/// Records `key` in `store` if it is not there: `Ok(true)` the first time, `Ok(false)`
/// after; when the store cannot answer, the error (the caller refuses the token, never
/// admits it unchecked), with a warning at most once a second (`warned` holds the second of
/// the last one).
pub(crate) async fn first_use_shared(
    store: &dyn SharedState,
    warned: &AtomicI64,
    key: &str,
    expires_at: i64,
) -> Result<bool, StateError> {
    let ttl = remember_until(unix_time(expires_at));
    match store.compare_and_set(key, None, 1, ttl).await {
        Ok(Swap::Done) => Ok(true),
        Ok(_) => Ok(false),
        Err(error) => {
            let second = unix_now();
            if warned.swap(second, Ordering::Relaxed) != second {
                tracing::warn!(
                    target: "meshward::state",
                    store = store.name(),
                    %error,
                    "the replay guard's store cannot answer: the tokens it guards are refused (503)"
                );
            }
            Err(error)
        }
    }
}

impl fmt::Debug for InMemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryReplayGuard")
            .field("entries", &self.seen.entry_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::Down;
    use moka::Expiry as _;

    #[test]
    fn a_jti_is_fresh_once() {
        let guard = InMemoryReplayGuard::default();
        let exp = SystemTime::now() + Duration::from_secs(60);
        assert!(guard.first_use("a", exp).unwrap());
        assert!(!guard.first_use("a", exp).unwrap());
        assert!(guard.first_use("b", exp).unwrap());
    }

    #[test]
    fn shared_keys_separate_issuers_and_are_bounded() {
        assert_ne!(replay_key("a", "bc"), replay_key("ab", "c"));
        assert_eq!(replay_key("a", "b"), replay_key("a", "b"));
        let long = "x".repeat(10_000);
        assert_eq!(replay_key(&long, &long).len(), "replay:".len() + 43);
    }

    #[tokio::test]
    async fn a_shared_store_admits_once_and_fails_closed() {
        let exp = unix_now() + 60;
        let warned = AtomicI64::new(0);
        let store = crate::state::InMemoryState::new(10);
        assert!(first_use_shared(&store, &warned, "k", exp).await.unwrap());
        assert!(!first_use_shared(&store, &warned, "k", exp).await.unwrap());
        assert!(first_use_shared(&Down, &warned, "k", exp).await.is_err());
        assert!(warned.load(Ordering::Relaxed) >= exp - 60, "warned");
    }

    #[test]
    fn the_first_failure_of_the_store_is_a_warning() {
        let warned = AtomicI64::new(0);
        let exp = unix_now() + 60;
        let (down, events) = crate::tests::capture_async(
            "meshward::state",
            first_use_shared(&Down, &warned, "k", exp),
        );
        assert!(down.is_err());
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].level, tracing::Level::WARN);
        assert_eq!(events[0].get("store"), Some("down"));
    }

    #[test]
    fn a_jti_is_kept_until_its_own_time() {
        let now = Instant::now();
        let until = now + Duration::from_secs(10);
        assert_eq!(
            UntilExpiry.expire_after_create(&"j".into(), &until, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            UntilExpiry.expire_after_create(&"j".into(), &now, until),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_jti_is_remembered_a_minute_past_exp_and_at_most_a_day() {
        let now = SystemTime::now();
        let left = remember_until(now + Duration::from_secs(120));
        assert!(left > Duration::from_secs(179) && left <= Duration::from_secs(180));
        assert_eq!(
            remember_until(now - Duration::from_secs(600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            remember_until(now + Duration::from_secs(7 * 24 * 3600)),
            Duration::from_secs(24 * 3600)
        );
    }
}
