//! Service tokens: each service signs a short, per-hop JWT for every call it makes, nesting
//! the token it received, so the next hop can check who the end user is and which services
//! the request came through, each hop with its own signature.
//!
//! - [`ServiceSigner`]: the service's identity and keys ([`SigningKey`]), rotation that
//!   peers never notice, and [`mint`](ServiceSigner::mint) for any client;
//! - [`MintLayer`]: a tower layer for outbound clients that mints a token for each request
//!   from the [`Principal`](crate::Principal) in its extensions;
//! - [`JwksPublisher`]: serves the signer's public keys as a JWKS document, for peers'
//!   [`KeySource::jwks`](crate::jwt::KeySource::jwks);
//! - [`ServiceTokenVerifier`]: the receiving side, a [`Verifier`](crate::jwt::Verifier)
//!   for [`AuthLayer`](crate::jwt::AuthLayer) that checks the whole chain;
//! - [`ReplayGuard`]: optionally refuses a token presented twice.
//!
//! The token format (`typ` `svc+jwt`, RFC 8693 `act`, `subject_token`) is a public,
//! language-neutral specification: see the manual's
//! [service-token chapter](crate::manual::_05_service_tokens).
//!
//! ```
//! use meshward::jwt::{AuthLayer, KeySet, KeySource, VerifyingKey};
//! use meshward::mint::{ServiceSigner, ServiceTokenVerifier, SigningKey};
//! use jsonwebtoken::Algorithm;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `orders` signs; `inventory` trusts orders' public key.
//! let orders = ServiceSigner::builder("https://orders.internal", SigningKey::generate(Algorithm::ES256)?)
//!     .build()?;
//! let orders_keys = KeySet::from_jwks_json(&orders.published_jwks().to_string())?;
//! let inventory = ServiceTokenVerifier::builder("https://inventory.internal")
//!     .trust_service("https://orders.internal", KeySource::from_keys(orders_keys))
//!     .build()?;
//!
//! let token = orders.mint_as_service("https://inventory.internal")?;
//! let principal = inventory.verify(token.as_str()).await?;
//! assert_eq!(principal.caller(), Some("https://orders.internal"));
//! assert_eq!(principal.subject(), Some("https://orders.internal"));
//!
//! // A token for another service is refused.
//! let elsewhere = orders.mint_as_service("https://billing.internal")?;
//! assert!(inventory.verify(elsewhere.as_str()).await.is_err());
//! # Ok(()) }
//! ```

mod cache;
mod chain;
mod error;
mod future;
mod key;
mod layer;
mod publish;
mod service;
mod signer;
pub(crate) mod source;

#[doc(inline)]
pub use self::chain::{
    DEFAULT_MAX_CHAIN_LEN, DEFAULT_MAX_DEPTH, ServiceTokenVerifier, ServiceTokenVerifierBuilder,
};
#[doc(inline)]
pub use self::error::BoxError;
#[doc(inline)]
pub use self::error::{MintConfigError, MintConfigErrorKind, MintError, MintErrorKind};
#[doc(inline)]
pub use self::future::{ObtainFuture, ResponseFuture};
#[doc(inline)]
pub use self::key::SigningKey;
#[doc(inline)]
pub use self::layer::MintLayer;
#[doc(inline)]
pub use self::publish::JwksPublisher;
pub use self::service::Mint;
#[doc(inline)]
pub use self::signer::{
    DEFAULT_JWKS_MAX_AGE, DEFAULT_MINTED_TOKEN_CACHE, DEFAULT_ROTATION_OVERLAP,
    DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME, ServiceSigner, ServiceSignerBuilder, ServiceToken,
};
#[doc(inline)]
pub use self::source::TokenSource;
#[doc(inline)]
/// The replay guard lives on the ground floor, in [`state`](crate::state), for every token
/// kind; these are its names under `mint`, where service tokens first needed it.
pub use crate::state::{InMemoryReplayGuard, ReplayGuard, ReplayGuardError, ReplayGuardErrorKind};

/// The `typ` header of a service token.
pub const TOKEN_TYPE: &str = crate::jwt::SERVICE_TOKEN_TYPE;
