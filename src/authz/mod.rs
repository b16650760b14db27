//! Authorization: what an authenticated caller may do.
//!
//! One layer, [`AuthzLayer`], checks a [`Requirement`] on every request before the inner
//! service runs:
//!
//! - [`RequireScopesLayer`] ([`ScopeRequirement`]) checks the
//!   [`Principal`](crate::Principal)'s scopes (all of a list, or any of one);
//! - [`RequirePeerLayer`] ([`PeerRequirement`]) checks the connection's client identity
//!   against SPIFFE IDs, trust domains, DNS names or subjects.
//!
//! Put it after [`AuthLayer`](crate::jwt::AuthLayer), on a whole service or on one axum
//! route with `route_layer`.
//!
//! ```
//! use http::{Request, Response, StatusCode, header};
//! use meshward::{authz::RequireScopesLayer, jwt::{AuthLayer, Validator}};
//! use tower::{ServiceBuilder, ServiceExt};
//! # use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let secret = b"a shared secret of thirty-two bytes!";
//! let validator = Validator::builder("https://id.example.com", ["orders"])
//!     .add_hmac_secret(secret, Algorithm::HS256)
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(AuthLayer::new(validator))
//!     .layer(RequireScopesLayer::all(["orders:write"]))
//!     .service_fn(|_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
//!
//! # let exp = jsonwebtoken::get_current_timestamp() + 300;
//! # let claims = serde_json::json!({"iss": "https://id.example.com", "aud": "orders", "scope": "orders:read", "exp": exp});
//! # let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))?;
//! // `token` is valid but only carries `orders:read`.
//! let response = service
//!     .oneshot(Request::builder().header(header::AUTHORIZATION, format!("Bearer {token}")).body(String::new())?)
//!     .await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     response.headers()[header::WWW_AUTHENTICATE],
//!     r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="orders:write""#,
//! );
//! # Ok(()) }
//! ```

mod claims;
mod error;
mod identity;
#[cfg(any(feature = "rego", feature = "opa"))]
mod input;
mod layer;
#[cfg(feature = "opa")]
#[cfg_attr(docsrs, doc(cfg(feature = "opa")))]
mod opa;
mod peer;
#[cfg(feature = "rego")]
#[cfg_attr(docsrs, doc(cfg(feature = "rego")))]
mod rego;
pub mod require;
mod requirement;
mod rules;
mod scope;
mod service;

#[doc(inline)]
pub use self::claims::{ClaimPath, Roles};
#[doc(inline)]
pub use self::error::{AuthzError, AuthzErrorKind};
#[doc(inline)]
#[doc(inline)]
pub use self::layer::{AuthzLayer, RequirePeerLayer, RequireScopesLayer};
#[cfg(feature = "opa")]
#[doc(inline)]
pub use self::opa::{OpaConfigError, OpaConfigErrorKind, OpaPolicy, OpaPolicyBuilder};
#[doc(inline)]
pub use self::peer::PeerRequirement;
#[cfg(feature = "rego")]
#[doc(inline)]
pub use self::rego::{RegoError, RegoErrorKind, RegoPolicy, RegoPolicyBuilder};
#[doc(inline)]
pub use self::require::ClaimRequirementBuilder;
#[doc(inline)]
pub use self::requirement::{AuthzRequest, BoxRequirement, Decision, Requirement};
#[doc(inline)]
pub use self::rules::{
    Rule, RuleTable, RuleTableBuilder, RulesError, RulesErrorKind, SharedRules, TrailingSlash,
};
#[doc(inline)]
pub use self::scope::ScopeRequirement;
#[doc(inline)]
pub use self::service::{Authz, AuthzGate, Deciding, RequirePeer, RequireScopes, ResponseFuture};

#[cfg(test)]
mod tests;
