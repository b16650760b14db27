//! Bearer-token authentication: the [`Validator`], its keys, and the [`AuthLayer`].
//!
//! The layer reads the token (the `Authorization: Bearer` header by default; headers,
//! cookies or a function of your choice, in order, with [`TokenLocation`]), verifies it with
//! a [`Verifier`] (the [`Validator`] for an identity provider's tokens), and inserts a
//! [`Principal`](crate::Principal) into the request extensions. A refused request
//! never reaches the inner service: it is answered from one table (see
//! [`Rejection`](crate::Rejection)), with the typed [`TokenError`] in the response
//! extensions and an audit event on the `meshward::audit` tracing target.
//!
//! ```
//! use http::{Request, Response, StatusCode, header};
//! use meshward::{Principal, jwt::{AuthLayer, Validator}};
//! use tower::{ServiceBuilder, ServiceExt};
//! # use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"a shared secret of thirty-two bytes!";
//! let validator = Validator::builder("https://id.example.com", ["orders"])
//!     .add_hmac_secret(secret, Algorithm::HS256)
//!     .build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(AuthLayer::new(validator))
//!     .service_fn(|request: Request<String>| async move {
//!         let principal = request.extensions().get::<Principal>().cloned();
//!         let who = principal.and_then(|p| p.subject().map(str::to_owned));
//!         Ok::<_, std::convert::Infallible>(Response::new(who.unwrap_or_default()))
//!     });
//!
//! # let exp = jsonwebtoken::get_current_timestamp() + 300;
//! # let claims = serde_json::json!({"iss": "https://id.example.com", "aud": "orders", "sub": "alice", "exp": exp});
//! # let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))?;
//! // A valid token reaches the handler, which sees who sent it.
//! let ok = service.clone()
//!     .oneshot(Request::builder().header(header::AUTHORIZATION, format!("Bearer {token}")).body(String::new())?)
//!     .await?;
//! assert_eq!(ok.status(), StatusCode::OK);
//! assert_eq!(ok.body(), "alice");
//!
//! // A forged one does not.
//! let forged = format!("{}x", &token[..token.len() - 1]);
//! let refused = service
//!     .oneshot(Request::builder().header(header::AUTHORIZATION, format!("Bearer {forged}")).body(String::new())?)
//!     .await?;
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     refused.headers()[header::WWW_AUTHENTICATE],
//!     r#"Bearer error="invalid_token", error_description="invalid signature""#,
//! );
//! # Ok(()) }
//! ```

pub(crate) mod cache;
pub(crate) mod claims;
mod error;
mod extract;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub(crate) mod jwks;
pub(crate) mod keys;
mod layer;
mod metadata;
mod service;
mod source;
mod validator;
pub(crate) mod verifier;

#[doc(inline)]
pub use self::error::{ConfigError, ConfigErrorKind, TokenError, TokenErrorKind};
#[doc(inline)]
pub use self::extract::TokenLocation;
#[doc(inline)]
#[cfg(feature = "remote")]
#[doc(inline)]
pub use self::jwks::{KeySourceError, KeySourceErrorKind, KeySourceStats, RemoteKeySourceBuilder};
#[doc(inline)]
pub use self::keys::{KeySet, VerifyingKey};
#[doc(inline)]
pub use self::layer::AuthLayer;
#[doc(inline)]
pub use self::metadata::{ResourceMetadata, ResourceMetadataBuilder};
#[doc(inline)]
pub use self::service::{Auth, AuthGate, ResponseFuture};
#[doc(inline)]
pub use self::source::KeySource;
#[cfg(feature = "remote")]
#[doc(inline)]
pub use self::validator::IssuerTemplate;
#[doc(inline)]
pub use self::validator::{
    DEFAULT_LEEWAY, DEFAULT_MAX_HEADER_LEN, DEFAULT_MAX_RESOLVED_ISSUERS, DEFAULT_MAX_TOKEN_LEN,
    DEFAULT_NEW_ISSUERS_PER_MINUTE, DEFAULT_TOKEN_CACHE_CAPACITY, Issuer, IssuerResolver,
    Validator, ValidatorBuilder, ValidatorStats,
};
pub(crate) use self::validator::{SERVICE_TOKEN_TYPE, header_type};
#[doc(inline)]
pub use self::verifier::Verifier;
pub use jsonwebtoken::Algorithm;
