//! State shared by the instances of a service: one small trait, [`SharedState`], under the
//! quota layer's buckets and the service tokens' replay guard, with a bounded in-memory
//! default ([`InMemoryState`]) and, with the `redis` feature, a Redis backend
//! ([`RedisState`]).
//!
//! The trait has two operations on a key holding a `u64`: read it, and compare-and-set it
//! with a time to live. Everything shared is built from those, so a backend needs nothing
//! but an atomic compare-and-set; the decisions themselves (the rate limiter's GCRA, the
//! replay guard's "first use") run in this process.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[cfg(feature = "redis")]
mod redis;
mod replay;

pub(crate) use self::replay::{Guard, first_use_shared, replay_key};
pub use self::replay::{InMemoryReplayGuard, ReplayGuard, ReplayGuardError, ReplayGuardErrorKind};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{
    DEFAULT_COMMAND_TIMEOUT as DEFAULT_REDIS_TIMEOUT, RedisState, RedisStateBuilder,
};

crate::error::kinded_error! {
    /// A shared store could not answer: unreachable, too slow, or it answered something
    /// that is not a value of ours.
    pub struct StateError(StateErrorKind);
}

/// Why a shared store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// The store did not answer within its timeout.
    #[error("the shared store did not answer in time")]
    Timeout,
    /// The store cannot be reached, or refused the operation.
    #[error("the shared store is unavailable")]
    Unavailable,
    /// The store answered with something that is not a value this crate wrote.
    #[error("the shared store holds an unexpected value")]
    UnexpectedValue,
    /// The configuration (address, key prefix) is not usable.
    #[error("invalid shared-store configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The answer of [`SharedState::compare_and_set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Swap {
    /// The key held the expected value (or was absent, when `None` was expected) and now
    /// holds the new one.
    Done,
    /// The key held something else, left as it was: this value (`None`: absent).
    Conflict(Option<u64>),
}

/// The future every [`SharedState`] operation returns.
pub type StateFuture<T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'static>>;

/// A key-value store shared by the instances of a service, holding `u64`s under string
/// keys, each with a time to live.
///
/// Implement it to put the quota layer and the replay guard on another store; the two
/// operations must be atomic with respect to each other on the same key.
///
/// ```
/// use std::time::Duration;
/// use meshward::state::{InMemoryState, SharedState, Swap};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let state = InMemoryState::new(1_000);
/// let ttl = Duration::from_secs(60);
/// assert_eq!(state.compare_and_set("k", None, 7, ttl).await.unwrap(), Swap::Done);
/// assert_eq!(state.compare_and_set("k", None, 8, ttl).await.unwrap(), Swap::Conflict(Some(7)));
/// assert_eq!(state.get("k").await.unwrap(), Some(7));
/// # }
/// ```
pub trait SharedState: Send + Sync + 'static {
    /// The value under `key`, `None` when there is none (or it expired).
    fn get(&self, key: &str) -> StateFuture<Option<u64>>;

    /// Sets `key` to `new`, to expire after `ttl`, if it holds `expected` now (`None`:
    /// if it is absent); otherwise leaves it and says what it holds.
    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl: Duration,
    ) -> StateFuture<Swap>;

    /// A short name for logs and metrics (`memory`, `redis`).
    fn name(&self) -> &'static str;

    /// The store's synchronous side, for a store in this process's memory: the same two
    /// operations, answered without a future, so that a request decided through it waits
    /// for nothing and allocates nothing. `None` (the default) for a store that can only
    /// answer later.
    fn now(&self) -> Option<&dyn StateNow> {
        None
    }
}

/// The synchronous side of a [`SharedState`] that answers at once (see
/// [`SharedState::now`]): the same operations, the same atomicity.
pub trait StateNow: Send + Sync {
    /// As [`SharedState::get`].
    fn get_now(&self, key: &str) -> Option<u64>;

    /// As [`SharedState::compare_and_set`].
    fn compare_and_set_now(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl: Duration,
    ) -> Swap;
}

/// A [`SharedState`] in this process's memory, bounded by entry count: beyond its capacity
/// it forgets the least recently used keys (moka's policy), so a client cycling keys cannot
/// grow it.
#[derive(Clone)]
pub struct InMemoryState {
    entries: moka::sync::Cache<String, Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    value: u64,
    ttl: Duration,
}

struct EntryTtl;

impl moka::Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(
        &self,
        _: &String,
        entry: &Entry,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: std::time::Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

impl InMemoryState {
    /// Default number of keys kept.
    pub const DEFAULT_CAPACITY: u64 = 100_000;

    /// A store of at most `capacity` keys.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                // Least recently used, as documented: moka's default (TinyLFU) may refuse a
                // new key rather than forget an old one.
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .expire_after(EntryTtl)
                .build(),
        }
    }

    /// The number of keys held now.
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Whether no key is held now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The swap itself, synchronous: moka runs the comparison and the write under the key's
    /// lock.
    fn swap(&self, key: &str, expected: Option<u64>, new: u64, ttl: Duration) -> Swap {
        use moka::ops::compute::Op;
        let mut conflict = None;
        self.entries.entry_by_ref(key).and_compute_with(|current| {
            let current = current.map(|e| e.into_value().value);
            if current == expected {
                Op::Put(Entry { value: new, ttl })
            } else {
                conflict = Some(current);
                Op::Nop
            }
        });
        conflict.map_or(Swap::Done, Swap::Conflict)
    }
}

