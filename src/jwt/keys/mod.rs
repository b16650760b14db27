//! Verification keys, each pinned to the algorithms it may verify, and the sets and sources
//! they come from.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use serde_json::Value;

use super::error::{ConfigError, ConfigErrorKind, TokenErrorKind};

/// The largest JWKS or key file read from disk.
const MAX_KEY_FILE: u64 = 1024 * 1024;

/// The asymmetric algorithms a validator accepts unless told otherwise.
pub(crate) const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A public key (or, when added explicitly, an HMAC secret) and the algorithms it may
/// verify.
///
/// The algorithm a token's header names only *selects* among those the key allows: an RSA
/// key never verifies an HMAC signature, an HMAC secret never sits beside public keys, and
/// `none` cannot be expressed at all.
///
/// ```
/// use meshward::jwt::VerifyingKey;
/// use jsonwebtoken::Algorithm;
///
/// let jwk = r#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
///               "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let key = VerifyingKey::from_jwk_json(jwk)?;
/// assert_eq!(key.kid(), Some("k1"));
/// assert_eq!(key.algorithms(), &[Algorithm::EdDSA]);
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<Arc<str>>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
    /// Names this key (its `kid` and material) among the keys ever loaded, so that tokens
    /// verified with it can be dropped from the cache when it is no longer published.
    fingerprint: KeyFingerprint,
}

/// The first 64 bits of SHA-256 over a key's `kid` and material. Two keys sharing one
/// only cost a re-verification when either is removed, never an accepted token.
pub(crate) type KeyFingerprint = u64;

fn fingerprint(kid: Option<&str>, key: &DecodingKey) -> KeyFingerprint {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let kid = kid.unwrap_or_default();
    digest.update(&(kid.len() as u64).to_be_bytes());
    digest.update(kid.as_bytes());
    match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => digest.update(bytes),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            digest.update(&(n.len() as u64).to_be_bytes());
            digest.update(n);
            digest.update(e);
        }
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.finish().as_ref()[..8]);
    u64::from_be_bytes(first)
}

impl VerifyingKey {
    /// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`); it may verify RS256,
    /// RS384, RS512, PS256, PS384 and PS512 unless narrowed.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidKey`] when the PEM is not an RSA public key.
    pub fn from_rsa_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let key = DecodingKey::from_rsa_pem(pem).map_err(invalid_key("not an RSA public key"))?;
        Ok(Self::with_family(key))
    }

    /// An EC public key in PEM; it may verify ES256 and ES384 unless narrowed (a signature
    /// made for the other curve simply fails to verify).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidKey`] when the PEM is not an EC public key.
    pub fn from_ec_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let key = DecodingKey::from_ec_pem(pem).map_err(invalid_key("not an EC public key"))?;
        Ok(Self::with_family(key))
    }

    /// An Ed25519 public key in PEM; it verifies EdDSA.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidKey`] when the PEM is not an Ed25519 public key.
    pub fn from_ed_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let key =
            DecodingKey::from_ed_pem(pem).map_err(invalid_key("not an Ed25519 public key"))?;
        Ok(Self::with_family(key))
    }

    /// A public JWK (RFC 7517). Its `alg`, when present, pins the one algorithm it may
    /// verify; without `alg` the algorithms follow from `kty` and `crv`. Its `kid` is kept.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidKey`] for symmetric (`oct`) keys, keys marked for
    /// encryption, unsupported curves, and an `alg` that does not fit the key.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, ConfigError> {
        key_from_jwk(jwk).map_err(|reason| ConfigErrorKind::InvalidKey { reason }.into())
    }

    /// A public JWK given as JSON text.
    ///
    /// # Errors
    ///
    /// As [`from_jwk`](Self::from_jwk), and [`ConfigErrorKind::InvalidKey`] when the text is
    /// not a JWK.
    pub fn from_jwk_json(json: &str) -> Result<Self, ConfigError> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|e| {
            ConfigError::with_source(
                ConfigErrorKind::InvalidKey {
                    reason: "not a JWK",
                },
                e,
            )
        })?;
        Self::from_jwk(&jwk)
    }

    /// An HMAC secret for exactly one HS algorithm, at least as long as its hash output.
    pub(crate) fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, ConfigError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Err(ConfigErrorKind::AlgorithmMismatch { alg }.into()),
        };
        if secret.len() < min {
            return Err(ConfigErrorKind::WeakSecret {
                alg,
                len: secret.len(),
                min,
            }
            .into());
        }
        let key = DecodingKey::from_secret(secret);
        Ok(Self {
            kid: None,
            algorithms: vec![alg],
            fingerprint: fingerprint(None, &key),
            key,
        })
    }

    fn with_family(key: DecodingKey) -> Self {
        Self {
            kid: None,
            algorithms: key.family().algorithms().to_vec(),
            fingerprint: fingerprint(None, &key),
            key,
        }
    }

    /// Sets the key id a token's `kid` header must name to select this key.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid: Arc<str> = kid.into().into();
        self.fingerprint = fingerprint(Some(&kid), &self.key);
        self.kid = Some(kid);
        self
    }

    /// Narrows the algorithms this key may verify to those in `algorithms` that fit it.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::NoAllowedAlgorithm`] when none is left.
    pub fn with_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, ConfigError> {
        let allowed: Vec<Algorithm> = algorithms.into_iter().collect();
        if self.narrow(&allowed) {
            Ok(self)
        } else {
            Err(ConfigErrorKind::NoAllowedAlgorithm {
                kid: self.kid.as_deref().map(str::to_owned),
            }
            .into())
        }
    }

    /// Keeps only the algorithms in `allowed`; says whether any is left.
    pub(crate) fn narrow(&mut self, allowed: &[Algorithm]) -> bool {
        self.algorithms.retain(|a| allowed.contains(a));
        !self.algorithms.is_empty()
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether this is an HMAC secret.
    pub fn is_hmac(&self) -> bool {
        self.key.family() == AlgorithmFamily::Hmac
    }

    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    pub(crate) fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn invalid_key(reason: &'static str) -> impl FnOnce(jsonwebtoken::errors::Error) -> ConfigError {
    move |e| ConfigError::with_source(ConfigErrorKind::InvalidKey { reason }, e)
}

/// Turns a JWK into a verifying key, or says in a few words why it cannot be one.
pub(crate) fn key_from_jwk(jwk: &Jwk) -> Result<VerifyingKey, &'static str> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("key is not for signatures"),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err("key_ops does not allow verify");
    }
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return Err("unsupported elliptic curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return Err("unsupported OKP curve"),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never taken from a JWK");
        }
        _ => return Err("unsupported key type"),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => family.to_vec(),
        Some(alg) => {
            let alg = Algorithm::try_from(alg).map_err(|_| "alg is not a signature algorithm")?;
            if !family.contains(&alg) {
                return Err("alg does not fit the key type");
            }
            vec![alg]
        }
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "invalid key parameters")?;
    let kid = jwk.common.key_id.as_deref();
    Ok(VerifyingKey {
        kid: kid.map(Arc::from),
        algorithms,
        fingerprint: fingerprint(kid, &key),
        key,
    })
}

