//! The verified-token cache: a token seen again costs a hash and a lookup, not a signature.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use moka::Expiry;
use moka::sync::Cache;

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
                .build(),
        }
    }

    pub(crate) fn get(&self, key: &TokenHash) -> Option<Arc<VerifiedToken>> {
        self.cache.get(key).map(|e| e.token)
    }

    /// Caches `token` for `ttl` (clamped to a day); a zero TTL caches nothing.
    pub(crate) fn insert(&self, key: TokenHash, token: Arc<VerifiedToken>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let ttl = ttl.min(MAX_TTL);
        self.cache.insert(key, Entry { token, ttl });
    }

    pub(crate) fn remove(&self, key: &TokenHash) {
        self.cache.invalidate(key);
    }
}
