//! The token validator: strict by default, configured once, shared by every request.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use std::sync::atomic::{AtomicU64, Ordering};

use super::cache::{self, TokenCache};
use super::claims;
use super::error::{ConfigError, ConfigErrorKind, TokenError, TokenErrorKind, unix_time};
#[cfg(feature = "remote")]
use super::jwks::refresh::{Reason, RemoteKeys};
#[cfg(feature = "remote")]
use super::jwks::{KeySourceError, KeySourceStats};
use super::keys::{DEFAULT_ALGORITHMS, KeySet, KeySource, SourceKind, VerifyingKey};
use crate::principal::{Principal, Scopes, VerifiedToken, claim_at_path};

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default cap on a token's length, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default cap on a token's encoded header segment, in bytes.
pub const DEFAULT_MAX_HEADER_LEN: usize = 2 * 1024;
/// Default number of verified tokens kept in the cache.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;

/// Verifies bearer tokens: signature, issuer, audience, expiry and the rest.
///
/// Every check is on by default and none reads its configuration from the token:
///
/// - the signature, with a key chosen by `kid` among the issuer's keys, each of which
///   carries the algorithms it may verify (the header's `alg` only selects among them;
///   `none` is never accepted; HMAC secrets and public keys never mix);
/// - `iss` present and exactly one of the configured issuers;
/// - `aud` present and sharing a value with that issuer's accepted audiences;
/// - `exp` required and in the future, `nbf` and `iat` not in the future, with an explicit
///   [leeway](ValidatorBuilder::leeway) (30 s by default);
/// - no `crit` header (meshward implements no JWS extension);
/// - optionally a `typ` (such as `at+jwt`, RFC 9068) and required claims;
/// - the token's length (8 KiB) and its header's (2 KiB).
///
/// A verified token is cached (keyed by its SHA-256, never past its `exp`), so a token seen
/// again costs a lookup, not a signature.
///
/// Cloning is cheap: clones share configuration and cache.
///
/// ```
/// use meshward::jwt::{Validator, VerifyingKey};
/// use std::time::Duration;
///
/// # let jwk = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let validator = Validator::builder("https://id.example.com", ["orders-api"])
///     .add_key(VerifyingKey::from_jwk_json(jwk)?.with_kid("2026-11"))
///     .leeway(Duration::from_secs(10))
///     .require_type("at+jwt")
///     .build()?;
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<IssuerEntry>,
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    algorithms: Vec<Algorithm>,
    leeway: i64,
    required_type: Option<String>,
    required_claims: Vec<String>,
    scope_claims: Vec<String>,
    max_token_len: usize,
    max_header_len: usize,
    cache: Option<TokenCache>,
    counters: Counters,
}

struct IssuerEntry {
    issuer: String,
    audiences: Vec<String>,
    keys: IssuerKeys,
}

enum IssuerKeys {
    Static(KeySet),
    #[cfg(feature = "remote")]
    Remote(Arc<RemoteKeys>),
}

/// Whether verification may ask for a fetch, or runs after one.
enum FetchPolicy {
    Allowed,
    #[cfg(feature = "remote")]
    AfterFetch(Option<KeySourceError>),
}

/// Why a verification did not finish synchronously.
pub(crate) enum Failure {
    Token(TokenError),
    #[cfg(feature = "remote")]
    NeedsKeys(NeedsKeys),
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

impl From<TokenErrorKind> for Failure {
    fn from(kind: TokenErrorKind) -> Self {
        Self::Token(kind.into())
    }
}

/// A verification waiting for a remote key set.
#[cfg(feature = "remote")]
pub(crate) struct NeedsKeys {
    source: Arc<RemoteKeys>,
    reason: Reason,
    generation: u64,
}

/// The outcome of the synchronous attempt.
pub(crate) enum Attempt {
    Done(Result<Arc<VerifiedToken>, TokenError>),
    #[cfg(feature = "remote")]
    NeedsKeys(NeedsKeys),
}

#[derive(Default)]
struct Counters {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    rejections: [AtomicU64; TokenErrorKind::LABELS.len()],
}

#[derive(serde::Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

impl Validator {
    /// Starts a validator for tokens from `issuer` meant for any of `audiences`.
    ///
    /// Add that issuer's keys with [`add_key`](ValidatorBuilder::add_key) and friends, and
    /// further issuers with [`add_issuer`](ValidatorBuilder::add_issuer).
    pub fn builder<A>(issuer: impl Into<String>, audiences: A) -> ValidatorBuilder
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        ValidatorBuilder {
            issuers: vec![Issuer::new(issuer, audiences)],
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            required_type: None,
            required_claims: Vec::new(),
            scope_claims: Vec::new(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_header_len: DEFAULT_MAX_HEADER_LEN,
            cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            error: None,
        }
    }

