//! Errors of the JWT concern: [`TokenError`] at request time, [`ConfigError`] at build time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;

use crate::error::kinded_error;

kinded_error! {
    /// A bearer token was refused, or could not be checked.
    ///
    /// The [`kind`](TokenError::kind) says what went wrong, with the context needed to act on
    /// it (the expiry and the clock for an expired token, the accepted audiences for a wrong
    /// one). How each kind is answered (401, 400 or 503, and the gRPC code) is decided in one
    /// place, [`Rejection`](crate::Rejection).
    ///
    /// The `Display` text is meant for logs: it never contains the token, but it may contain
    /// values taken from it (a `kid`, a timestamp). Responses only carry
    /// [`TokenErrorKind::description`].
    pub struct TokenError(TokenErrorKind);
}

/// The kinds of [`TokenError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// The request carried no bearer token where one was expected (401 with no error code,
    /// RFC 6750 §3.1).
    #[error("no bearer token in the request")]
    Missing,
    /// The credential was not a well-formed bearer credential: two `Authorization` headers,
    /// `Bearer` with no token or with something after it, bytes outside the token alphabet
    /// (400 `invalid_request`).
    #[error("malformed bearer credential")]
    InvalidRequest,
    /// The token, or its header segment, is longer than the configured cap.
    #[error("token of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length of the offending token or segment.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The token is not three base64url segments of JSON objects.
    #[error("token is not a well-formed JWS compact serialization")]
    Malformed,
    /// The header names an algorithm meshward never accepts (`none`, anything unknown).
    #[error("token algorithm is not supported")]
    UnsupportedAlgorithm,
    /// The header names an algorithm that no matching key is allowed to verify.
    #[error("no key for this token may verify algorithm {alg:?}")]
    AlgorithmNotAllowed {
        /// The algorithm the token header named.
        alg: Algorithm,
    },
    /// The header carries `crit` (RFC 7515 §4.1.11): meshward understands no extension.
    #[error("token header has critical extensions")]
    UnsupportedCritical,
    /// The header's `typ` is not the one required.
    #[error("token type is not the required one")]
    InvalidType,
    /// No key matches the token's `kid`, or the token has no `kid` and no key could match.
    #[error("no key found for kid {kid:?}")]
    UnknownKey {
        /// The `kid` the token named, if any.
        kid: Option<String>,
    },
    /// The token has no `kid` and more than one configured key could verify it.
    #[error("token has no kid and several keys could verify it")]
    AmbiguousKey,
    /// The signature does not verify with the selected key.
    #[error("token signature is invalid")]
    InvalidSignature,
    /// A claim that must be present is missing.
    #[error("token has no `{claim}` claim")]
    MissingClaim {
        /// Name of the missing claim.
        claim: String,
    },
    /// A registered claim has the wrong JSON type (a string `exp`, a numeric `iss`).
    #[error("token claim `{claim}` has an invalid value")]
    InvalidClaim {
        /// Name of the claim.
        claim: String,
    },
    /// The token expired (`exp` plus leeway is not after now).
    #[error("token expired at {exp:?} (now {now:?})")]
    Expired {
        /// The token's `exp`.
        exp: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    },
    /// The token's `nbf` is in the future beyond the leeway.
    #[error("token is not valid before {nbf:?} (now {now:?})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    },
    /// The token's `iat` is in the future beyond the leeway.
    #[error("token was issued in the future at {iat:?} (now {now:?})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    },
    /// The token's `iss` is not one of the configured issuers.
    #[error("token issuer is not trusted")]
    InvalidIssuer,
    /// The token's `aud` shares no value with the audiences accepted for its issuer.
    #[error("token audience is not one of {expected:?}")]
    InvalidAudience {
        /// The audiences the issuer's configuration accepts.
        expected: Vec<String>,
    },
    /// The token is bound to a certificate (`cnf.x5t#S256`, RFC 8705) and the connection
    /// presented another one, or none.
    #[error("token is bound to another client certificate")]
    CertificateMismatch,
    /// The layer requires certificate-bound tokens and the token carries no `cnf.x5t#S256`.
    #[error("token is not bound to the client certificate")]
    UnboundToken,
    /// No key could be had to check the token: the key source has never loaded and cannot be
    /// reached (503, gRPC `UNAVAILABLE`).
    #[error("verification keys are unavailable")]
    KeysUnavailable,
}

impl TokenErrorKind {
    /// Every [`label`](Self::label), in a fixed order.
    pub const LABELS: [&'static str; 21] = [
        "missing",
        "invalid_request",
        "too_large",
        "malformed",
        "unsupported_algorithm",
        "algorithm_not_allowed",
        "unsupported_critical",
        "invalid_type",
        "unknown_key",
        "ambiguous_key",
        "invalid_signature",
        "missing_claim",
        "invalid_claim",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "invalid_issuer",
        "invalid_audience",
        "keys_unavailable",
        "certificate_mismatch",
        "unbound_token",
    ];

