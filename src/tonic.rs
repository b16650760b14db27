//! tonic adapter: reading the [`Principal`] in a handler, and [`Rejection`] as a
//! [`tonic::Status`].
//!
//! [`AuthLayer`](crate::jwt::AuthLayer) goes on the server as a tower layer
//! (`Server::builder().layer(…)`), so it sees every call before tonic routes it; refused
//! calls get a trailers-only answer with `grpc-status` 16, 7 or 14.
//!
//! ```
//! use meshward::tonic::RequestExt;
//!
//! fn who(request: &tonic::Request<()>) -> Result<String, tonic::Status> {
//!     let principal = request
//!         .principal()
//!         .ok_or_else(|| tonic::Status::unauthenticated("no principal"))?;
//!     Ok(principal.subject().unwrap_or_default().to_owned())
//! }
//! ```

use crate::peer::{PeerIdentity, peer_identity};
use serde::de::DeserializeOwned;

use crate::jwt::{TokenError, TokenErrorKind};
use crate::principal::{Claims, Principal};
use crate::rejection::Rejection;

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for tonic::Request<T> {}
}

/// meshward's view of a [`tonic::Request`]. Sealed.
pub trait RequestExt: sealed::Sealed {
    /// The principal the authentication layer inserted, if any.
    fn principal(&self) -> Option<&Principal>;

    /// The client-certificate identity of the call's connection (or a trusted proxy's
    /// report of it), if any.
    fn peer_identity(&self) -> Option<PeerIdentity>;

    /// The end user's claims as a type of your own, deserialized once per verified token
    /// (see [`Claims`]); `UNAUTHENTICATED` without a principal or when the claims do not have
    /// the shape of `T`.
    ///
    /// ```
    /// use meshward::tonic::RequestExt;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// fn tenant_of(request: &tonic::Request<()>) -> Result<String, tonic::Status> {
    ///     Ok(request.claims::<Tenant>()?.tenant.clone())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The `Status` of [`TokenErrorKind::Missing`] or [`TokenErrorKind::ClaimsMismatch`].
    fn claims<C>(&self) -> Result<Claims<C>, tonic::Status>
    where
        C: DeserializeOwned + Send + Sync + 'static;
}

impl<T> RequestExt for tonic::Request<T> {
    fn principal(&self) -> Option<&Principal> {
        self.extensions().get::<Principal>()
    }

    fn peer_identity(&self) -> Option<PeerIdentity> {
        peer_identity(self.extensions())
    }

    fn claims<C>(&self) -> Result<Claims<C>, tonic::Status>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let principal = self.principal().ok_or_else(|| {
            tonic::Status::from(Rejection::from(TokenError::new(TokenErrorKind::Missing)))
        })?;
        principal.typed_claims().map_err(|_| {
            tonic::Status::from(Rejection::from(TokenError::new(
                TokenErrorKind::ClaimsMismatch,
            )))
        })
    }
}

/// Serves tonic over mutual TLS: `Server::builder().serve_with_incoming(acceptor.incoming(listener))`.
/// Each call's extensions then hold the connection's [`PeerInfo`](crate::mtls::PeerInfo),
/// visible to tower layers and to [`RequestExt::peer_identity`].
#[cfg(feature = "mtls")]
impl tonic::transport::server::Connected for crate::mtls::MtlsStream {
    type ConnectInfo = crate::mtls::PeerInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer().clone()
    }
}

impl From<&Rejection> for tonic::Status {
    fn from(rejection: &Rejection) -> Self {
        tonic::Status::new(
            tonic::Code::from_i32(rejection.grpc_code()),
            rejection.description(),
        )
    }
}

impl From<Rejection> for tonic::Status {
    fn from(rejection: Rejection) -> Self {
        Self::from(&rejection)
    }
}