    /// Verifies `token` and returns who it names. Awaits only when a remote key set must be
    /// fetched first.
    ///
    /// This sees the token only, not the connection: a certificate-bound token
    /// (`cnf.x5t#S256`, RFC 8705) is returned with
    /// [`Principal::certificate_thumbprint`] set, and it is yours to compare with the peer's
    /// certificate. [`AuthLayer`](super::AuthLayer) does that for you.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] saying why the token was refused.
    pub async fn validate(&self, token: &str) -> Result<Principal, TokenError> {
        match self.attempt(token) {
            Attempt::Done(result) => result.map(Principal::from_verified),
            #[cfg(feature = "remote")]
            Attempt::NeedsKeys(need) => {
                self.finish(token, need).await.map(Principal::from_verified)
            }
        }
    }

    /// Loads every remote key set now, for services that want to fail fast at start.
    /// Static keys need nothing.
    ///
    /// # Errors
    ///
    /// The first [`KeySourceError`] met.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub async fn warm_up(&self) -> Result<(), KeySourceError> {
        for issuer in &self.inner.issuers {
            if let IssuerKeys::Remote(remote) = &issuer.keys {
                remote.refresh(Reason::Scheduled, None).await?;
            }
        }
        Ok(())
    }

    /// Counters: verified-token cache hits and misses, rejections by reason, and each remote
    /// key source's fetches.
    pub fn stats(&self) -> ValidatorStats {
        let c = &self.inner.counters;
        ValidatorStats {
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            cache_misses: c.cache_misses.load(Ordering::Relaxed),
            rejections: TokenErrorKind::LABELS
                .iter()
                .zip(&c.rejections)
                .map(|(label, n)| (*label, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            #[cfg(feature = "remote")]
            key_sources: self
                .inner
                .issuers
                .iter()
                .filter_map(|i| match &i.keys {
                    IssuerKeys::Remote(r) => Some((i.issuer.clone(), KeySourceStats::of(r))),
                    IssuerKeys::Static(_) => None,
                })
                .collect(),
        }
    }

    /// The longest token accepted, in bytes.
    pub fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    /// Counts a refusal made outside the validator (a malformed or missing credential).
    pub(crate) fn record_rejection(&self, error: &TokenError) {
        let index = error.kind().label_index();
        if let Some(counter) = self.inner.counters.rejections.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record<T>(&self, result: Result<T, TokenError>) -> Result<T, TokenError> {
        if let Err(e) = &result {
            self.record_rejection(e);
        }
        result
    }

    /// The synchronous attempt: a cache hit, or a full check with the keys at hand.
    pub(crate) fn attempt(&self, token: &str) -> Attempt {
        self.attempt_at(token, unix_now())
    }

    pub(crate) fn attempt_at(&self, token: &str, now: i64) -> Attempt {
        let inner = &*self.inner;
        if token.len() > inner.max_token_len {
            return Attempt::Done(
                self.record(Err(TokenErrorKind::TooLarge {
                    len: token.len(),
                    max: inner.max_token_len,
                }
                .into())),
            );
        }
        let key = inner
            .cache
            .as_ref()
            .map(|cache| (cache, cache::hash(token)));
        if let Some((cache, key)) = &key {
            if let Some(hit) = cache.get(key) {
                inner.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                if now >= hit.expires_at.saturating_add(inner.leeway) {
                    cache.remove(key);
                    return Attempt::Done(self.record(Err(expired(hit.expires_at, now).into())));
                }
                return Attempt::Done(Ok(hit));
            }
            inner.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
        match inner.verify(token, now, FetchPolicy::Allowed) {
            Ok(verified) => Attempt::Done(Ok(self.remember(key, verified, now))),
            Err(Failure::Token(e)) => Attempt::Done(self.record(Err(e))),
            #[cfg(feature = "remote")]
            Err(Failure::NeedsKeys(need)) => Attempt::NeedsKeys(need),
        }
    }

    /// Completes an attempt that needed keys: fetch (or join the fetch under way), then
    /// verify once more without fetching again.
    #[cfg(feature = "remote")]
    pub(crate) async fn finish(
        &self,
        token: &str,
        need: NeedsKeys,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        let fetched = need
            .source
            .refresh(need.reason, Some(need.generation))
            .await
            .err();
        let now = unix_now();
        let inner = &*self.inner;
        let key = inner
            .cache
            .as_ref()
            .map(|cache| (cache, cache::hash(token)));
        let result = match inner.verify(token, now, FetchPolicy::AfterFetch(fetched)) {
            Ok(verified) => Ok(self.remember(key, verified, now)),
            Err(Failure::Token(e)) => Err(e),
            Err(Failure::NeedsKeys(_)) => Err(TokenErrorKind::KeysUnavailable.into()),
        };
        self.record(result)
    }

    /// Caches a freshly verified token, unless it is not valid yet (nbf within the leeway).
    fn remember(
        &self,
        key: Option<(&TokenCache, cache::TokenHash)>,
        verified: VerifiedToken,
        now: i64,
    ) -> Arc<VerifiedToken> {
        let verified = Arc::new(verified);
        if let Some((cache, key)) = key
            && verified.not_before.is_none_or(|nbf| nbf <= now)
        {
            let ttl = verified
                .expires_at
                .saturating_add(self.inner.leeway)
                .saturating_sub(now);
            let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
            cache.insert(key, Arc::clone(&verified), ttl);
        }
        verified
    }

    /// Test helper: the full synchronous path at a given time.
    #[cfg(test)]
    pub(crate) fn validate_at(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        match self.attempt_at(token, now) {
            Attempt::Done(result) => result,
            #[cfg(feature = "remote")]
            Attempt::NeedsKeys(_) => Err(TokenErrorKind::KeysUnavailable.into()),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Counters of a [`Validator`]; see [`Validator::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorStats {
    /// Tokens answered from the verified-token cache.
    pub cache_hits: u64,
    /// Tokens looked up in the cache and not found.
    pub cache_misses: u64,
    /// Refusals by reason (see [`TokenErrorKind::label`]); reasons never seen are left out.
    pub rejections: Vec<(&'static str, u64)>,
    /// Each remote key source, by issuer.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub key_sources: Vec<(String, KeySourceStats)>,
}

impl Inner {
    fn verify(&self, token: &str, now: i64, policy: FetchPolicy) -> Result<VerifiedToken, Failure> {
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(TokenErrorKind::Malformed.into());
        };
        if header_b64.len() > self.max_header_len {
            return Err(TokenErrorKind::TooLarge {
                len: header_b64.len(),
                max: self.max_header_len,
            }
            .into());
        }

        let header: RawHeader = decode_json(header_b64)?;
        let alg = Algorithm::from_str(&header.alg)
            .map_err(|_| TokenError::new(TokenErrorKind::UnsupportedAlgorithm))?;
        let kid = header.kid.as_deref();
        if header.crit.is_some() {
            return Err(TokenErrorKind::UnsupportedCritical.into());
        }
        if let Some(required) = &self.required_type {
            let typ = header.typ.as_deref().map(normalize_type);
            if typ.as_deref() != Some(required.as_str()) {
                return Err(TokenErrorKind::InvalidType.into());
            }
        }

        // The issuer picks the key set, so `iss` is read before the signature is checked;
        // nothing else from the payload is trusted until it has been.
        let claims: Map<String, Value> = decode_json(payload_b64)?;
        let issuer_name = claims::string(&claims, "iss")?.ok_or(TokenErrorKind::MissingClaim {
            claim: "iss".into(),
        })?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == issuer_name)
            .ok_or(TokenErrorKind::InvalidIssuer)?;
        #[cfg(feature = "remote")]
        let snapshot;
        let key = match &issuer.keys {
            IssuerKeys::Static(keys) => keys.select(kid, alg)?,
            #[cfg(feature = "remote")]
            IssuerKeys::Remote(remote) => {
                // Remote keys are narrowed here, as static ones are at build time.
                if !self.algorithms.contains(&alg) {
                    return Err(TokenErrorKind::AlgorithmNotAllowed { alg }.into());
                }
                remote.ensure_refresher();
                let generation = remote.generation();
                snapshot = remote.load();
                let loaded = snapshot
                    .as_deref()
                    .filter(|s| s.usable(std::time::Instant::now()));
                match (loaded, policy) {
                    (Some(loaded), policy) => match loaded.keys.select(kid, alg) {
                        Ok(key) => key,
                        Err(TokenErrorKind::UnknownKey { kid: missing }) => match policy {
                            FetchPolicy::Allowed if remote.may_fetch_for(kid) => {
                                return Err(Failure::NeedsKeys(NeedsKeys {
                                    source: Arc::clone(remote),
                                    reason: Reason::UnknownKid,
                                    generation,
                                }));
                            }
                            FetchPolicy::Allowed => {
                                return Err(TokenErrorKind::UnknownKey { kid: missing }.into());
                            }
                            FetchPolicy::AfterFetch(_) => {
                                remote.mark_unknown(kid);
                                return Err(TokenErrorKind::UnknownKey { kid: missing }.into());
                            }
                        },
                        Err(other) => return Err(other.into()),
                    },
                    (None, FetchPolicy::Allowed) => {
                        return Err(Failure::NeedsKeys(NeedsKeys {
                            source: Arc::clone(remote),
                            reason: Reason::Cold,
                            generation,
                        }));
                    }
                    (None, FetchPolicy::AfterFetch(error)) => {
                        let kind = TokenErrorKind::KeysUnavailable;
                        return Err(match error {
                            Some(error) => TokenError::with_source(kind, error),
                            None => kind.into(),
                        }
                        .into());
                    }
                }
            }
        };
        #[cfg(not(feature = "remote"))]
        let FetchPolicy::Allowed = policy;

        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        match jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input.as_bytes(),
            key.decoding_key(),
            alg,
        ) {
            Ok(true) => {}
            Ok(false) => return Err(TokenErrorKind::InvalidSignature.into()),
            Err(e) => {
                return Err(TokenError::with_source(TokenErrorKind::InvalidSignature, e).into());
            }
        }

        let expires_at =
            claims::numeric_date(&claims, "exp")?.ok_or(TokenErrorKind::MissingClaim {
                claim: "exp".into(),
            })?;
        if now >= expires_at.saturating_add(self.leeway) {
            return Err(expired(expires_at, now).into());
        }
        let not_before = claims::numeric_date(&claims, "nbf")?;
        if let Some(nbf) = not_before
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(TokenErrorKind::NotYetValid {
                nbf: unix_time(nbf),
                now: unix_time(now),
            }
            .into());
        }
        let issued_at = claims::numeric_date(&claims, "iat")?;
        if let Some(iat) = issued_at
            && iat > now.saturating_add(self.leeway)
        {
            return Err(TokenErrorKind::IssuedInFuture {
                iat: unix_time(iat),
                now: unix_time(now),
            }
            .into());
        }
        let audiences = claims::audiences(&claims)?;
        if !audiences.iter().any(|a| issuer.audiences.contains(a)) {
            return Err(TokenErrorKind::InvalidAudience {
                expected: issuer.audiences.clone(),
            }
            .into());
        }
        for required in &self.required_claims {
            if claims.get(required).is_none_or(Value::is_null) {
                return Err(TokenErrorKind::MissingClaim {
                    claim: required.clone(),
                }
                .into());
            }
        }
        let subject = claims::string(&claims, "sub")?;
        let jwt_id = claims::string(&claims, "jti")?;
        let cnf_x5t = claims::confirmation_thumbprint(&claims)?;

        let mut scopes = Scopes::default();
        for name in ["scope", "scp"] {
            if let Some(value) = claims.get(name) {
                scopes.insert_value(value);
            }
        }
        for path in &self.scope_claims {
            if let Some(value) = claim_at_path(&claims, path) {
                scopes.insert_value(value);
            }
        }

        Ok(VerifiedToken {
            issuer: issuer_name,
            subject,
            audiences,
            expires_at,
            not_before,
            issued_at,
            jwt_id,
            algorithm: alg,
            key_id: key.kid().map(str::to_owned),
            scopes,
            claims,
            raw: token.into(),
            cnf_x5t,
        })
    }
}

fn expired(exp: i64, now: i64) -> TokenErrorKind {
    TokenErrorKind::Expired {
        exp: unix_time(exp),
        now: unix_time(now),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))
}

/// `typ` compares case-insensitively with any `application/` prefix removed (RFC 7515 §4.1.9).
fn normalize_type(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Validator")
            .field(
                "issuers",
                &inner.issuers.iter().map(|i| &i.issuer).collect::<Vec<_>>(),
            )
            .field("leeway", &inner.leeway)
            .field("required_type", &inner.required_type)
            .field("required_claims", &inner.required_claims)
            .field("max_token_len", &inner.max_token_len)
            .field("token_cache", &inner.cache.is_some())
            .finish_non_exhaustive()
    }
}

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

    /// Takes this issuer's keys from a source: a JWKS URL or discovery (feature `remote`).
    /// An issuer has one source, or static keys, not both.
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

    fn build(self, allowed: &[Algorithm]) -> Result<IssuerEntry, ConfigError> {
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
                if let super::jwks::refresh::Location::Discovery { issuer, .. } = remote.location()
                    && *issuer != self.issuer
                {
                    return Err(ConfigErrorKind::DiscoveryIssuerMismatch {
                        issuer: self.issuer,
                        source_issuer: issuer.clone(),
                    }
                    .into());
                }
                IssuerKeys::Remote(remote)
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
) -> Result<IssuerKeys, ConfigError> {
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
    Ok(IssuerKeys::Static(keys))
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
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    required_type: Option<String>,
    required_claims: Vec<String>,
    scope_claims: Vec<String>,
    max_token_len: usize,
    max_header_len: usize,
    cache_capacity: u64,
    error: Option<ConfigError>,
}

impl ValidatorBuilder {
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

    /// Requires the header's `typ`, compared case-insensitively with an `application/`
    /// prefix ignored: `require_type("at+jwt")` for RFC 9068 access tokens.
    pub fn require_type(mut self, typ: &str) -> Self {
        self.required_type = Some(normalize_type(typ));
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
            let entry = issuer.build(&self.algorithms)?;
            if issuers.iter().any(|i| i.issuer == entry.issuer) {
                return Err(ConfigErrorKind::DuplicateIssuer {
                    issuer: entry.issuer,
                }
                .into());
            }
            issuers.push(entry);
        }
        Ok(Validator {
            inner: Arc::new(Inner {
                issuers,
                algorithms: self.algorithms,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
                required_type: self.required_type,
                required_claims: self.required_claims,
                scope_claims: self.scope_claims,
                max_token_len: self.max_token_len,
                max_header_len: self.max_header_len,
                cache: (self.cache_capacity > 0).then(|| TokenCache::new(self.cache_capacity)),
                counters: Counters::default(),
            }),
        })
    }
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuers", &self.issuers)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
