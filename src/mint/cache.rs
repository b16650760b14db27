//! Whole chains verified before: a service token seen again costs a hash, a lookup and a
//! comparison, not one check per level.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::quality::RandomState;
use moka::Expiry;
use moka::sync::Cache;

use crate::jwt::cache::locate;
use crate::principal::Principal;

/// No entry lives longer than this (service tokens live minutes).
const MAX_TTL: Duration = Duration::from_secs(60 * 60);

/// The key generations of the validators a chain was checked with (the services', the end
/// users'): when either moves, a key set was replaced and a key may be gone.
pub(super) type Generations = (u64, u64);

struct Cached {
    principal: Principal,
    /// The earliest `exp` of the chain's levels.
    expires_at: i64,
    generations: Generations,
    ttl: Duration,
}

struct UntilExpiry;

impl Expiry<u64, Arc<Cached>> for UntilExpiry {
    fn expire_after_create(&self, _: &u64, entry: &Arc<Cached>, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Principals of whole chains, found by a keyed hash of the received token and served only
/// for that very token, before the earliest `exp` of its levels (no leeway: within the
/// leeway the full check decides), and only while the validators' key sets are the ones it
/// was checked with.
pub(super) struct ChainCache {
    cache: Cache<u64, Arc<Cached>>,
    seed: RandomState,
}

impl ChainCache {
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
            seed: RandomState::default(),
        }
    }

    pub(super) fn get(&self, token: &[u8], now: i64, current: Generations) -> Option<Principal> {
        let hit = self.cache.get(&locate(&self.seed, token))?;
        let valid = hit.principal.token().as_bytes() == token
            && now < hit.expires_at
            && hit.generations == current;
        valid.then(|| hit.principal.clone())
    }

    /// Remembers `principal`, checked with the key sets of `generations`, until
    /// `expires_at`.
    pub(super) fn insert(
        &self,
        principal: &Principal,
        expires_at: i64,
        generations: Generations,
        now: i64,
    ) {
        let Some(ttl) = lifetime(expires_at, now) else {
            return;
        };
        let key = locate(&self.seed, principal.token().as_bytes());
        self.cache.insert(
            key,
            Arc::new(Cached {
                principal: principal.clone(),
                expires_at,
                generations,
                ttl,
            }),
        );
    }
}

/// How long an entry checked at `now` and good until `expires_at` is kept: never past
/// `exp`, never longer than [`MAX_TTL`]; `None` when it is not good at all.
fn lifetime(expires_at: i64, now: i64) -> Option<Duration> {
    let seconds = u64::try_from(expires_at.saturating_sub(now)).ok()?;
    (seconds > 0).then(|| Duration::from_secs(seconds).min(MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_is_served_for_its_own_token_before_expiry_and_with_the_same_keys() {
        let chains = ChainCache::new(100);
        let principal = crate::principal::test_principal_through(&["spiffe://td/gateway"]);
        let token = principal.token().to_owned();
        let (now, exp) = (1_000, 1_060);
        chains.insert(&principal, exp, (3, 7), now);
        let hit = chains.get(token.as_bytes(), now, (3, 7));
        assert_eq!(hit.map(|p| p.token().to_owned()), Some(token.clone()));
        // Not for another token, even one that starts the same.
        assert!(
            chains
                .get(format!("{token}x").as_bytes(), now, (3, 7))
                .is_none()
        );
        assert!(chains.get(b"", now, (3, 7)).is_none());
        // Not from its earliest exp on.
        assert!(chains.get(token.as_bytes(), exp - 1, (3, 7)).is_some());
        assert!(chains.get(token.as_bytes(), exp, (3, 7)).is_none());
        // Not once either validator's key set was replaced.
        assert!(chains.get(token.as_bytes(), now, (4, 7)).is_none());
        assert!(chains.get(token.as_bytes(), now, (3, 8)).is_none());
        // An expired chain is not remembered at all.
        let late = ChainCache::new(100);
        late.insert(&principal, now, (0, 0), now);
        late.insert(&principal, now - 1, (0, 0), now);
        assert!(late.get(token.as_bytes(), now - 10, (0, 0)).is_none());
        late.insert(&principal, now + 1, (0, 0), now);
        assert!(late.get(token.as_bytes(), now, (0, 0)).is_some());
    }

    #[test]
    fn an_entry_lives_until_exp_and_at_most_an_hour() {
        assert_eq!(lifetime(1_060, 1_000), Some(Duration::from_secs(60)));
        assert_eq!(lifetime(1_001, 1_000), Some(Duration::from_secs(1)));
        assert_eq!(lifetime(1_000, 1_000), None);
        assert_eq!(lifetime(999, 1_000), None);
        assert_eq!(lifetime(i64::MIN, 1_000), None);
        assert_eq!(
            lifetime(1_000 + 3_600, 1_000),
            Some(Duration::from_secs(3_600))
        );
        assert_eq!(
            lifetime(1_000 + 7_200, 1_000),
            Some(Duration::from_secs(3_600))
        );
        assert_eq!(lifetime(i64::MAX, 1_000), Some(Duration::from_secs(3_600)));
    }

    #[test]
    fn an_expired_entry_leaves_the_cache_and_frees_its_memory() {
        let chains = ChainCache::new(100);
        let principal = crate::principal::test_principal_through(&["spiffe://td/gateway"]);
        let now = 1_000;
        chains.insert(&principal, now + 1, (0, 0), now);
        chains.cache.run_pending_tasks();
        assert_eq!(chains.cache.entry_count(), 1);
        std::thread::sleep(Duration::from_millis(1_200));
        chains.cache.run_pending_tasks();
        assert_eq!(chains.cache.entry_count(), 0, "the 1-second entry is gone");
    }
}
