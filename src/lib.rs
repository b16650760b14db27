//! Tower layers that take security out of microservice code.
//!
//! Wrap an axum router, a tonic server or any hyper/tower service in meshward's layers,
//! and every request that reaches a handler has already been authenticated and
//! authorized:
//!
//! ```text
//! client ──▶ [AuthLayer] ──▶ [RequireScopesLayer] ──▶ handler
//!             Principal        insufficient_scope       reads the Principal
//! ```
//!
//! - [`jwt`]: the [`Validator`](jwt::Validator) (signature with algorithm-pinned keys,
//!   `iss`, `aud`, `exp`, `nbf`, `iat`, `typ`, `crit`, size caps) and the
//!   [`AuthLayer`](jwt::AuthLayer) that puts a [`Principal`] on every request.
//! - [`authz`]: requirements checked on every request: scopes, and the client-certificate
//!   identity ([`PeerIdentity`], found by [`peer_identity`] whichever adapter served it).
//! - [`Rejection`]: one table from fault to HTTP status, `WWW-Authenticate` challenge and gRPC
//!   code; gRPC calls get trailers-only answers.
//!
//! # An axum server
//!
//! ```no_run
//! # #[cfg(feature = "axum")] mod demo {
//! use axum::{Router, routing::get};
//! use meshward::{Principal, ServiceBuilderExt, jwt::{KeySet, Validator}};
//! use tower::ServiceBuilder;
//!
//! async fn whoami(principal: Principal) -> String {
//!     format!("hello {}", principal.subject().unwrap_or("?"))
//! }
//!
//! pub async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//!     let validator = Validator::builder("https://id.example.com", ["orders"])
//!         .add_keys(KeySet::from_jwks_file("jwks.json")?)
//!         .build()?;
//!     let app = Router::new()
//!         .route("/whoami", get(whoami))
//!         .layer(ServiceBuilder::new().authenticate(validator).require_all_scopes(["orders:read"]));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! # }
//! ```
//!
//! # A tonic server
//!
//! ```no_run
//! # #[cfg(feature = "tonic")] mod demo {
//! use meshward::jwt::{AuthLayer, Validator};
//!
//! pub async fn serve(validator: Validator) -> Result<(), Box<dyn std::error::Error>> {
//!     let (_, health) = tonic_health::server::health_reporter();
//!     tonic::transport::Server::builder()
//!         .layer(AuthLayer::new(validator))
//!         .add_service(health)
//!         .serve("127.0.0.1:50051".parse()?)
//!         .await?;
//!     Ok(())
//! }
//! # }
//! ```
//!
//! # Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `remote` (default) | remote keys: JWKS URL and OpenID Connect discovery ([`jwt::KeySource`]) |
//! | `mtls` (default) | [`mtls`]: rustls server with client certificates, a [`PeerIdentity`] parsed on every connection, XFCC, certificate-bound tokens |
//! | `hyper` | `mtls::serve_hyper`: any tower service over mutual TLS with hyper-util, HTTP/1.1 and HTTP/2, graceful shutdown |
//! | `axum` | `Principal` extractor (`FromRequestParts`, `Option<Principal>`), `IntoResponse` for `Rejection` |
//! | `tonic` | [`RequestExt::principal`](crate::tonic::RequestExt) for `tonic::Request`, `Rejection` into `tonic::Status` |
//! | `metrics` | a decision counter and a latency histogram per layer through the `metrics` facade |
//!
//! The [`manual`] has the threat model, the JWT attack catalogue, the rationale for every
//! default, and the how-to for running behind a TLS-terminating proxy.
//!
//! # Security defaults
//!
//! Every check is on; relaxations are named. `alg: none` cannot be configured; a key's
//! algorithms come from the key, never from the token; HMAC secrets are added explicitly,
//! never beside public keys, and must be as long as their hash; `jku`, `x5u` and `jwk`
//! headers are never followed; a `crit` header is refused; responses never echo the token.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The ground floor: who is calling, how a refusal is answered, the one audit event.
// These modules import nothing above them (ARCHITECTURE.md; checked by .ci/run).
pub mod audit;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
mod peer;
mod principal;
mod rejection;

// The layers.
pub mod authz;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod exchange;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod introspect;
pub mod jwt;
pub mod mint;
#[cfg(feature = "mtls")]
#[cfg_attr(docsrs, doc(cfg(feature = "mtls")))]
pub mod mtls;
#[cfg(feature = "remote")]
mod oauth;
pub mod quota;
pub mod state;

mod builder;
pub mod manual;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;

#[doc(inline)]
pub use self::builder::ServiceBuilderExt;
#[doc(inline)]
pub use self::peer::{PeerIdentity, PeerInfo, SpiffeId, peer_identity};
#[doc(inline)]
pub use self::principal::{Claims, ClaimsError, ClaimsErrorKind, Principal, Scopes};
#[doc(inline)]
pub use self::rejection::{
    ChallengeParams, DefaultRejectionResponse, Rejection, RejectionKind, RejectionResponse,
};

/// The README's examples, compiled as doc tests so they stay true (they use axum).
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests;