/// A set of verification keys: what a JWKS document holds, or what you configure by hand.
///
/// A token names its key with `kid`. A key without a `kid` answers for any `kid` that no
/// other key claims. A token without `kid` is tried only when exactly one key may verify its
/// algorithm.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a JWKS document (`{"keys":[…]}`). Keys that cannot verify signatures here
    /// (encryption keys, symmetric keys, unsupported curves or algorithms) are skipped.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidJwks`] when the text is not a JWKS document or holds no
    /// usable key.
    pub fn from_jwks_json(json: &str) -> Result<Self, ConfigError> {
        let set = parse_jwks(json.as_bytes(), usize::MAX)
            .map_err(|reason| ConfigError::new(ConfigErrorKind::InvalidJwks { reason }))?;
        if set.is_empty() {
            return Err(ConfigErrorKind::InvalidJwks {
                reason: "no usable key",
            }
            .into());
        }
        Ok(set)
    }

    /// Reads and parses a JWKS document from a file (at most 1 MiB).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::Io`] when the file cannot be read or is too large, else as
    /// [`from_jwks_json`](Self::from_jwks_json).
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let io_error = |e: std::io::Error| {
            ConfigError::with_source(
                ConfigErrorKind::Io {
                    path: path.display().to_string(),
                },
                e,
            )
        };
        let len = std::fs::metadata(path).map_err(io_error)?.len();
        if len > MAX_KEY_FILE {
            return Err(io_error(std::io::Error::other("file larger than 1 MiB")));
        }
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        Self::from_jwks_json(&text)
    }

    /// Adds a key.
    pub fn push(&mut self, key: VerifyingKey) {
        self.keys.push(key);
    }

    /// The keys.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The fingerprints of this set's keys that `newer` no longer holds.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn removed_in(&self, newer: &KeySet) -> Vec<KeyFingerprint> {
        self.keys
            .iter()
            .map(VerifyingKey::fingerprint)
            .filter(|f| !newer.keys.iter().any(|k| k.fingerprint == *f))
            .collect()
    }

    pub(crate) fn keys_mut(&mut self) -> &mut Vec<VerifyingKey> {
        &mut self.keys
    }

    /// Picks the key for a token's `kid` and `alg`.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerifyingKey, TokenErrorKind> {
        let mut kid_matched = false;
        if let Some(kid) = kid {
            for key in self.keys.iter().filter(|k| k.kid() == Some(kid)) {
                if key.allows(alg) {
                    return Ok(key);
                }
                kid_matched = true;
            }
            if kid_matched {
                return Err(TokenErrorKind::AlgorithmNotAllowed { alg });
            }
        }
        // Keys without a kid answer for a token without one, and for a kid no key claims.
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| k.kid.is_none() || kid.is_none());
        let mut allowing = candidates.clone().filter(|k| k.allows(alg));
        match (allowing.next(), allowing.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(TokenErrorKind::AmbiguousKey),
            (None, _) if kid.is_none() && candidates.next().is_some() => {
                Err(TokenErrorKind::AlgorithmNotAllowed { alg })
            }
            (None, _) => Err(TokenErrorKind::UnknownKey {
                kid: kid.map(str::to_owned),
            }),
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

impl FromIterator<VerifyingKey> for KeySet {
    fn from_iter<I: IntoIterator<Item = VerifyingKey>>(iter: I) -> Self {
        Self {
            keys: iter.into_iter().collect(),
        }
    }
}

/// Parses a JWKS document, skipping keys that cannot be used and keeping at most
/// `max_keys` usable ones.
pub(crate) fn parse_jwks(bytes: &[u8], max_keys: usize) -> Result<KeySet, &'static str> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let doc: Document = serde_json::from_slice(bytes).map_err(|_| "not a JWKS document")?;
    let mut set = KeySet::new();
    for raw in doc.keys {
        if set.len() >= max_keys {
            tracing::warn!(
                max_keys,
                "JWKS holds more keys than allowed; the rest are ignored"
            );
            break;
        }
        let kid = raw.get("kid").and_then(Value::as_str).map(str::to_owned);
        match serde_json::from_value::<Jwk>(raw)
            .map_err(|_| "unparseable JWK")
            .and_then(|jwk| key_from_jwk(&jwk))
        {
            Ok(key) => set.push(key),
            Err(reason) => tracing::debug!(?kid, reason, "skipping JWK"),
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests;
