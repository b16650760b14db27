//! Errors of the service-token concern: [`MintError`] when a token cannot be minted,
//! [`MintConfigError`] when a signer or verifier cannot be built.

use jsonwebtoken::Algorithm;

use crate::error::kinded_error;

kinded_error! {
    /// A service token could not be minted for an outbound call.
    ///
    /// [`MintLayer`](super::MintLayer) returns it as the call's error (boxed), so the
    /// outbound request is never sent without the token it should carry.
    pub struct MintError(MintErrorKind);
}

/// The kinds of [`MintError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintErrorKind {
    /// The outbound request carries no [`Principal`](crate::Principal) and the layer was not
    /// told to call as the service itself.
    #[error("the outbound request carries no principal to mint a token for")]
    NoPrincipal,
    /// No audience could be had for the request (the audience function answered nothing).
    #[error("no audience for the outbound request")]
    NoAudience,
    /// The signer has no key that may sign now.
    #[error("no signing key is active")]
    NoActiveKey,
    /// The signature could not be made.
    #[error("signing the service token failed")]
    Signing,
    /// A [`TokenSource`](super::TokenSource) could not get a token: the security token
    /// service refused the exchange or could not be asked (the source says which).
    #[error("no token could be obtained for the outbound call")]
    Exchange,
    /// The token does not fit in a header value (it never happens with the signer's
    /// output; kept so that it can never panic).
    #[error("the service token is not a valid header value")]
    InvalidHeaderValue,
}

impl MintErrorKind {
    /// A short, stable, snake_case name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NoPrincipal => "no_principal",
            Self::NoAudience => "no_audience",
            Self::NoActiveKey => "no_active_key",
            Self::Signing => "signing_failed",
            Self::InvalidHeaderValue => "invalid_header_value",
            Self::Exchange => "exchange_failed",
        }
    }
}

kinded_error! {
    /// A [`ServiceSigner`](super::ServiceSigner), a [`SigningKey`](super::SigningKey) or a
    /// [`ServiceTokenVerifier`](super::ServiceTokenVerifier) could not be built from its
    /// configuration. Returned by builders and key constructors, never at request time.
    pub struct MintConfigError(MintConfigErrorKind);
}

/// The kinds of [`MintConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintConfigErrorKind {
    /// The service identity is empty.
    #[error("the service identity must not be empty")]
    EmptyIdentity,
    /// The algorithm cannot sign service tokens (HMAC, `none`, an unsupported one).
    #[error("algorithm {alg:?} cannot sign service tokens")]
    UnsupportedAlgorithm {
        /// The algorithm.
        alg: Algorithm,
    },
    /// The key material could not be read or does not fit the algorithm.
    #[error("invalid signing key: {reason}")]
    InvalidKey {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The signer was built without a key.
    #[error("the signer has no signing key")]
    NoKey,
    /// Two keys share a `kid`.
    #[error("two signing keys share the kid {kid}")]
    DuplicateKid {
        /// The `kid`.
        kid: String,
    },
    /// A duration or size is zero or beyond its cap.
    #[error("invalid limit: {what}")]
    InvalidLimit {
        /// Which setting.
        what: &'static str,
    },
    /// The verifier of service tokens could not be built.
    #[error("invalid verifier configuration")]
    Verifier,
}

/// A boxed error: what the outbound call failed with (the client's own error, or a
/// [`MintError`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