impl Default for InMemoryState {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for InMemoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryState")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl SharedState for InMemoryState {
    fn get(&self, key: &str) -> StateFuture<Option<u64>> {
        let value = self.entries.get(key).map(|e| e.value);
        Box::pin(std::future::ready(Ok(value)))
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl: Duration,
    ) -> StateFuture<Swap> {
        let swap = self.swap(key, expected, new, ttl);
        Box::pin(std::future::ready(Ok(swap)))
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn now(&self) -> Option<&dyn StateNow> {
        Some(self)
    }
}

impl StateNow for InMemoryState {
    fn get_now(&self, key: &str) -> Option<u64> {
        self.entries.get(key).map(|e| e.value)
    }

    fn compare_and_set_now(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl: Duration,
    ) -> Swap {
        self.swap(key, expected, new, ttl)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store that cannot answer.
    pub(crate) struct Down;

    impl SharedState for Down {
        fn get(&self, _: &str) -> StateFuture<Option<u64>> {
            Box::pin(async { Err(StateErrorKind::Unavailable.into()) })
        }
        fn compare_and_set(
            &self,
            _: &str,
            _: Option<u64>,
            _: u64,
            _: Duration,
        ) -> StateFuture<Swap> {
            Box::pin(async { Err(StateErrorKind::Timeout.into()) })
        }
        fn name(&self) -> &'static str {
            "down"
        }
    }

    #[test]
    fn the_synchronous_side_answers_as_the_store() {
        let state = InMemoryState::new(10);
        let now = state.now().expect("a store in memory answers at once");
        let ttl = Duration::from_secs(60);
        assert_eq!(now.get_now("k"), None);
        assert_eq!(now.compare_and_set_now("k", None, 7, ttl), Swap::Done);
        assert_eq!(now.get_now("k"), Some(7));
        assert_eq!(
            now.compare_and_set_now("k", Some(6), 8, ttl),
            Swap::Conflict(Some(7))
        );
        assert_eq!(now.get_now("k"), Some(7));
        assert!(Down.now().is_none(), "a remote store has none");
    }

    #[test]
    fn the_memory_store_counts_its_keys_and_names_itself() {
        let state = InMemoryState::new(10);
        assert!(state.is_empty());
        assert_eq!(state.len(), 0);
        for key in ["a", "b", "c"] {
            state.swap(key, None, 1, Duration::from_secs(60));
        }
        assert_eq!(state.len(), 3);
        assert!(!state.is_empty());
        assert_eq!(state.name(), "memory");
    }

    #[test]
    fn an_update_takes_the_new_ttl() {
        let state = InMemoryState::new(10);
        assert_eq!(
            state.swap("u", None, 1, Duration::from_secs(60)),
            Swap::Done
        );
        assert_eq!(
            state.swap("u", Some(1), 2, Duration::from_millis(100)),
            Swap::Done
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            state.entries.get("u").is_none(),
            "expired on the updated ttl"
        );
    }

    #[test]
    fn compare_and_set_swaps_only_the_expected_value() {
        let state = InMemoryState::new(10);
        let ttl = Duration::from_secs(60);
        assert_eq!(state.swap("a", Some(1), 2, ttl), Swap::Conflict(None));
        assert_eq!(state.swap("a", None, 1, ttl), Swap::Done);
        assert_eq!(state.swap("a", None, 5, ttl), Swap::Conflict(Some(1)));
        assert_eq!(state.swap("a", Some(3), 5, ttl), Swap::Conflict(Some(1)));
        assert_eq!(state.swap("a", Some(1), 2, ttl), Swap::Done);
        assert_eq!(state.entries.get("a").map(|e| e.value), Some(2));
        // Keys are independent.
        assert_eq!(state.swap("b", None, 9, ttl), Swap::Done);
        assert_eq!(state.entries.get("a").map(|e| e.value), Some(2));
    }

    #[test]
    fn entries_expire_after_their_ttl_and_the_key_count_is_bounded() {
        let state = InMemoryState::new(10);
        assert_eq!(
            state.swap("short", None, 1, Duration::from_millis(100)),
            Swap::Done
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(state.entries.get("short").is_none());
        assert_eq!(
            state.swap("short", None, 2, Duration::from_secs(60)),
            Swap::Done
        );
        for i in 0..1_000 {
            state.swap(&format!("k{i}"), None, i, Duration::from_secs(60));
        }
        state.entries.run_pending_tasks();
        assert!(state.entries.entry_count() <= 10);
    }
}
