//! axum adapter: the [`Principal`] extractor and responses for [`Rejection`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use meshward::Principal;
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.subject().unwrap_or("anonymous").to_owned()
//! }
//!
//! async fn maybe(principal: Option<Principal>) -> &'static str {
//!     if principal.is_some() { "signed in" } else { "anonymous" }
//! }
//!
//! # fn f(validator: meshward::jwt::Validator) {
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route("/maybe", get(maybe))
//!     .layer(meshward::jwt::AuthLayer::new(validator).optional());
//! # }
//! ```

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::jwt::{TokenError, TokenErrorKind};
use crate::principal::Principal;
use crate::rejection::Rejection;

/// Extracts the principal that [`AuthLayer`](crate::jwt::AuthLayer) inserted. Without one
/// (no layer, or an optional layer and no token) the handler is not called and the answer
/// is 401 with a `WWW-Authenticate: Bearer` challenge.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Rejection::from(TokenError::new(TokenErrorKind::Missing)))
    }
}

/// `Option<Principal>`: `None` for anonymous requests that an optional layer let through.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}

/// Renders the rejection as [`Rejection::to_http_response`] does, with the rejection in the
/// response extensions.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = self.to_http_response(None);
        response.extensions_mut().insert(self);
        response
    }
}
