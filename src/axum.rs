//! axum adapter: the [`Principal`] and [`PeerIdentity`] extractors,
//! responses for [`Rejection`], and (with `mtls`) serving over mutual TLS.
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
//!     .layer(meshward::jwt::AuthLayer::new(validator).allow_anonymous());
//! # }
//! ```

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::authz::{AuthzError, AuthzErrorKind};
use crate::jwt::{TokenError, TokenErrorKind};
use crate::peer::{PeerIdentity, peer_identity};
use crate::principal::{Claims, Principal};
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

/// Extracts the end user's claims as a type of your own, deserialized once per verified
/// token (see [`Claims`]). Without a principal the answer is 401 as for [`Principal`]; claims
/// that do not have the shape of `T` get 401 `invalid_token`
/// ([`TokenErrorKind::ClaimsMismatch`]), and the handler is not called.
impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or_else(|| Rejection::from(TokenError::new(TokenErrorKind::Missing)))?;
        principal
            .typed_claims()
            .map_err(|_| Rejection::from(TokenError::new(TokenErrorKind::ClaimsMismatch)))
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

/// Extracts the client-certificate identity of the request (see
/// [`peer_identity`](crate::peer_identity)). Without one the handler is not called and the
/// answer is 401.
impl<S: Send + Sync> FromRequestParts<S> for PeerIdentity {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        peer_identity(&parts.extensions)
            .ok_or_else(|| Rejection::from(AuthzError::from(AuthzErrorKind::NoPeerIdentity)))
    }
}

/// `Option<PeerIdentity>`: `None` for connections without a client certificate.
impl<S: Send + Sync> OptionalFromRequestParts<S> for PeerIdentity {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(peer_identity(&parts.extensions))
    }
}

/// Serves axum over mutual TLS: `axum::serve(acceptor.incoming(listener), app…)`.
#[cfg(feature = "mtls")]
impl axum::serve::Listener for crate::mtls::MtlsIncoming {
    type Io = crate::mtls::MtlsStream;
    type Addr = crate::mtls::PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.next().await {
            Some(stream) => {
                let peer = stream.peer().clone();
                (stream, peer)
            }
            // The accept loop ended: no connection will ever come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(crate::mtls::PeerInfo::new(
            crate::mtls::MtlsIncoming::local_addr(self),
            None,
        ))
    }
}

/// `app.into_make_service_with_connect_info::<PeerInfo>()` puts each connection's
/// [`PeerInfo`](crate::mtls::PeerInfo) into its requests as `ConnectInfo<PeerInfo>`, where
/// meshward's layers and extractors find it.
#[cfg(feature = "mtls")]
impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, crate::mtls::MtlsIncoming>,
    > for crate::mtls::PeerInfo
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::mtls::MtlsIncoming>) -> Self {
        stream.remote_addr().clone()
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
