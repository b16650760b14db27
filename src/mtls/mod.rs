//! Mutual TLS (feature `mtls`): a rustls server with client-certificate verification, the
//! peer's identity on every request in axum, hyper and tonic, and certificate-bound tokens.
//!
//! - [`MtlsAcceptor`] builds the rustls `ServerConfig` (server certificate, client CA bundle,
//!   CRLs, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, the aws-lc-rs provider passed
//!   explicitly, never installed process-wide), performs handshakes with a timeout, and
//!   parses each client's [`PeerIdentity`] once per connection. Its configuration reloads at
//!   run time without dropping live connections.
//! - [`MtlsAcceptor::incoming`] is a stream of ready connections: an axum `Listener`, a tonic
//!   incoming stream whose connections implement `Connected`, or, for plain hyper,
//!   `serve_hyper` (feature `hyper`: hyper-util's HTTP/1 + HTTP/2 connection builder with
//!   graceful shutdown) or your own loop with [`AddPeerInfo`].
//! - [`peer_identity`] finds the identity in a request's extensions whichever adapter put it
//!   there; [`RequirePeerLayer`] guards routes with
//!   allow-lists of SPIFFE IDs, trust domains, DNS names or subjects; [`XfccLayer`] reads a
//!   trusted proxy's `x-forwarded-client-cert`.
//! - [`MtlsClient`] is the client side: the service's own certificate for its onward calls,
//!   servers checked by SPIFFE ID or DNS name, the same reload and watching; its
//!   [`connector`](MtlsClient::connector) (feature `hyper`) dials for hyper-util's client
//!   and tonic's `Channel`.
//! - [`AuthLayer`](crate::jwt::AuthLayer) checks RFC 8705 certificate-bound tokens
//!   (`cnf.x5t#S256`) against the connection's certificate, and the
//!   [`Principal`](crate::Principal) carries the peer.

mod acceptor;
mod client;
mod config;
#[cfg(feature = "hyper")]
mod connect;
mod error;
mod identity;
mod peer;
mod pem;
mod pending;
mod reload;
#[cfg(feature = "hyper")]
mod serve;
pub(crate) mod xfcc;

#[doc(inline)]
pub use self::acceptor::{MtlsAcceptor, MtlsIncoming, MtlsStream};
#[doc(inline)]
pub use self::client::{MtlsClient, MtlsClientBuilder};
#[doc(inline)]
pub use self::config::MtlsAcceptorBuilder;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
#[doc(inline)]
pub use self::connect::{MtlsClientStream, MtlsConnector};
#[doc(inline)]
pub use self::error::{MtlsConfigError, MtlsConfigErrorKind};
#[doc(inline)]
pub use self::identity::{IdentityParseError, IdentityParseErrorKind};
#[doc(inline)]
pub use self::peer::AddPeerInfo;
#[doc(inline)]
pub use self::pem::TlsIdentity;
#[doc(inline)]
pub use self::reload::WatchHandle;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
#[doc(inline)]
pub use self::serve::serve_hyper;
#[doc(inline)]
pub use self::xfcc::{XFCC, Xfcc, XfccLayer};
/// The peer requirement is an authorization requirement ([`crate::authz`]); re-exported
/// here for the code that names it under `mtls`.
#[doc(no_inline)]
pub use crate::authz::{RequirePeer, RequirePeerLayer};
/// The peer identity lives on the ground floor ([`crate::peer_identity`]); re-exported
/// here, where it is made.
#[doc(no_inline)]
pub use crate::peer::{PeerIdentity, PeerInfo, SpiffeId, peer_identity};
pub use rustls_pki_types::CertificateDer;
