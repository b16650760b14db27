//! The checks of one token: the header, the issuer, the signature, then the claims.
//! Nothing from the payload but `iss` is read before the signature has been checked.

use crate::jwt::VerifyingKey;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::super::claims;
use super::super::error::{TokenError, TokenErrorKind};
use super::Inner;
use super::lookup::{Failure, FetchPolicy, IssuerEntry, KeySetVersion};
use super::resolve::Unresolved;
use crate::principal::{Scopes, TypedClaims, VerifiedToken, claim_at_path};

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

/// A compact JWS split, its header read and checked (size, JSON, algorithm, no `crit`);
/// nothing about it is verified yet.
pub(crate) struct Jws<'a> {
    header: RawHeader,
    pub(crate) alg: Algorithm,
    payload_b64: &'a str,
    pub(crate) signature_b64: &'a str,
    /// `header.payload`: what the signature covers.
    pub(crate) signing_input: &'a str,
}

impl<'a> Jws<'a> {
    pub(crate) fn parse(token: &'a str, max_header_len: usize) -> Result<Self, TokenError> {
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(TokenErrorKind::Malformed.into());
        };
        if header_b64.len() > max_header_len {
            return Err(TokenErrorKind::TooLarge {
                len: header_b64.len(),
                max: max_header_len,
            }
            .into());
        }
        let header: RawHeader = decode_json(header_b64)?;
        let alg = Algorithm::from_str(&header.alg)
            .map_err(|_| TokenError::new(TokenErrorKind::UnsupportedAlgorithm))?;
        if header.crit.is_some() {
            return Err(TokenErrorKind::UnsupportedCritical.into());
        }
        Ok(Self {
            header,
            alg,
            payload_b64,
            signature_b64,
            signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        })
    }

    #[cfg(test)]
    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The payload's bytes: strict base64url (no padding, no stray characters, no trailing
    /// bits), or the token is malformed.
    pub(crate) fn payload(&self) -> Result<Vec<u8>, TokenError> {
        URL_SAFE_NO_PAD
            .decode(self.payload_b64)
            .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))
    }
}

/// Checks `signature_b64` over `signing_input` with `key` for `alg` (the key already chosen
/// as one that may verify `alg`).
pub(crate) fn check_signature(
    key: &VerifyingKey,
    alg: Algorithm,
    signing_input: &[u8],
    signature_b64: &str,
) -> Result<(), TokenError> {
    match jsonwebtoken::crypto::verify(signature_b64, signing_input, key.decoding_key(), alg) {
        Ok(true) => Ok(()),
        Ok(false) => Err(TokenErrorKind::InvalidSignature.into()),
        Err(e) => Err(TokenError::with_source(TokenErrorKind::InvalidSignature, e)),
    }
}

/// A token whose signature checked out; its claims are checked next.
struct Signed<'a> {
    issuer: &'a IssuerEntry,
    issuer_name: String,
    claims: Map<String, Value>,
    alg: Algorithm,
    key_id: Option<String>,
    key_fingerprint: u64,
    token: &'a str,
}

