//! Tower layers that take security out of microservice code.
//!
//! Wrap an axum router, a tonic server or any hyper/tower service in meshward's layers,
//! and every request that reaches a handler has already been authenticated (a bearer JWT,
//! a service token, an opaque token by introspection, a client certificate, or several)
//! and authorized (scopes, claims, roles, the calling services, the peer, a policy); every
//! call the service makes onward carries a token it signed itself, nesting the one it
//! received, that proves both the end user and the calling service to the next hop.
//!
//! # The path of one request
//!
//! ```text
//!   TLS (mtls)      AuthLayer          QuotaLayer     AuthzLayer           handler
//! ─▶ PeerIdentity ─▶ Principal ───────▶ 429 past  ───▶ rules, Rego, OPA ──▶ reads the
//!    (or 'no TLS')   (jwt, mint,        the quota      (403 / 401 / 503)    Principal
//!                     introspect)                                               │
//!                    401 / 503                                                  ▼
//!                                                 next hop ◀── MintLayer ◀── onward call
//!                                                              (mint, exchange)
//! ```
//!
//! - [`jwt`]: the [`Validator`](jwt::Validator) (signature with algorithm-pinned keys,
//!   `iss`, `aud`, `exp`, `nbf`, `iat`, `typ`, `crit`, size caps), remote keys by JWKS or
//!   discovery, and the [`AuthLayer`](jwt::AuthLayer) that puts a [`Principal`] on every
//!   request.
//! - [`mint`]: service tokens: a [`ServiceSigner`](mint::ServiceSigner) and the outbound
//!   [`MintLayer`](mint::MintLayer), the [`ServiceTokenVerifier`](mint::ServiceTokenVerifier)
//!   that checks a whole chain, replay guards, key publishing.
//! - [`authz`]: requirements (scopes, claims, roles, subjects, issuers, callers and chains,
//!   peers, closures, all / any / not), rule tables for whole servers (from TOML or JSON),
//!   Rego in process and a remote OPA, behind one [`AuthzLayer`](authz::AuthzLayer).
//! - [`introspect`] and [`exchange`]: opaque tokens by RFC 7662 introspection, and RFC 8693
//!   token exchange as an outbound token source.
//! - [`quota`] and [`state`]: per-principal rate limits, and the state many instances share
//!   (in memory or on Redis).
//! - [`mtls`]: rustls with client certificates, the [`PeerIdentity`] of every connection,
//!   reloads, XFCC, certificate-bound tokens.
//! - [`Rejection`]: one table from fault to HTTP status, `WWW-Authenticate` challenge and gRPC
//!   code; gRPC calls get trailers-only answers. [`audit`]: one event per decision.
//!
//! `cargo run --example mesh` shows all of it in one process.
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
//! # Calling the next service
//!
//! ```no_run
//! # #[cfg(feature = "hyper")] mod demo {
//! use http_body_util::Empty;
//! use hyper::body::Bytes;
//! use meshward::Principal;
//! use meshward::mint::{MintLayer, ServiceSigner, SigningKey};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! pub async fn call_inventory(principal: Principal) -> Result<(), meshward::mint::BoxError> {
//!     // This service's own key (its JWKS is served with a `JwksPublisher`).
//!     let key = SigningKey::from_pem(&std::fs::read("orders-key.pem")?, meshward::jwt::Algorithm::ES256)?;
//!     let signer = ServiceSigner::builder("spiffe://example.org/ns/shop/sa/orders", key).build()?;
//!     let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
//!         .build_http::<Empty<Bytes>>();
//!     // Every request through this client carries a fresh service token for inventory,
//!     // nesting the token the principal came with.
//!     let client = ServiceBuilder::new()
//!         .layer(MintLayer::new(signer, "spiffe://example.org/ns/shop/sa/inventory"))
//!         .service(http);
//!     let mut request = http::Request::get("http://inventory.internal/stock").body(Empty::new())?;
//!     request.extensions_mut().insert(principal);
//!     let _response = client.oneshot(request).await?;
//!     Ok(())
//! }
//! # }
//! ```
//!
//! # Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `remote` (default) | remote keys: JWKS URL and OpenID Connect discovery ([`jwt::KeySource`]); introspection, token exchange, issuer templates |
//! | `mtls` (default) | [`mtls`]: rustls server with client certificates, a [`PeerIdentity`] parsed on every connection, XFCC, certificate-bound tokens |
//! | `hyper` | `mtls::serve_hyper` and `MtlsClient::connector`: any tower service over mutual TLS with hyper-util, HTTP/1.1 and HTTP/2 |
//! | `axum` | `Principal` extractor (`FromRequestParts`, `Option<Principal>`), `IntoResponse` for `Rejection` |
//! | `tonic` | [`RequestExt::principal`](crate::tonic::RequestExt) for `tonic::Request`, `Rejection` into `tonic::Status` |
//! | `rego` | `authz::RegoPolicy`: Rego policies evaluated in process (regorus) |
//! | `opa` | `authz::OpaPolicy`: decisions from a remote OPA |
//! | `redis` | `state::RedisState`: quotas and the replay guard shared by many instances |
//! | `metrics` | a decision counter and a latency histogram per layer through the `metrics` facade |
//!
//! The [`manual`] has the threat model, the JWT attack catalogue, the rationale for every
//! default, the service-token specification, authorization in depth, how-tos, and
//! migration guides.
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
mod document;
mod error;
#[cfg(feature = "remote")]
mod flight;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
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
