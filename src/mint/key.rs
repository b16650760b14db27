//! A service's private signing key, the algorithm it signs with, its `kid`, and the public
//! JWK that peers verify with.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::error::{MintConfigError, MintConfigErrorKind};

/// A private key a service signs its tokens with.
///
/// ES256 (P-256) is the default algorithm; EdDSA (Ed25519) and RS256 sign too. The key's
/// `kid` is the RFC 7638 thumbprint of its public JWK unless you name one. `Debug` never
/// prints the key; jsonwebtoken's `EncodingKey` that holds it zeroizes it when dropped.
///
/// ```
/// use meshward::mint::SigningKey;
/// use jsonwebtoken::Algorithm;
///
/// let key = SigningKey::generate(Algorithm::ES256)?;
/// assert_eq!(key.algorithm(), Algorithm::ES256);
/// assert_eq!(key.public_jwk()["kty"], "EC");
/// # Ok::<_, meshward::mint::MintConfigError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    public_jwk: Value,
}

fn invalid(reason: &'static str) -> MintConfigError {
    MintConfigErrorKind::InvalidKey { reason }.into()
}

impl SigningKey {
    /// A new key, made from the system's secure random source: ES256 or EdDSA. (RSA keys are
    /// slow to make and large; bring one with [`from_pem`](Self::from_pem).)
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::UnsupportedAlgorithm`] for other algorithms,
    /// [`MintConfigErrorKind::InvalidKey`] if the random source fails.
    pub fn generate(alg: Algorithm) -> Result<Self, MintConfigError> {
        let der = match alg {
            Algorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| invalid("key generation failed"))?,
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| invalid("key generation failed"))?,
            alg => return Err(MintConfigErrorKind::UnsupportedAlgorithm { alg }.into()),
        };
        let encoding = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(der.as_ref()),
            _ => EncodingKey::from_ed_der(der.as_ref()),
        };
        Self::new(encoding, alg)
    }

    /// A key in PEM (PKCS#8 `PRIVATE KEY`; for RS256 also `RSA PRIVATE KEY`), for `alg`:
    /// ES256, EdDSA or RS256.
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::InvalidKey`] when the PEM is not a private key of that kind,
    /// [`MintConfigErrorKind::UnsupportedAlgorithm`] for other algorithms.
    pub fn from_pem(pem: &[u8], alg: Algorithm) -> Result<Self, MintConfigError> {
        let encoding = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            alg => return Err(MintConfigErrorKind::UnsupportedAlgorithm { alg }.into()),
        }
        .map_err(|e| {
            MintConfigError::with_source(
                MintConfigErrorKind::InvalidKey {
                    reason: "not a private key for this algorithm",
                },
                e,
            )
        })?;
        Self::new(encoding, alg)
    }

    /// A private JWK (RFC 7517, with `d`) of an EC P-256 or Ed25519 key; its `kid` is kept.
    /// (For RSA, use [`from_pem`](Self::from_pem).)
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::InvalidKey`] when the JSON is not such a JWK or its public and
    /// private parts do not belong together.
    pub fn from_jwk_json(json: &str) -> Result<Self, MintConfigError> {
        let jwk: Value = serde_json::from_str(json).map_err(|_| invalid("not a JWK"))?;
        let field = |name: &str| -> Result<Vec<u8>, MintConfigError> {
            let value = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("a JWK member is missing"))?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| invalid("a JWK member is not base64url"))
        };
        let (encoding, alg) = match (
            jwk.get("kty").and_then(Value::as_str),
            jwk.get("crv").and_then(Value::as_str),
        ) {
            (Some("EC"), Some("P-256")) => {
                let mut point = vec![0x04];
                point.extend(field("x")?);
                point.extend(field("y")?);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &field("d")?,
                    &point,
                )
                .map_err(|_| invalid("the EC key's parts do not belong together"))?;
                let der = pair
                    .to_pkcs8v1()
                    .map_err(|_| invalid("cannot encode the key"))?;
                (EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256)
            }
            (Some("OKP"), Some("Ed25519")) => {
                let pair = Ed25519KeyPair::from_seed_unchecked(&field("d")?)
                    .map_err(|_| invalid("not an Ed25519 private key"))?;
                if pair.public_key().as_ref() != field("x")?.as_slice() {
                    return Err(invalid("the Ed25519 key's parts do not belong together"));
                }
                let der = pair
                    .to_pkcs8v1()
                    .map_err(|_| invalid("cannot encode the key"))?;
                (EncodingKey::from_ed_der(der.as_ref()), Algorithm::EdDSA)
            }
            _ => return Err(invalid("only EC P-256 and Ed25519 private JWKs are read")),
        };
        let key = Self::new(encoding, alg)?;
        match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => Ok(key.with_kid(kid)),
            None => Ok(key),
        }
    }

    fn new(encoding: EncodingKey, alg: Algorithm) -> Result<Self, MintConfigError> {
        let mut public_jwk = public_jwk(&encoding, alg)?;
        let thumbprint = serde_json::from_value::<Jwk>(public_jwk.clone())
            .map_err(|_| invalid("cannot describe the public key"))?
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| invalid("cannot describe the public key"))?;
        public_jwk["kid"] = Value::String(thumbprint.clone());
        Ok(Self {
            inner: Arc::new(KeyInner {
                kid: thumbprint,
                alg,
                encoding,
                public_jwk,
            }),
        })
    }

    /// The same key under another `kid`.
    #[must_use]
    pub fn with_kid(self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        let mut public_jwk = self.inner.public_jwk.clone();
        public_jwk["kid"] = Value::String(kid.clone());
        Self {
            inner: Arc::new(KeyInner {
                kid,
                alg: self.inner.alg,
                encoding: self.inner.encoding.clone(),
                public_jwk,
            }),
        }
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// The public JWK peers verify with (`kty`, the public parameters, `use`, `alg`, `kid`).
    pub fn public_jwk(&self) -> &Value {
        &self.inner.public_jwk
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.inner.encoding
    }
}

/// The public half as a JWK: jsonwebtoken derives EC and RSA public parameters; Ed25519's
/// comes from aws-lc (jsonwebtoken reads only 48-byte PKCS#8 v1 Ed25519 keys for that).
fn public_jwk(encoding: &EncodingKey, alg: Algorithm) -> Result<Value, MintConfigError> {
    let mut jwk = match alg {
        Algorithm::EdDSA => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(encoding.as_bytes())
                .map_err(|_| invalid("not an Ed25519 private key"))?;
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            })
        }
        _ => {
            let jwk = Jwk::from_encoding_key(encoding, alg)
                .map_err(|_| invalid("not a private key for this algorithm"))?;
            let mut value =
                serde_json::to_value(jwk).map_err(|_| invalid("cannot describe the public key"))?;
            if let Some(map) = value.as_object_mut() {
                map.retain(|name, _| {
                    matches!(name.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e")
                });
            }
            value
        }
    };
    jwk["use"] = json!("sig");
    jwk["alg"] = serde_json::to_value(alg).map_err(|_| invalid("unknown algorithm"))?;
    Ok(jwk)
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.inner.kid)
            .field("alg", &self.inner.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::VerifyingKey;

    #[test]
    fn generated_keys_publish_a_jwk_that_verifies_their_signatures() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let key = SigningKey::generate(alg).unwrap();
            let public = VerifyingKey::from_jwk_json(&key.public_jwk().to_string()).unwrap();
            assert_eq!(public.algorithms(), &[alg]);
            assert_eq!(public.kid(), Some(key.kid()));
            let signature = jsonwebtoken::crypto::sign(b"a.b", key.encoding_key(), alg).unwrap();
            assert!(
                jsonwebtoken::crypto::verify(&signature, b"a.b", public_decoding(&key), alg)
                    .unwrap()
            );
            assert_eq!(key.kid().len(), 43, "an RFC 7638 SHA-256 thumbprint");
        }
        assert_eq!(
            SigningKey::generate(Algorithm::HS256).unwrap_err().kind(),
            &MintConfigErrorKind::UnsupportedAlgorithm {
                alg: Algorithm::HS256
            }
        );
    }

    #[test]
    fn ed25519_pkcs8_v2_pem_publishes_its_public_key() {
        // PKCS#8 v2 carries the public key beside the seed (what aws-lc and several other
        // tools write); jsonwebtoken's JWK derivation reads only v1, so we derive it ourselves.
        use base64::engine::general_purpose::STANDARD;
        let pair = Ed25519KeyPair::generate().unwrap();
        let v2 = pair.to_pkcs8().unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(v2.as_ref())
        );
        let key = SigningKey::from_pem(pem.as_bytes(), Algorithm::EdDSA).unwrap();
        assert_eq!(
            key.public_jwk()["x"],
            json!(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
        );
        assert_eq!(key.public_jwk()["kty"], "OKP");
        let signature =
            jsonwebtoken::crypto::sign(b"a.b", key.encoding_key(), Algorithm::EdDSA).unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                &signature,
                b"a.b",
                public_decoding(&key),
                Algorithm::EdDSA
            )
            .unwrap()
        );
    }

    fn public_decoding(key: &SigningKey) -> &'static jsonwebtoken::DecodingKey {
        let jwk: Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        Box::leak(Box::new(jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap()))
    }

    #[test]
    fn private_jwks_round_trip_and_mismatched_parts_are_refused() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let d: EcPrivateKeyBin<'_> = pair.private_key().as_be_bytes().unwrap();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "mine",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            "d": URL_SAFE_NO_PAD.encode(d.as_ref()),
        });
        let key = SigningKey::from_jwk_json(&jwk.to_string()).unwrap();
        assert_eq!(key.kid(), "mine");
        assert_eq!(key.public_jwk()["x"], jwk["x"]);
        let mut wrong = jwk.clone();
        wrong["x"] = jwk["y"].clone();
        assert_eq!(
            SigningKey::from_jwk_json(&wrong.to_string())
                .unwrap_err()
                .kind(),
            &MintConfigErrorKind::InvalidKey {
                reason: "the EC key's parts do not belong together"
            }
        );
        // Ed25519: the seed in `d`, the public key in `x`.
        let seed = [7u8; 32];
        let ed = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let okp = json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "ed",
            "d": URL_SAFE_NO_PAD.encode(seed),
            "x": URL_SAFE_NO_PAD.encode(ed.public_key().as_ref()),
        });
        let key = SigningKey::from_jwk_json(&okp.to_string()).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EdDSA);
        assert_eq!(key.public_jwk()["x"], okp["x"]);
        assert_eq!(key.public_jwk()["crv"], "Ed25519");
        let signature =
            jsonwebtoken::crypto::sign(b"a.b", key.encoding_key(), Algorithm::EdDSA).unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                &signature,
                b"a.b",
                public_decoding(&key),
                Algorithm::EdDSA
            )
            .unwrap()
        );
        let mut wrong = okp.clone();
        wrong["x"] = json!(URL_SAFE_NO_PAD.encode([9u8; 32]));
        assert_eq!(
            SigningKey::from_jwk_json(&wrong.to_string())
                .unwrap_err()
                .kind(),
            &MintConfigErrorKind::InvalidKey {
                reason: "the Ed25519 key's parts do not belong together"
            }
        );
        let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"});
        assert!(SigningKey::from_jwk_json(&rsa.to_string()).is_err());
        assert!(SigningKey::from_jwk_json("{").is_err());
        assert!(SigningKey::from_pem(b"not pem", Algorithm::ES256).is_err());
        assert!(format!("{key:?}").contains("[redacted]"));
    }
}
