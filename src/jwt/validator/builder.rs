//! Configuring a [`Validator`]: its issuers, their keys and audiences, and the checks, all
//! verified once by `build()`, which does no I/O.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::super::cache::TokenCache;
use super::super::error::{ConfigError, ConfigErrorKind};
#[cfg(feature = "remote")]
use super::super::jwks::refresh::Location;
use super::super::keys::{DEFAULT_ALGORITHMS, KeySet, VerifyingKey};
use super::super::source::{KeySource, SourceKind};
use super::lookup::IssuerEntry;
use super::resolve::{
    DEFAULT_MAX_RESOLVED_ISSUERS, DEFAULT_NEW_ISSUERS_PER_MINUTE, IssuerResolver, Resolved,
};
use super::verify::normalize_type;
use super::{
    Counters, DEFAULT_LEEWAY, DEFAULT_MAX_HEADER_LEN, DEFAULT_MAX_TOKEN_LEN,
    DEFAULT_TOKEN_CACHE_CAPACITY, Inner, Validator,
};

/// One trusted issuer: its exact `iss`, the audiences accepted from it, and its keys.
///
/// The first issuer comes from [`Validator::builder`]; add more with
/// [`ValidatorBuilder::add_issuer`]. A token's `iss` picks the issuer, and only that
/// issuer's keys may verify it.
#[must_use]
pub struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    keys: KeySet,
    sources: Vec<KeySource>,
    error: Option<ConfigError>,
}

impl Issuer {
    /// Tokens whose `iss` is exactly `issuer` and whose `aud` names one of `audiences`.
    pub fn new<A>(issuer: impl Into<String>, audiences: A) -> Self
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            keys: KeySet::new(),
            sources: Vec::new(),
            error: None,
        }
    }

    /// Takes this issuer's keys from a source: keys you configured, a JWKS URL or discovery
    /// (feature `remote`). An issuer has one source, or static keys, not both.
    pub fn key_source(mut self, source: KeySource) -> Self {
        self.sources.push(source);
        self
    }

    /// Adds a public key.
    pub fn add_key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds every key of a set, such as a JWKS document read from disk.
    pub fn add_keys(mut self, keys: KeySet) -> Self {
        for key in keys.iter() {
            self.keys.push(key.clone());
        }
        self
    }

    /// Adds an HMAC shared secret for exactly `alg` (HS256, HS384 or HS512).
    ///
    /// # Security
    ///
    /// A shared secret lets anyone who holds it mint tokens. An issuer with a secret can
    /// have no public keys, and the secret must be at least as long as the hash output
    /// (32 bytes for HS256); `build()` fails otherwise.
    pub fn add_hmac_secret(mut self, secret: impl AsRef<[u8]>, alg: Algorithm) -> Self {
        match VerifyingKey::hmac(secret.as_ref(), alg) {
            Ok(key) => self.keys.push(key),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    pub(super) fn build_entry(self, allowed: &[Algorithm]) -> Result<IssuerEntry, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.issuer.is_empty() {
            return Err(ConfigErrorKind::EmptyIssuer.into());
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigErrorKind::NoAudience {
                issuer: self.issuer,
            }
            .into());
        }
        let mut sources = self.sources.into_iter().map(KeySource::into_kind);
        let keys = match (sources.next(), sources.next()) {
            (None, _) => static_keys(&self.issuer, self.keys, allowed)?,
            (Some(SourceKind::Static(set)), None) if self.keys.is_empty() => {
                static_keys(&self.issuer, set, allowed)?
            }
            #[cfg(feature = "remote")]
            (Some(SourceKind::Remote(remote)), None) if self.keys.is_empty() => {
                if let Location::Discovery { issuer, .. } = remote.location()
                    && *issuer != self.issuer
                {
                    return Err(ConfigErrorKind::DiscoveryIssuerMismatch {
                        issuer: self.issuer,
                        source_issuer: issuer.clone(),
                    }
                    .into());
                }
                SourceKind::Remote(remote)
            }
            _ => {
                return Err(ConfigErrorKind::MixedKeySources {
                    issuer: self.issuer,
                }
                .into());
            }
        };
        Ok(IssuerEntry {
            issuer: self.issuer,
            audiences: self.audiences,
            keys,
        })
    }
}

