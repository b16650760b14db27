//! Errors of the JWT concern: [`TokenError`] at request time, [`ConfigError`] at build time.

use std::time::{Duration, SystemTime};

use jsonwebtoken::Algorithm;

use crate::error::kinded_error;
use crate::rejection::{Refusal, Rejection, RejectionKind};

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

/// Declares [`TokenErrorKind`] from one table: each variant with its log text, its label,
/// the class of answer it gets and the fixed description sent to the client.
macro_rules! token_error_kinds {
    ($(
        $(#[$meta:meta])*
        $variant:ident $({ $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? })?
            => $label:literal, $answer:ident, $description:literal;
    )*) => {
        /// The kinds of [`TokenError`].
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum TokenErrorKind {
            $(
                $(#[$meta])*
                $variant $({ $($(#[$field_meta])* $field: $ty),* })?,
            )*
        }

        /// The variants' positions, for counters indexed by kind.
        #[allow(dead_code)]
        enum Index { $($variant),* }

        impl TokenErrorKind {
            /// Every [`label`](Self::label), in a fixed order.
            pub const LABELS: [&'static str; [$($label),*].len()] = [$($label),*];

            /// A short, stable, snake_case name for metrics and logs.
            pub fn label(&self) -> &'static str {
                match self { $(Self::$variant { .. } => $label,)* }
            }

            /// A short, fixed description suitable for a response (`error_description`,
            /// `grpc-message`): it never contains anything taken from the token.
            pub fn description(&self) -> &'static str {
                match self { $(Self::$variant { .. } => $description,)* }
            }

            /// The class of answer: 401, 400 or 503 (gRPC 16 or 14).
            pub fn rejection_kind(&self) -> RejectionKind {
                match self { $(Self::$variant { .. } => RejectionKind::$answer,)* }
            }

            pub(crate) fn label_index(&self) -> usize {
                match self { $(Self::$variant { .. } => Index::$variant as usize,)* }
            }
        }
    };
}

token_error_kinds! {
    /// The request carried no bearer token where one was expected (401 with no error code,
    /// RFC 6750 §3.1).
    #[error("no bearer token in the request")]
    Missing => "missing", MissingCredentials, "bearer token required";
    /// The credential was not a well-formed bearer credential: two `Authorization` headers,
    /// `Bearer` with no token or with something after it, bytes outside the token alphabet
    /// (400 `invalid_request`).
    #[error("malformed bearer credential")]
    InvalidRequest => "invalid_request", InvalidRequest, "malformed bearer credential";
    /// The token, or its header segment, is longer than the configured cap.
    #[error("token of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length of the offending token or segment.
        len: usize,
        /// The configured limit.
        max: usize,
    } => "too_large", InvalidToken, "token too large";
    /// The token is not three base64url segments of JSON objects.
    #[error("token is not a well-formed JWS compact serialization")]
    Malformed => "malformed", InvalidToken, "malformed token";
    /// The header names an algorithm meshward never accepts (`none`, anything unknown).
    #[error("token algorithm is not supported")]
    UnsupportedAlgorithm => "unsupported_algorithm", InvalidToken, "token algorithm not accepted";
    /// The header names an algorithm that no matching key is allowed to verify.
    #[error("no key for this token may verify algorithm {alg:?}")]
    AlgorithmNotAllowed {
        /// The algorithm the token header named.
        alg: Algorithm,
    } => "algorithm_not_allowed", InvalidToken, "token algorithm not accepted";
    /// The header carries `crit` (RFC 7515 §4.1.11): meshward understands no extension.
    #[error("token header has critical extensions")]
    UnsupportedCritical => "unsupported_critical", InvalidToken, "unsupported critical header";
    /// The header's `typ` is not the one required.
    #[error("token type is not the required one")]
    InvalidType => "invalid_type", InvalidToken, "wrong token type";
    /// No key matches the token's `kid`, or the token has no `kid` and no key could match.
    #[error("no key found for kid {kid:?}")]
    UnknownKey {
        /// The `kid` the token named, if any.
        kid: Option<String>,
    } => "unknown_key", InvalidToken, "unknown signing key";
    /// The token has no `kid` and more than one configured key could verify it.
    #[error("token has no kid and several keys could verify it")]
    AmbiguousKey => "ambiguous_key", InvalidToken, "unknown signing key";
    /// The signature does not verify with the selected key.
    #[error("token signature is invalid")]
    InvalidSignature => "invalid_signature", InvalidToken, "invalid signature";
    /// A claim that must be present is missing.
    #[error("token has no `{claim}` claim")]
    MissingClaim {
        /// Name of the missing claim.
        claim: String,
    } => "missing_claim", InvalidToken, "required claim missing";
    /// A registered claim has the wrong JSON type (a string `exp`, a numeric `iss`).
    #[error("token claim `{claim}` has an invalid value")]
    InvalidClaim {
        /// Name of the claim.
        claim: String,
    } => "invalid_claim", InvalidToken, "invalid claim";
    /// The token expired (`exp` plus leeway is not after now).
    #[error("token expired at {exp:?} (now {now:?})")]
    Expired {
        /// The token's `exp`.
        exp: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    } => "expired", InvalidToken, "token expired";
    /// The token's `nbf` is in the future beyond the leeway.
    #[error("token is not valid before {nbf:?} (now {now:?})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    } => "not_yet_valid", InvalidToken, "token not yet valid";
    /// The token's `iat` is in the future beyond the leeway.
    #[error("token was issued in the future at {iat:?} (now {now:?})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: SystemTime,
        /// The validator's clock.
        now: SystemTime,
    } => "issued_in_future", InvalidToken, "token issued in the future";
    /// The token lives longer than the configured maximum (`exp` minus `iat`, or `nbf`
    /// without `iat`; see [`ValidatorBuilder::max_token_lifetime`](crate::jwt::ValidatorBuilder::max_token_lifetime)).
    #[error("token lifetime of {lifetime:?} exceeds the maximum of {max:?}")]
    LifetimeTooLong {
        /// `exp` minus `iat` (or `nbf`).
        lifetime: Duration,
        /// The configured maximum.
        max: Duration,
    } => "lifetime_too_long", InvalidToken, "token lifetime too long";
    /// The token's `iss` is not one of the configured issuers.
    #[error("token issuer is not trusted")]
    InvalidIssuer => "invalid_issuer", InvalidToken, "untrusted issuer";
    /// The token's `aud` shares no value with the audiences accepted for its issuer.
    #[error("token audience is not one of {expected:?}")]
    InvalidAudience {
        /// The audiences the issuer's configuration accepts.
        expected: Vec<String>,
    } => "invalid_audience", InvalidToken, "wrong audience";
    /// No key could be had to check the token: the key source has never loaded and cannot be
    /// reached (503, gRPC `UNAVAILABLE`).
    #[error("verification keys are unavailable")]
    KeysUnavailable => "keys_unavailable", Unavailable, "verification keys unavailable";
    /// The token is bound to a certificate (`cnf.x5t#S256`, RFC 8705) and the connection
    /// presented another one, or none.
    #[error("token is bound to another client certificate")]
    CertificateMismatch => "certificate_mismatch", InvalidToken, "token bound to another certificate";
    /// The layer requires certificate-bound tokens and the token carries no `cnf.x5t#S256`.
    #[error("token is not bound to the client certificate")]
    UnboundToken => "unbound_token", InvalidToken, "certificate-bound token required";
    /// A service token's chain names different subjects at two levels (a hop claimed to act
    /// for another user than the token it embeds).
    #[error("service token chain subjects differ")]
    SubjectMismatch => "subject_mismatch", InvalidToken, "token chain subjects differ";
    /// A service token grants a scope that the token it embeds does not (a hop may narrow
    /// scopes, never widen them).
    #[error("service token widens the scopes of the token it embeds")]
    ScopeWidened => "scope_widened", InvalidToken, "token chain widens scopes";
    /// A service token's `act` does not name its issuer, or does not nest the actors of the
    /// token it embeds.
    #[error("service token actor chain does not match its hops")]
    ActorMismatch => "actor_mismatch", InvalidToken, "token chain actors differ";
    /// A service token names more than one audience (`aud` an array of two or more): a
    /// service token is for one hop, and a token good at two services could be replayed by
    /// the first at the second.
    #[error("service token names more than one audience")]
    MultipleAudiences => "multiple_audiences", InvalidToken, "token names more than one audience";
    /// Two levels of a service-token chain carry the same `jti`: no honest signer nests a
    /// token under its own id.
    #[error("service token chain repeats a jti")]
    RepeatedTokenId => "repeated_jti", InvalidToken, "token chain repeats a token id";
    /// A service token nests more levels than the verifier accepts.
    #[error("service token chain of {depth} levels exceeds {max}")]
    ChainTooDeep {
        /// Levels seen (at least).
        depth: usize,
        /// The configured bound.
        max: usize,
    } => "chain_too_deep", InvalidToken, "token chain too deep";
    /// A token whose `jti` was seen before within its lifetime (the replay guard is on).
    #[error("token was used before")]
    Replayed => "replayed", InvalidToken, "token replayed";
    /// The replay guard could not be asked (its store is unreachable): the verifier fails
    /// closed (503, gRPC `UNAVAILABLE`).
    #[error("the replay guard is unavailable")]
    ReplayGuardUnavailable => "replay_guard_unavailable", Unavailable, "replay check unavailable";
    /// The verifier binds a service token's issuer to the connection's peer, and the
    /// connection proved another SPIFFE ID, or none.
    #[error("service token issuer is not the connection's peer")]
    CallerNotPeer => "caller_not_peer", InvalidToken, "token issuer is not the peer";
    /// The token's issuer, asked by introspection (RFC 7662), says it is not active: unknown,
    /// revoked, expired, or not for the client asking.
    #[error("token is not active")]
    Inactive => "inactive", InvalidToken, "token not active";
    /// The introspection endpoint could not be asked or gave no usable answer (unreachable,
    /// timed out, an error status, an oversized or malformed body): 503, never 401.
    #[error("token introspection is unavailable")]
    IntrospectionUnavailable => "introspection_unavailable", Unavailable, "token introspection unavailable";
    /// The handler asked for the end user's claims as a type of its own
    /// ([`Claims`](crate::Claims)) and the verified claims do not have that shape.
    #[error("token claims do not have the shape the service needs")]
    ClaimsMismatch => "claims_mismatch", InvalidToken, "token claims do not fit";
}

impl Refusal for TokenError {
    fn rejection_kind(&self) -> RejectionKind {
        self.kind().rejection_kind()
    }

    fn client_description(&self) -> &'static str {
        self.kind().description()
    }

    fn label(&self) -> &'static str {
        self.kind().label()
    }
}

impl From<TokenError> for Rejection {
    fn from(error: TokenError) -> Self {
        Self::refuse(error)
    }
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
    /// An [`IssuerTemplate`](super::IssuerTemplate) pattern without exactly one
    /// placeholder, or without an audience.
    #[error("invalid issuer template: {reason}")]
    InvalidIssuerTemplate {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A protected resource's identifier is not an absolute `https` URL without a query or
    /// fragment (RFC 9728 §1.2).
    #[error("invalid resource identifier: {reason}")]
    InvalidResource {
        /// What was wrong with it.
        reason: &'static str,
    },
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
