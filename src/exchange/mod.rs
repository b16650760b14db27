//! Token exchange at a security token service (OAuth 2.0 Token Exchange, RFC 8693): the
//! outbound side of "one STS signs".
//!
//! With self-issued service tokens ([`mint`](crate::mint)) each service signs what it sends
//! on. Some deployments have one security token service do that instead: a service
//! exchanges the token it received for one addressed to the service it calls. A
//! [`TokenExchange`] is a [`TokenSource`](crate::mint::TokenSource) for the same
//! [`MintLayer`](crate::mint::MintLayer), reading the same
//! [`Principal`](crate::Principal) from the outbound request, so moving between the two is
//! a change to how the layer is built:
//!
//! ```
//! use meshward::exchange::TokenExchange;
//! use meshward::mint::{MintLayer, ServiceSigner};
//!
//! # fn f(signer: ServiceSigner, sts: TokenExchange) {
//! let each_service_signs = MintLayer::new(signer, "https://inventory.internal");
//! let one_sts_signs = MintLayer::from_source(sts, "https://inventory.internal");
//! # }
//! ```
//!
//! The next hop then checks the exchanged token like any access token of the STS (a
//! [`Validator`](crate::jwt::Validator) for a JWT, an
//! [`Introspector`](crate::introspect::Introspector) for an opaque one).
//!
//! Needs the `remote` feature (on by default).

mod builder;
mod error;
#[allow(clippy::module_inception)]
mod exchange;
mod request;

#[doc(inline)]
pub use self::builder::{DEFAULT_CACHE_CAPACITY, TokenExchangeBuilder};
#[doc(inline)]
pub use self::error::{
    ExchangeConfigError, ExchangeConfigErrorKind, ExchangeError, ExchangeErrorKind,
};
#[doc(inline)]
pub use self::exchange::{ExchangeStats, TokenExchange};
/// The configuration error of both clients of an authorization server (introspection and
/// the token exchange).
#[doc(inline)]
pub use crate::oauth::{
    ClientConfigError, ClientConfigErrorKind, DEFAULT_MAX_ANSWER_LEN, DEFAULT_TIMEOUT,
};
