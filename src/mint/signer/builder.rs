//! [`ServiceSignerBuilder`]: what a [`ServiceSigner`] is configured with, checked once.

use super::*;

/// Configures a [`ServiceSigner`]; made by [`ServiceSigner::builder`].
#[must_use]
pub struct ServiceSignerBuilder {
    pub(super) identity: String,
    pub(super) key: SigningKey,
    pub(super) lifetime: Duration,
    pub(super) overlap: Duration,
    pub(super) jwks_max_age: Duration,
    pub(super) cache_capacity: u64,
}

impl ServiceSignerBuilder {
    /// How long a minted token lives (default 60 s, at most 10 min). A token never outlives
    /// the one it embeds either.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How long a rotated-in key is published before it signs (default 10 min). Make it
    /// longer than the peers' JWKS refresh interval, or at least than their unknown-`kid`
    /// cooldown (30 s by default).
    pub fn rotation_overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// The `Cache-Control: max-age` of the published JWKS (default 5 min).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// How many minted tokens to keep for reuse (default 10 000; 0 turns reuse off, as a
    /// receiver with a replay guard needs).
    pub fn minted_token_cache(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Checks the configuration and builds the signer.
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::EmptyIdentity`], or [`MintConfigErrorKind::InvalidLimit`] for
    /// a lifetime of zero or over 10 min and durations over a day.
    pub fn build(self) -> Result<ServiceSigner, MintConfigError> {
        if self.identity.is_empty() {
            return Err(MintConfigErrorKind::EmptyIdentity.into());
        }
        if self.lifetime < Duration::from_secs(1) || self.lifetime > MAX_TOKEN_LIFETIME {
            return Err(MintConfigErrorKind::InvalidLimit {
                what: "token lifetime must be between 1 s and 10 min",
            }
            .into());
        }
        let day = Duration::from_secs(24 * 60 * 60);
        if self.overlap > day || self.jwks_max_age > day {
            return Err(MintConfigErrorKind::InvalidLimit {
                what: "rotation overlap and JWKS max-age are at most a day",
            }
            .into());
        }
        let first = RingKey::new(self.key, SystemTime::UNIX_EPOCH)?;
        let cache = (self.cache_capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.cache_capacity)
                .expire_after(ReuseUntil)
                .build()
        });
        Ok(ServiceSigner {
            inner: Arc::new(SignerInner {
                identity: self.identity,
                lifetime: self.lifetime,
                overlap: self.overlap,
                jwks_max_age: self.jwks_max_age,
                ring: RwLock::new(vec![first]),
                cache,
            }),
        })
    }
}

impl fmt::Debug for ServiceSignerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSignerBuilder")
            .field("identity", &self.identity)
            .field("key", &self.key)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}
