//! Refusing a service token presented twice: the [`ReplayGuard`] trait and its bounded
//! in-memory default.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use super::error::ReplayGuardError;

/// Remembers the `jti` of each service token it has admitted, until that token expires, so
/// that the same token presented again is refused.
///
/// [`InMemoryReplayGuard`] remembers within one process; a shared store (one guard for many
/// instances of a service) implements the same trait.
///
/// # Interplay with token reuse
///
/// A signer reuses a minted token for several calls to the same audience (see
/// [`ServiceSignerBuilder::minted_token_cache`](super::ServiceSignerBuilder::minted_token_cache)):
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
pub(super) fn remember_until(expires_at: SystemTime) -> Duration {
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

    #[test]
    fn a_jti_is_fresh_once() {
        let guard = InMemoryReplayGuard::default();
        let exp = SystemTime::now() + Duration::from_secs(60);
        assert!(guard.first_use("a", exp).unwrap());
        assert!(!guard.first_use("a", exp).unwrap());
        assert!(guard.first_use("b", exp).unwrap());
    }
}
