//! The [`ServiceSigner`]: a service's identity and keys, the tokens it mints for onward
//! calls, and the key rotation that peers never notice.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use serde::Serialize;
use serde_json::Value;

use super::error::{MintConfigError, MintConfigErrorKind, MintError, MintErrorKind};
use super::key::SigningKey;
use crate::jwt::SERVICE_TOKEN_TYPE;
use crate::principal::{Principal, Scopes, unix_now};

mod builder;
mod token;

pub use self::builder::ServiceSignerBuilder;
pub use self::token::ServiceToken;

/// Default lifetime of a minted service token.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest lifetime a service token may be given.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Default time a rotated-in key is published before it signs: 10 minutes.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(10 * 60);
/// Default `Cache-Control: max-age` of the published JWKS.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// Default number of minted tokens kept for reuse.
pub const DEFAULT_MINTED_TOKEN_CACHE: u64 = 10_000;

/// How long past a token's `exp` its key stays published: the leeway receivers allow.
const PUBLISH_MARGIN: Duration = Duration::from_secs(60);

/// A service's identity and signing keys: it mints the service tokens this service sends on
/// its onward calls, and publishes its public keys (see [`JwksPublisher`](super::JwksPublisher)).
///
/// Cloning is cheap: clones share keys and the minted-token cache.
///
/// ```
/// use meshward::mint::{ServiceSigner, SigningKey};
/// use jsonwebtoken::Algorithm;
///
/// let signer = ServiceSigner::builder(
///     "spiffe://prod.example/ns/orders/sa/api",
///     SigningKey::generate(Algorithm::ES256)?,
/// )
/// .build()?;
/// let token = signer.mint_as_service("spiffe://prod.example/ns/inventory/sa/api")?;
/// assert_eq!(token.as_str().split('.').count(), 3);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// # Key rotation
///
/// [`rotate`](Self::rotate) publishes the new key at once and signs with it only after the
/// [rotation overlap](ServiceSignerBuilder::rotation_overlap), so that every peer has seen
/// it (in its JWKS refresh, or by refetching on the unknown `kid`) before the first token it
/// signs arrives. The old key stays published until every token it signed has expired.
#[derive(Clone)]
pub struct ServiceSigner {
    inner: Arc<SignerInner>,
}

struct SignerInner {
    identity: String,
    lifetime: Duration,
    overlap: Duration,
    jwks_max_age: Duration,
    ring: RwLock<Vec<RingKey>>,
    cache: Option<moka::sync::Cache<[u8; 32], Cached>>,
}

/// One key of the ring, from the moment it may sign.
#[derive(Clone)]
struct RingKey {
    key: SigningKey,
    /// The encoded header every token it signs carries.
    header_b64: Arc<str>,
    signs_from: SystemTime,
}

#[derive(Clone)]
struct Cached {
    token: ServiceToken,
    reuse_for: Duration,
}

struct ReuseUntil;

impl moka::Expiry<[u8; 32], Cached> for ReuseUntil {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        value: &Cached,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.reuse_for)
    }
}

/// The claim set of a service token (see the manual's service-token chapter).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    act: Actor<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_token: Option<&'a str>,
}

/// RFC 8693 `act`: the service acting now, nesting the actors before it.
#[derive(Serialize)]
struct Actor<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a Value>,
}

impl ServiceSigner {
    /// Starts a signer for the service named `identity` (a URL or a SPIFFE ID: the `iss` of
    /// every token it mints, and what peers trust it as), signing with `key`.
    pub fn builder(identity: impl Into<String>, key: SigningKey) -> ServiceSignerBuilder {
        ServiceSignerBuilder {
            identity: identity.into(),
            key,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            overlap: DEFAULT_ROTATION_OVERLAP,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            cache_capacity: DEFAULT_MINTED_TOKEN_CACHE,
        }
    }

    /// The service's identity: the `iss` of its tokens.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Mints a token for a call to `audience` on behalf of `principal` (the caller this
    /// service is serving): it embeds the token the principal came with, carries the
    /// principal's subject and scopes, and names this service as the actor, nesting the
    /// actors before it.
    ///
    /// A token minted before for the same audience, received token and scopes is reused
    /// until shortly before it expires.
    ///
    /// # Errors
    ///
    /// [`MintErrorKind::NoActiveKey`] or [`MintErrorKind::Signing`] when no signature can
    /// be made.
    pub fn mint(&self, principal: &Principal, audience: &str) -> Result<ServiceToken, MintError> {
        self.mint_for(Some(principal), audience, None)
    }

