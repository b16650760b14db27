//! Opaque tokens by introspection (OAuth 2.0 Token Introspection, RFC 7662).
//!
//! Many identity providers issue reference tokens that only they can read. An
//! [`Introspector`] is a [`Verifier`](crate::jwt::Verifier) for the
//! [`AuthLayer`](crate::jwt::AuthLayer): it asks the provider's introspection endpoint about
//! each token it has no answer for, checks the answer as the
//! [`Validator`](crate::jwt::Validator) checks a JWT's claims, caches it, and yields the same
//! [`Principal`](crate::Principal). Beside a `Validator` ([`IntrospectorBuilder::jwt`]), JWTs
//! are validated locally and only opaque tokens are introspected.
//!
//! | fault | answer |
//! | --- | --- |
//! | the provider says `active: false` | 401 `invalid_token` (`inactive`) |
//! | active, but another issuer, audience or `token_type`, expired, not yet valid | 401 with that check's reason |
//! | the endpoint unreachable, slow, an error status, a malformed or oversized answer | 503 (gRPC `UNAVAILABLE`), never 401 |
//!
//! Needs the `remote` feature (on by default).

mod builder;
mod error;
mod introspector;
mod request;
mod response;

#[doc(inline)]
pub use self::builder::{
    DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_CEILING, DEFAULT_MAX_TOKEN_LEN, DEFAULT_NEGATIVE_CACHE,
    IntrospectorBuilder,
};
#[doc(inline)]
pub use self::error::{
    IntrospectionError, IntrospectionErrorKind, IntrospectorConfigError,
    IntrospectorConfigErrorKind,
};
#[doc(inline)]
pub use self::introspector::{IntrospectionStats, Introspector};
/// The configuration error of both clients of an authorization server (introspection and
/// the token exchange).
#[doc(inline)]
pub use crate::oauth::{
    ClientConfigError, ClientConfigErrorKind, DEFAULT_MAX_ANSWER_LEN, DEFAULT_TIMEOUT,
};
