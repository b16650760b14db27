//! Publishing a signer's public keys as a JWKS document, for peers to fetch with
//! [`KeySource::jwks`](crate::jwt::KeySource::jwks).

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::signer::ServiceSigner;

/// A tower service that answers `GET` (and `HEAD`) with the signer's published keys as a
/// JWKS document (`application/jwk-set+json`, `Cache-Control: public, max-age=…`), and any
/// other method with 405.
///
/// Mount it wherever peers expect it; with axum:
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use meshward::mint::{JwksPublisher, ServiceSigner, SigningKey};
/// # fn f(signer: ServiceSigner) {
/// let app: axum::Router = axum::Router::new()
///     .route_service("/.well-known/jwks.json", JwksPublisher::new(signer));
/// # }
/// # }
/// ```
#[derive(Clone)]
pub struct JwksPublisher {
    signer: ServiceSigner,
    cache_control: HeaderValue,
}

impl JwksPublisher {
    /// Publishes `signer`'s keys.
    pub fn new(signer: ServiceSigner) -> Self {
        let max_age = signer.jwks_max_age().as_secs();
        let cache_control = HeaderValue::try_from(format!("public, max-age={max_age}"))
            .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
        Self {
            signer,
            cache_control,
        }
    }

    /// The document served now.
    pub fn document(&self) -> String {
        self.signer.published_jwks().to_string()
    }
}

impl<B> Service<Request<B>> for JwksPublisher {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(crate::document::answer(
            &request,
            HeaderValue::from_static("application/jwk-set+json"),
            self.cache_control.clone(),
            || self.document(),
        )))
    }
}

impl fmt::Debug for JwksPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksPublisher")
            .field("signer", &self.signer)
            .field("cache_control", &self.cache_control)
            .finish()
    }
}
