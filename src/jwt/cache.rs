//! The verified-token cache: a token seen again costs a hash and a lookup, not a signature.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use moka::Expiry;
use moka::sync::Cache;

use super::keys::KeyFingerprint;
use crate::principal::VerifiedToken;

/// No entry lives longer than this, whatever the token's `exp`.
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// SHA-256 of the token: the cache never holds tokens as keys, and two tokens that differ
/// in one byte never share an entry.
pub(crate) type TokenHash = [u8; 32];

pub(crate) fn hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// How long an entry lives: its token's remaining lifetime, at most a day; nothing for zero.
fn clamp_ttl(ttl: Duration) -> Option<Duration> {
    (!ttl.is_zero()).then(|| ttl.min(MAX_TTL))
}

#[derive(Clone)]
struct Entry {
    token: Arc<VerifiedToken>,
    ttl: Duration,
}

struct UntilExpiry;

impl Expiry<TokenHash, Entry> for UntilExpiry {
    fn expire_after_create(&self, _: &TokenHash, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Bounded by entry count; each entry expires when its token does (plus leeway).
#[derive(Clone)]
pub(crate) struct TokenCache {
    cache: Cache<TokenHash, Entry>,
}

impl TokenCache {
    pub(crate) fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .support_invalidation_closures()
                .build(),
        }
    }

    pub(crate) fn get(&self, key: &TokenHash) -> Option<Arc<VerifiedToken>> {
        self.cache.get(key).map(|e| e.token)
    }

    /// Caches `token` for `ttl` (clamped to a day); a zero TTL caches nothing.
    pub(crate) fn insert(&self, key: TokenHash, token: Arc<VerifiedToken>, ttl: Duration) {
        if let Some(ttl) = clamp_ttl(ttl) {
            self.cache.insert(key, Entry { token, ttl });
        }
    }

    pub(crate) fn remove(&self, key: &TokenHash) {
        self.cache.invalidate(key);
    }

    /// Drops every token of `issuer` verified with one of the `removed` keys: from the
    /// moment this returns, no lookup serves one of them.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn drop_verified_by(&self, issuer: &str, removed: &[KeyFingerprint]) {
        if removed.is_empty() {
            return;
        }
        let issuer = issuer.to_owned();
        let removed = removed.to_vec();
        // Only fails when invalidation closures were not enabled, which `new` does; fall
        // back to dropping everything rather than keep a token of a removed key.
        if self
            .cache
            .invalidate_entries_if(move |_, entry| {
                entry.token.issuer == issuer && removed.contains(&entry.token.key_fingerprint)
            })
            .is_err()
        {
            self.cache.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(issuer: &str, key: KeyFingerprint) -> Arc<VerifiedToken> {
        let principal = crate::principal::test_principal("read");
        let mut verified = principal.verified().clone();
        verified.issuer = issuer.into();
        verified.key_fingerprint = key;
        Arc::new(verified)
    }

    #[test]
    fn dropping_a_key_drops_only_its_issuers_tokens_verified_with_it() {
        let cache = TokenCache::new(100);
        let day = Duration::from_secs(86_400);
        cache.insert(hash("a1"), token("a", 1), day);
        cache.insert(hash("a2"), token("a", 2), day);
        cache.insert(hash("b1"), token("b", 1), day);
        cache.drop_verified_by("a", &[1]);
        assert!(
            cache.get(&hash("a1")).is_none(),
            "verified with the removed key"
        );
        assert!(
            cache.get(&hash("a2")).is_some(),
            "another key of the issuer"
        );
        assert!(cache.get(&hash("b1")).is_some(), "another issuer's key");
        cache.drop_verified_by("b", &[]);
        assert!(cache.get(&hash("b1")).is_some());
    }

    #[test]
    fn no_entry_lives_longer_than_a_day() {
        let day = Duration::from_secs(86_400);
        assert_eq!(clamp_ttl(Duration::from_secs(3 * 86_400)), Some(day));
        assert_eq!(clamp_ttl(day + Duration::from_secs(1)), Some(day));
        assert_eq!(
            clamp_ttl(Duration::from_secs(60)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(clamp_ttl(Duration::ZERO), None);
    }

    #[test]
    fn entries_live_no_longer_than_their_ttl_and_zero_caches_nothing() {
        let cache = TokenCache::new(100);
        cache.insert(hash("zero"), token("a", 1), Duration::ZERO);
        assert!(cache.get(&hash("zero")).is_none());
        cache.insert(hash("short"), token("a", 1), Duration::from_millis(50));
        assert!(cache.get(&hash("short")).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.get(&hash("short")).is_none());
        assert_ne!(hash("a"), hash("b"));
    }
}