    /// A short, stable, snake_case name for metrics and logs.
    pub fn label(&self) -> &'static str {
        Self::LABELS[self.label_index()]
    }

    pub(crate) fn label_index(&self) -> usize {
        match self {
            Self::Missing => 0,
            Self::InvalidRequest => 1,
            Self::TooLarge { .. } => 2,
            Self::Malformed => 3,
            Self::UnsupportedAlgorithm => 4,
            Self::AlgorithmNotAllowed { .. } => 5,
            Self::UnsupportedCritical => 6,
            Self::InvalidType => 7,
            Self::UnknownKey { .. } => 8,
            Self::AmbiguousKey => 9,
            Self::InvalidSignature => 10,
            Self::MissingClaim { .. } => 11,
            Self::InvalidClaim { .. } => 12,
            Self::Expired { .. } => 13,
            Self::NotYetValid { .. } => 14,
            Self::IssuedInFuture { .. } => 15,
            Self::InvalidIssuer => 16,
            Self::InvalidAudience { .. } => 17,
            Self::KeysUnavailable => 18,
            Self::CertificateMismatch => 19,
            Self::UnboundToken => 20,
        }
    }

    /// A short, fixed description suitable for a response (`error_description`,
    /// `grpc-message`): it never contains anything taken from the token.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Missing => "bearer token required",
            Self::InvalidRequest => "malformed bearer credential",
            Self::TooLarge { .. } => "token too large",
            Self::Malformed => "malformed token",
            Self::UnsupportedAlgorithm | Self::AlgorithmNotAllowed { .. } => {
                "token algorithm not accepted"
            }
            Self::UnsupportedCritical => "unsupported critical header",
            Self::InvalidType => "wrong token type",
            Self::UnknownKey { .. } | Self::AmbiguousKey => "unknown signing key",
            Self::InvalidSignature => "invalid signature",
            Self::MissingClaim { .. } => "required claim missing",
            Self::InvalidClaim { .. } => "invalid claim",
            Self::Expired { .. } => "token expired",
            Self::NotYetValid { .. } => "token not yet valid",
            Self::IssuedInFuture { .. } => "token issued in the future",
            Self::InvalidIssuer => "untrusted issuer",
            Self::InvalidAudience { .. } => "wrong audience",
            Self::KeysUnavailable => "verification keys unavailable",
            Self::CertificateMismatch => "token bound to another certificate",
            Self::UnboundToken => "certificate-bound token required",
        }
    }
}

/// Seconds since the Unix epoch as a `SystemTime`; negative values clamp to the epoch.
pub(crate) fn unix_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

kinded_error! {
    /// A validator, key or layer could not be built from its configuration.
    ///
    /// Returned by builders and key constructors, never at request time.
    pub struct ConfigError(ConfigErrorKind);
}

/// The kinds of [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A key could not be parsed (bad PEM, bad JWK parameters, unsupported curve).
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A JWKS document could not be parsed, or held no usable key.
    #[error("invalid JWKS document: {reason}")]
    InvalidJwks {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file's path as given.
        path: String,
    },
    /// An issuer was configured with an empty name.
    #[error("issuer must not be empty")]
    EmptyIssuer,
    /// The same issuer was configured twice.
    #[error("issuer {issuer} is configured twice")]
    DuplicateIssuer {
        /// The issuer.
        issuer: String,
    },
    /// An issuer was configured without any accepted audience.
    #[error("issuer {issuer} accepts no audience")]
    NoAudience {
        /// The issuer.
        issuer: String,
    },
    /// An issuer was configured without any key.
    #[error("issuer {issuer} has no verification key")]
    NoKeys {
        /// The issuer.
        issuer: String,
    },
    /// An issuer mixes an HMAC secret with public keys; meshward never does.
    #[error("issuer {issuer} mixes an HMAC secret with public keys")]
    MixedKeyFamilies {
        /// The issuer.
        issuer: String,
    },
    /// An HMAC secret is shorter than the output of its hash (RFC 7518 §3.2).
    #[error("HMAC secret of {len} bytes is shorter than the {min} bytes {alg:?} requires")]
    WeakSecret {
        /// The algorithm.
        alg: Algorithm,
        /// The secret's length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// An algorithm was given where it cannot apply (an HMAC algorithm in the public-key
    /// allow-list, an RSA algorithm for an HMAC secret).
    #[error("algorithm {alg:?} cannot be used here")]
    AlgorithmMismatch {
        /// The algorithm.
        alg: Algorithm,
    },
    /// After narrowing to the allowed algorithms, a key may verify nothing.
    #[error("key {kid:?} may verify none of the allowed algorithms")]
    NoAllowedAlgorithm {
        /// The key's `kid`.
        kid: Option<String>,
    },
    /// A value that must be a valid HTTP header name or value is not.
    #[error("invalid header name or value: {what}")]
    InvalidHeader {
        /// Which setting.
        what: &'static str,
    },
    /// A URL could not be parsed.
    #[error("invalid URL: {what}")]
    InvalidUrl {
        /// Which setting.
        what: &'static str,
    },
    /// A key URL is not HTTPS and plain HTTP was not allowed.
    #[error("{url} is not https; allow_insecure_http() was not called")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// The HTTP client for remote keys could not be built.
    #[error("cannot build the HTTP client for remote keys")]
    HttpClient,
    /// An issuer was given both static keys and a remote key source, or two sources.
    #[error("issuer {issuer} has more than one key source")]
    MixedKeySources {
        /// The issuer.
        issuer: String,
    },
    /// A discovery key source was attached to another issuer than the one it discovers.
    #[error("discovery source for {source_issuer} attached to issuer {issuer}")]
    DiscoveryIssuerMismatch {
        /// The issuer the source was attached to.
        issuer: String,
        /// The issuer the source discovers.
        source_issuer: String,
    },
    /// A limit is zero or otherwise unusable.
    #[error("invalid limit: {what}")]
    InvalidLimit {
        /// Which setting.
        what: &'static str,
    },
}