impl Inner {
    /// Checks one token: header, issuer, key and signature, then the claims. Also says which
    /// load of the issuer's keys verified it.
    pub(super) fn verify(
        &self,
        token: &str,
        now: i64,
        policy: FetchPolicy,
    ) -> Result<(VerifiedToken, KeySetVersion), Failure> {
        let jws = Jws::parse(token, self.max_header_len)?;
        let payload = jws.payload()?;
        let Jws {
            header,
            alg,
            signature_b64,
            signing_input,
            ..
        } = jws;
        let kid = header.kid.as_deref();
        // Explicit typing (RFC 8725 §3.11): a service token never passes where another token
        // is expected, nor another token where a service token is.
        let typ = header.typ.as_deref().map(normalize_type);
        let is_service_token = typ.as_deref() == Some(SERVICE_TOKEN_TYPE);
        if is_service_token != self.service_tokens {
            return Err(TokenErrorKind::InvalidType.into());
        }
        if let Some(required) = &self.required_type
            && typ.as_deref() != Some(required.as_str())
        {
            return Err(TokenErrorKind::InvalidType.into());
        }

        // The issuer picks the key set, so `iss` is read before the signature is checked;
        // nothing else from the payload is trusted until it has been.
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))?;
        let issuer_name = claims::string(&claims, "iss")?.ok_or(TokenErrorKind::MissingClaim {
            claim: "iss".into(),
        })?;
        let resolved;
        let issuer = match self.issuers.iter().find(|i| i.issuer == issuer_name) {
            Some(issuer) => issuer,
            None => {
                let resolver = self
                    .resolved
                    .as_ref()
                    .ok_or(TokenErrorKind::InvalidIssuer)?;
                resolved = resolver
                    .entry(&issuer_name, &self.algorithms, self.cache.as_ref())
                    .map_err(|unresolved| match unresolved {
                        Unresolved::Refused => TokenErrorKind::InvalidIssuer,
                        Unresolved::Throttled => TokenErrorKind::KeysUnavailable,
                    })?;
                &*resolved
            }
        };
        issuer
            .with_key(kid, alg, &self.algorithms, policy, |key| {
                check_signature(key, alg, signing_input.as_bytes(), signature_b64)?;
                Ok((key.kid().map(str::to_owned), key.fingerprint()))
            })
            .and_then(|((key_id, key_fingerprint), version)| {
                let signed = Signed {
                    issuer,
                    issuer_name,
                    claims,
                    alg,
                    key_id,
                    key_fingerprint,
                    token,
                };
                self.check_claims(signed, now).map(|v| (v, version))
            })
    }

    /// Everything after the signature: the registered claims, required claims, scopes.
    fn check_claims(&self, signed: Signed<'_>, now: i64) -> Result<VerifiedToken, Failure> {
        let Signed {
            issuer,
            issuer_name,
            claims,
            alg,
            key_id,
            key_fingerprint,
            token,
        } = signed;
        let claims::Times {
            expires_at,
            not_before,
            issued_at,
        } = claims::check_times(
            &claims,
            claims::TimeRules {
                leeway: self.leeway,
                max_lifetime: self.max_lifetime,
            },
            now,
        )?;
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
                // A space-delimited string (RFC 8693) or an array of strings (`scp`):
                // anything else is a malformed claim, not "no scopes".
                let well_formed = match value {
                    Value::String(_) => true,
                    Value::Array(items) => items.iter().all(Value::is_string),
                    _ => false,
                };
                if !well_formed {
                    return Err(TokenErrorKind::InvalidClaim {
                        claim: name.to_owned(),
                    }
                    .into());
                }
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
            algorithm: Some(alg),
            key_id,
            key_fingerprint,
            scopes,
            claims,
            raw: token.into(),
            cnf_x5t,
            typed: TypedClaims::default(),
        })
    }
}

/// The `typ` of meshward's service tokens (see the manual's service-token chapter).
pub(crate) const SERVICE_TOKEN_TYPE: &str = "svc+jwt";

/// The normalised `typ` of a token's header, read without verifying anything: which kind of
/// token it claims to be, to pick the verifier. `None` when there is none or the header is
/// not readable (the verifier then refuses the token itself).
pub(crate) fn header_type(token: &str, max_header_len: usize) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TypOnly {
        #[serde(default)]
        typ: Option<String>,
    }
    let header = token.split('.').next()?;
    if header.len() > max_header_len {
        return None;
    }
    let parsed: TypOnly = decode_json(header).ok()?;
    parsed.typ.as_deref().map(normalize_type)
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::with_source(TokenErrorKind::Malformed, e))
}

/// `typ` compares case-insensitively with any `application/` prefix removed (RFC 7515 §4.1.9).
pub(super) fn normalize_type(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}