/// Checks and narrows an issuer's static keys.
fn static_keys(
    issuer: &str,
    mut keys: KeySet,
    allowed: &[Algorithm],
) -> Result<SourceKind, ConfigError> {
    if keys.is_empty() {
        return Err(ConfigErrorKind::NoKeys {
            issuer: issuer.to_owned(),
        }
        .into());
    }
    let hmac = keys.iter().filter(|k| k.is_hmac()).count();
    if hmac > 0 && hmac < keys.len() {
        return Err(ConfigErrorKind::MixedKeyFamilies {
            issuer: issuer.to_owned(),
        }
        .into());
    }
    for key in keys.keys_mut() {
        // HMAC secrets carry the one algorithm they were added for.
        if !key.is_hmac() && !key.narrow(allowed) {
            return Err(ConfigErrorKind::NoAllowedAlgorithm {
                kid: key.kid().map(str::to_owned),
            }
            .into());
        }
    }
    Ok(SourceKind::Static(keys))
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Validator`]; made by [`Validator::builder`].
#[must_use]
pub struct ValidatorBuilder {
    issuers: Vec<Issuer>,
    service_tokens: bool,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_lifetime: Option<Duration>,
    required_type: Option<String>,
    required_claims: Vec<String>,
    scope_claims: Vec<String>,
    max_token_len: usize,
    max_header_len: usize,
    cache_capacity: u64,
    resolver: Option<Box<dyn IssuerResolver>>,
    max_resolved_issuers: u64,
    new_issuers_per_minute: u32,
    error: Option<ConfigError>,
}

impl ValidatorBuilder {
    pub(super) fn new(first: Issuer) -> Self {
        Self {
            issuers: vec![first],
            service_tokens: false,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            max_lifetime: None,
            required_type: None,
            required_claims: Vec::new(),
            scope_claims: Vec::new(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_header_len: DEFAULT_MAX_HEADER_LEN,
            cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            resolver: None,
            max_resolved_issuers: DEFAULT_MAX_RESOLVED_ISSUERS,
            new_issuers_per_minute: DEFAULT_NEW_ISSUERS_PER_MINUTE,
            error: None,
        }
    }

    fn first_issuer(&mut self, f: impl FnOnce(Issuer) -> Issuer) {
        if !self.issuers.is_empty() {
            let first = self.issuers.remove(0);
            self.issuers.insert(0, f(first));
        }
    }

    /// Adds a public key of the first issuer.
    pub fn add_key(mut self, key: VerifyingKey) -> Self {
        self.first_issuer(|i| i.add_key(key));
        self
    }

    /// Adds every key of a set to the first issuer.
    pub fn add_keys(mut self, keys: KeySet) -> Self {
        self.first_issuer(|i| i.add_keys(keys));
        self
    }

    /// Adds an HMAC secret of the first issuer; see [`Issuer::add_hmac_secret`].
    pub fn add_hmac_secret(mut self, secret: impl AsRef<[u8]>, alg: Algorithm) -> Self {
        self.first_issuer(|i| i.add_hmac_secret(secret, alg));
        self
    }

    /// Takes the first issuer's keys from a source; see [`Issuer::key_source`].
    pub fn key_source(mut self, source: KeySource) -> Self {
        self.first_issuer(|i| i.key_source(source));
        self
    }

    /// Makes this a validator of service tokens (`typ` `svc+jwt`) only, for the service-token
    /// verifier; every other validator refuses them.
    pub(crate) fn for_service_tokens(mut self) -> Self {
        self.service_tokens = true;
        self
    }

    /// Trusts one more issuer, with its own audiences and keys.
    pub fn add_issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The public-key algorithms any key may verify (default: RS256–512, PS256–512, ES256,
    /// ES384, EdDSA). Each key is narrowed to this list. HMAC algorithms are not accepted
    /// here: add an HMAC secret with its algorithm instead.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms.clear();
        for alg in algorithms {
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                self.error
                    .get_or_insert(ConfigErrorKind::AlgorithmMismatch { alg }.into());
            } else {
                self.algorithms.push(alg);
            }
        }
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuses tokens that live longer than `max`: `exp` minus `iat` (or minus `nbf` for a
    /// token without `iat`; a token with neither is refused for its missing `iat`). Off by
    /// default; Envoy's `max_lifetime` and jose's `maxTokenAge` do the same. Answer: 401
    /// [`TokenErrorKind::LifetimeTooLong`](crate::jwt::TokenErrorKind::LifetimeTooLong).
    ///
    /// ```
    /// # use meshward::jwt::{Validator, VerifyingKey};
    /// # use std::time::Duration;
    /// # fn f(key: VerifyingKey) -> Result<(), meshward::jwt::ConfigError> {
    /// let validator = Validator::builder("https://id.example.com", ["orders"])
    ///     .add_key(key)
    ///     .max_token_lifetime(Duration::from_secs(24 * 3600))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn max_token_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }

    /// Requires the header's `typ`, compared case-insensitively with an `application/`
    /// prefix ignored: `require_type("at+jwt")` for RFC 9068 access tokens.
    pub fn require_type(mut self, typ: impl AsRef<str>) -> Self {
        self.required_type = Some(normalize_type(typ.as_ref()));
        self
    }

    /// Requires a claim to be present and not null.
    pub fn add_required_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }

    /// Also reads scopes (or roles) from a dotted claim path such as `realm_access.roles`.
    /// `scope` and `scp` are always read.
    pub fn add_scope_claim(mut self, path: impl Into<String>) -> Self {
        self.scope_claims.push(path.into());
        self
    }

    /// Longest token accepted, in bytes (default 8 KiB).
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Longest encoded header segment accepted, in bytes (default 2 KiB).
    pub fn max_header_len(mut self, len: usize) -> Self {
        self.max_header_len = len;
        self
    }

    /// Asks `resolver` about tokens whose `iss` is none of the configured issuers (the
    /// tenants of a multi-tenant provider: [`IssuerTemplate`](crate::jwt::IssuerTemplate)); what it answers is kept for
    /// up to [`max_resolved_issuers`](Self::max_resolved_issuers) issuers.
    pub fn issuer_resolver(mut self, resolver: impl IssuerResolver) -> Self {
        self.resolver = Some(Box::new(resolver));
        self
    }

    /// How many resolved issuers to keep (default 100); beyond, the least recently used is
    /// forgotten (and resolved again, keys fetched again, if it comes back).
    pub fn max_resolved_issuers(mut self, max: u64) -> Self {
        self.max_resolved_issuers = max;
        self
    }

    /// How many issuers not seen before may be resolved per minute (default 60, with a
    /// burst of as many): a client sending tokens that name random tenants makes the
    /// validator fetch no more than that; past it such tokens get 503 (try again), never
    /// an unchecked admission.
    pub fn new_issuers_per_minute(mut self, count: u32) -> Self {
        self.new_issuers_per_minute = count;
        self
    }

    /// How many verified tokens to remember (default 10 000; 0 turns the cache off).
    /// Memory is bounded by about twice the token size per entry.
    pub fn token_cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Checks the configuration and builds the validator. Does no I/O.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an issuer without audiences or keys, a duplicate issuer, a
    /// weak or mixed HMAC secret, a key left with no allowed algorithm, a zero limit.
    pub fn build(self) -> Result<Validator, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.max_token_len == 0 || self.max_header_len == 0 {
            return Err(ConfigErrorKind::InvalidLimit {
                what: "token and header caps must be positive",
            }
            .into());
        }
        let mut issuers: Vec<IssuerEntry> = Vec::with_capacity(self.issuers.len());
        for issuer in self.issuers {
            let entry = issuer.build_entry(&self.algorithms)?;
            if issuers.iter().any(|i| i.issuer == entry.issuer) {
                return Err(ConfigErrorKind::DuplicateIssuer {
                    issuer: entry.issuer,
                }
                .into());
            }
            issuers.push(entry);
        }
        let cache =
            (self.cache_capacity > 0).then(|| Arc::new(TokenCache::new(self.cache_capacity)));
        // Remote key sets tell the cache when they stop publishing a key, so that tokens
        // verified with it stop being served at once.
        #[cfg(feature = "remote")]
        if let Some(cache) = &cache {
            for issuer in &issuers {
                if let SourceKind::Remote(remote) = &issuer.keys {
                    remote.watch_removals(&issuer.issuer, cache);
                }
            }
        }
        let resolved = self
            .resolver
            .map(|r| Resolved::new(r, self.max_resolved_issuers, self.new_issuers_per_minute))
            .transpose()?;
        Ok(Validator::from_inner(Inner {
            issuers,
            resolved,
            algorithms: self.algorithms,
            leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            max_lifetime: self
                .max_lifetime
                .map(|m| i64::try_from(m.as_secs()).unwrap_or(i64::MAX)),
            required_type: self.required_type,
            service_tokens: self.service_tokens,
            required_claims: self.required_claims,
            scope_claims: self.scope_claims,
            max_token_len: self.max_token_len,
            max_header_len: self.max_header_len,
            cache,
            counters: Counters::default(),
        }))
    }
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuers", &self.issuers)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}
