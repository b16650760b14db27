//! # Client identity behind a TLS-terminating proxy
//!
//! When a proxy (Envoy, an ingress) terminates the client's TLS, your service sees the
//! proxy's connection, not the client's certificate. Envoy can forward what it verified in
//! the `x-forwarded-client-cert` (XFCC) header; [`XfccLayer`](crate::mtls::XfccLayer) turns
//! that header into the request's [`PeerIdentity`](crate::mtls::PeerIdentity), but only when
//! the request came from the proxy.
//!
//! ## Envoy
//!
//! On the HTTP connection manager that faces clients, sanitize what clients send and set what
//! Envoy verified:
//!
//! ```yaml
//! forward_client_cert_details: SANITIZE_SET
//! set_current_client_cert_details:
//!   cert: true
//!   uri: true
//!   dns: true
//!   subject: true
//! ```
//!
//! ## meshward
//!
//! Trust the proxy by the address it connects from, or better, by its own client
//! certificate when the proxy talks to the service over mutual TLS:
//!
//! ```
//! use meshward::mtls::XfccLayer;
//!
//! let xfcc = XfccLayer::new()
//!     .trust_proxy_spiffe_id("spiffe://prod.example.com/ns/ingress/sa/envoy");
//! // Put it outside (before) the layers that read the identity:
//! // ServiceBuilder::new().layer(xfcc).layer(RequirePeerLayer::default()…).layer(AuthLayer::new(…))
//! ```
//!
//! What it does with each request:
//!
//! - from the trusted proxy, with an XFCC header: the identity comes from the header's
//!   *last* element (the one the nearest proxy added); from its `Cert` when present, whose
//!   `Hash` must then match, else from `URI`, `DNS`, `Subject` and `Hash`. It is marked
//!   [`is_forwarded`](crate::mtls::PeerIdentity::is_forwarded);
//! - from the trusted proxy, without a usable header: the client had no certificate, and the
//!   request has **no** identity (never the proxy's own);
//! - from anyone else: the header is removed before your service sees it, and the
//!   connection's own certificate, if any, is the identity.
//!
//! Certificate-bound tokens work through the proxy: the forwarded `Hash` (or the forwarded
//! certificate's SHA-256) is compared with the token's `cnf.x5t#S256`.
//!
//! Make sure clients cannot reach the service except through the proxy (network policy, or
//! mutual TLS between proxy and service): whoever you trust here can claim any identity.
