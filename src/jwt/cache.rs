//! The verified-token cache: a token seen again costs a hash, a lookup and a comparison,
//! not a signature.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::quality::RandomState;
use moka::Expiry;
use moka::sync::Cache;

use super::keys::KeyFingerprint;
use crate::principal::VerifiedToken;

/// No entry lives longer than this, whatever the token's `exp`.
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A 64-bit hash of the token, keyed with a seed drawn at random for each cache (foldhash),
/// so that nobody outside can aim two tokens at one entry. It only finds the entry: a hit is
/// served only when the token the entry was verified from is byte for byte the token
/// presented, so a collision is a miss, never another token's principal. The token itself is
/// kept in the entry anyway (the principal hands it on), so the comparison costs no memory.
pub(crate) type TokenHash = u64;

/// How much of a token's end [`locate`] hashes: the end of a JWS is its signature, which no
/// two tokens share (a 3-hop service token is 3 KiB or more; its last 64 bytes find it).
const HASHED_TAIL: usize = 64;

/// The hash that finds a token's entry: its length and its last [`HASHED_TAIL`] bytes. Two
/// tokens that share both only share an entry's slot: the comparison on a hit tells them
/// apart, and only a token that passed verification is ever put in.
pub(crate) fn locate(seed: &RandomState, token: &[u8]) -> TokenHash {
    let tail = &token[token.len().saturating_sub(HASHED_TAIL)..];
    seed.hash_one((token.len(), tail))
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
    seed: RandomState,
}

impl TokenCache {
    pub(crate) fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .support_invalidation_closures()
                .build(),
            seed: RandomState::default(),
        }
    }

    /// The key under which `token` is cached.
    pub(crate) fn key(&self, token: &[u8]) -> TokenHash {
        locate(&self.seed, token)
    }

    /// The verified token cached under `key`, if it was verified from `token` itself.
    pub(crate) fn get(&self, key: &TokenHash, token: &[u8]) -> Option<Arc<VerifiedToken>> {
        self.cache
            .get(key)
            .map(|e| e.token)
            .filter(|hit| hit.raw.as_bytes() == token)
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

    fn token(raw: &str, issuer: &str, key: KeyFingerprint) -> Arc<VerifiedToken> {
        let principal = crate::principal::test_principal("read");
        let mut verified = principal.verified().clone();
        verified.issuer = issuer.into();
        verified.key_fingerprint = key;
        verified.raw = raw.into();
        Arc::new(verified)
    }

    fn put(cache: &TokenCache, raw: &str, issuer: &str, key: KeyFingerprint, ttl: Duration) {
        cache.insert(cache.key(raw.as_bytes()), token(raw, issuer, key), ttl);
    }

    fn has(cache: &TokenCache, raw: &str) -> bool {
        cache
            .get(&cache.key(raw.as_bytes()), raw.as_bytes())
            .is_some()
    }

    #[test]
    fn dropping_a_key_drops_only_its_issuers_tokens_verified_with_it() {
        let cache = TokenCache::new(100);
        let day = Duration::from_secs(86_400);
        put(&cache, "a1", "a", 1, day);
        put(&cache, "a2", "a", 2, day);
        put(&cache, "b1", "b", 1, day);
        cache.drop_verified_by("a", &[1]);
        assert!(!has(&cache, "a1"), "verified with the removed key");
        assert!(has(&cache, "a2"), "another key of the issuer");
        assert!(has(&cache, "b1"), "another issuer's key");
        cache.drop_verified_by("b", &[]);
        assert!(has(&cache, "b1"));
    }

    #[test]
    fn a_hit_is_served_only_for_the_very_token_it_was_verified_from() {
        let cache = TokenCache::new(100);
        let day = Duration::from_secs(86_400);
        // Another token's entry under this token's key: what a hash collision would give.
        cache.insert(cache.key(b"mine"), token("theirs", "a", 1), day);
        assert!(cache.get(&cache.key(b"mine"), b"mine").is_none());
        assert!(cache.get(&cache.key(b"mine"), b"theirs").is_some());
        // A prefix, or the token with one byte more, is another token.
        put(&cache, "a.b.c", "a", 1, day);
        assert!(cache.get(&cache.key(b"a.b.c"), b"a.b.").is_none());
        assert!(cache.get(&cache.key(b"a.b.c"), b"a.b.cd").is_none());
        assert!(has(&cache, "a.b.c"));
        // Tokens that share their length and end share a slot, never an answer.
        let head = format!("x{}", "t".repeat(100));
        let other_head = format!("y{}", "t".repeat(100));
        put(&cache, &head, "a", 1, day);
        assert_eq!(cache.key(head.as_bytes()), cache.key(other_head.as_bytes()));
        assert!(
            cache
                .get(&cache.key(other_head.as_bytes()), other_head.as_bytes())
                .is_none()
        );
        assert!(has(&cache, &head));
        // Each cache draws its own seed: nobody can aim two tokens at one entry everywhere.
        let other = TokenCache::new(100);
        assert_ne!(cache.key(b"a.b.c"), other.key(b"a.b.c"));
        assert_ne!(cache.key(b"a"), cache.key(b"b"));
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
        put(&cache, "zero", "a", 1, Duration::ZERO);
        assert!(!has(&cache, "zero"));
        put(&cache, "short", "a", 1, Duration::from_millis(50));
        assert!(has(&cache, "short"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!has(&cache, "short"));
    }
}