    /// As [`mint`](Self::mint), carrying only the principal's scopes that are among
    /// `scopes`: a hop may narrow the scopes it passes on, never widen them.
    ///
    /// # Errors
    ///
    /// As [`mint`](Self::mint).
    pub fn mint_narrowed<'s>(
        &self,
        principal: &Principal,
        audience: &str,
        scopes: impl IntoIterator<Item = &'s str>,
    ) -> Result<ServiceToken, MintError> {
        let wanted: Vec<&str> = scopes.into_iter().collect();
        let kept = Scopes::from_names(
            principal
                .scopes()
                .iter()
                .filter(|held| wanted.contains(held)),
        );
        self.mint_for(Some(principal), audience, Some(&kept))
    }

    /// Mints a token for a call this service makes on its own behalf, with no end user:
    /// `sub` is the service itself, and no token is embedded.
    ///
    /// # Errors
    ///
    /// As [`mint`](Self::mint).
    pub fn mint_as_service(&self, audience: &str) -> Result<ServiceToken, MintError> {
        self.mint_for(None, audience, None)
    }

    pub(crate) fn mint_for(
        &self,
        principal: Option<&Principal>,
        audience: &str,
        narrowed: Option<&Scopes>,
    ) -> Result<ServiceToken, MintError> {
        if audience.is_empty() {
            return Err(MintErrorKind::NoAudience.into());
        }
        let scopes = narrowed.or_else(|| principal.map(Principal::scopes));
        let scope = scopes.filter(|s| !s.is_empty()).map(ToString::to_string);
        let received = principal.map(Principal::token);
        let key = self.inner.cache.as_ref().map(|cache| {
            (
                cache,
                cache_key(audience, received.unwrap_or_default(), scope.as_deref()),
            )
        });
        if let Some((cache, key)) = &key
            && let Some(hit) = cache.get(key)
        {
            return Ok(hit.token);
        }
        let token = self.sign(principal, audience, scope.as_deref())?;
        if let Some((cache, key)) = key {
            let left = token.expires_at.saturating_sub(unix_now());
            // Reused for three quarters of what is left: a receiver never gets one about to
            // expire.
            let reuse_for = Duration::from_secs(u64::try_from(left).unwrap_or(0)).mul_f64(0.75);
            if !reuse_for.is_zero() {
                cache.insert(
                    key,
                    Cached {
                        token: token.clone(),
                        reuse_for,
                    },
                );
            }
        }
        Ok(token)
    }

    fn sign(
        &self,
        principal: Option<&Principal>,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<ServiceToken, MintError> {
        let inner = &*self.inner;
        let signer = inner.signing_key(SystemTime::now())?;
        let now = unix_now();
        let lifetime = i64::try_from(inner.lifetime.as_secs()).unwrap_or(60);
        // A hop never outlives the token it embeds.
        let exp = principal.map_or(now + lifetime, |p| {
            (now + lifetime).min(p.expires_at_secs())
        });
        let jti = random_id()?;
        let (sub, subject_token, nested) = match principal {
            Some(p) => (
                p.subject().unwrap_or(&inner.identity),
                Some(p.token()),
                p.is_delegated()
                    .then(|| p.received_claims().get("act"))
                    .flatten(),
            ),
            None => (inner.identity.as_str(), None, None),
        };
        let claims = Claims {
            iss: &inner.identity,
            sub,
            aud: audience,
            iat: now,
            exp,
            jti: &jti,
            act: Actor {
                sub: &inner.identity,
                act: nested,
            },
            scope,
            subject_token,
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| MintErrorKind::Signing)?;
        let mut jws = String::with_capacity(
            signer.header_b64.len() + payload.len() * 4 / 3 + 100 + "Bearer ".len(),
        );
        jws.push_str(ServiceToken::PREFIX);
        jws.push_str(&signer.header_b64);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = jsonwebtoken::crypto::sign(
            &jws.as_bytes()[ServiceToken::PREFIX.len()..],
            signer.key.encoding_key(),
            signer.key.algorithm(),
        )
        .map_err(|e| MintError::with_source(MintErrorKind::Signing, e))?;
        jws.push('.');
        jws.push_str(&signature);
        let mut authorization =
            HeaderValue::try_from(jws).map_err(|_| MintErrorKind::InvalidHeaderValue)?;
        authorization.set_sensitive(true);
        Ok(ServiceToken {
            authorization,
            expires_at: exp,
        })
    }

    /// Adds `key` to the ring: published from now on, signing once the rotation overlap has
    /// passed; the keys it replaces stay published until every token they signed expired.
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::DuplicateKid`] when a published key has the same `kid`.
    pub fn rotate(&self, key: SigningKey) -> Result<(), MintConfigError> {
        self.rotate_at(key, SystemTime::now() + self.inner.overlap)
    }

    /// As [`rotate`](Self::rotate), with the moment the new key starts signing given
    /// explicitly (`SystemTime::now()` makes it sign at once).
    ///
    /// # Security
    ///
    /// A key that signs before peers have fetched it gets its tokens refused until they
    /// refetch (each peer refetches on an unknown `kid` at most once per cooldown).
    ///
    /// # Errors
    ///
    /// As [`rotate`](Self::rotate).
    pub fn rotate_at(
        &self,
        key: SigningKey,
        signs_from: SystemTime,
    ) -> Result<(), MintConfigError> {
        let mut ring = self
            .inner
            .ring
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        let published = self.inner.published_indices(&ring, now);
        let mut kept: Vec<RingKey> = ring
            .iter()
            .enumerate()
            .filter(|(i, _)| published.contains(i))
            .map(|(_, k)| k.clone())
            .collect();
        if kept.iter().any(|k| k.key.kid() == key.kid()) {
            return Err(MintConfigErrorKind::DuplicateKid {
                kid: key.kid().to_owned(),
            }
            .into());
        }
        kept.push(RingKey::new(key, signs_from)?);
        kept.sort_by_key(|k| k.signs_from);
        *ring = kept;
        tracing::info!(
            target: "meshward::mint",
            identity = %self.inner.identity,
            keys = ring.len(),
            "signing key rotated in"
        );
        Ok(())
    }

    /// The public JWKs of every key published now: those that sign, those about to, and
    /// those whose tokens may still be live.
    pub fn published_jwks(&self) -> Value {
        let ring = self
            .inner
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let published = self.inner.published_indices(&ring, SystemTime::now());
        let keys: Vec<Value> = published
            .into_iter()
            .filter_map(|i| ring.get(i))
            .map(|k| k.key.public_jwk().clone())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The `kid` of the key that signs now.
    ///
    /// # Errors
    ///
    /// [`MintErrorKind::NoActiveKey`] when every key starts signing later.
    pub fn signing_kid(&self) -> Result<String, MintError> {
        self.inner
            .signing_key(SystemTime::now())
            .map(|k| k.key.kid().to_owned())
    }

    /// The `max-age` the JWKS is published with.
    pub(crate) fn jwks_max_age(&self) -> Duration {
        self.inner.jwks_max_age
    }
}

impl SignerInner {
    fn signing_key(&self, now: SystemTime) -> Result<RingKey, MintError> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        ring.iter()
            .rev()
            .find(|k| k.signs_from <= now)
            .cloned()
            .ok_or_else(|| MintErrorKind::NoActiveKey.into())
    }

    /// The ring positions published at `now`: every key that signs now or later, and each
    /// older key until the tokens it signed (until its successor took over) have expired.
    fn published_indices(&self, ring: &[RingKey], now: SystemTime) -> Vec<usize> {
        (0..ring.len())
            .filter(|&i| match ring.get(i + 1) {
                None => true,
                Some(next) => now < next.signs_from + self.lifetime + PUBLISH_MARGIN,
            })
            .collect()
    }
}

impl RingKey {
    fn new(key: SigningKey, signs_from: SystemTime) -> Result<Self, MintConfigError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: jsonwebtoken::Algorithm,
            kid: &'a str,
            typ: &'a str,
        }
        let header = serde_json::to_vec(&Header {
            alg: key.algorithm(),
            kid: key.kid(),
            typ: SERVICE_TOKEN_TYPE,
        })
        .map_err(|_| MintConfigErrorKind::InvalidKey {
            reason: "cannot encode the token header",
        })?;
        Ok(Self {
            header_b64: URL_SAFE_NO_PAD.encode(header).into(),
            key,
            signs_from,
        })
    }
}

/// 128 random bits, base64url: a `jti` no other token shares.
fn random_id() -> Result<String, MintError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| MintErrorKind::Signing)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What makes two mints the same: the audience, the token received, the scopes passed on.
fn cache_key(audience: &str, received: &str, scope: Option<&str>) -> [u8; 32] {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [audience, received, scope.unwrap_or("\0none")] {
        digest.update(&(part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let mut out = [0; 32];
    out.copy_from_slice(digest.finish().as_ref());
    out
}

impl fmt::Debug for ServiceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self
            .inner
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("ServiceSigner")
            .field("identity", &self.inner.identity)
            .field(
                "kids",
                &ring.iter().map(|k| k.key.kid()).collect::<Vec<_>>(),
            )
            .field("lifetime", &self.inner.lifetime)
            .finish_non_exhaustive()
    }
}
