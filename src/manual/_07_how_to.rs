//! # How-tos
//!
//! Short recipes for the situations users meet first. Each names the API items to read and
//! an example of the repository that runs the recipe end to end (`cargo run --example …`).
//!
//! ## An axum service
//!
//! Put [`AuthLayer`](crate::jwt::AuthLayer) on the router, outside the authorization
//! ([`AuthzLayer`](crate::authz::AuthzLayer), or [`RequireScopesLayer`](crate::authz::RequireScopesLayer)
//! for scopes alone): axum applies the last `.layer` first, so write the authorization
//! layer before the authentication layer. Handlers extract [`Principal`](crate::Principal)
//! (refusing the request when there is none), `Option<Principal>` (routes that
//! [`allow_anonymous`](crate::jwt::AuthLayer::allow_anonymous)),
//! [`Claims<T>`](crate::Claims) for a typed view of the claims, and
//! [`PeerIdentity`](crate::PeerIdentity) behind mutual TLS. A route added to the router
//! *after* the layers (health checks, a [`JwksPublisher`](crate::mint::JwksPublisher)) is not
//! behind them. Examples: `quickstart`, `protected_server`, `mesh` (gateway and orders).
//!
//! ## A tonic service
//!
//! The same layers go on `tonic::transport::Server::builder().layer(…)` (there the first
//! `.layer` is the outermost: authentication first). gRPC methods are paths
//! (`/package.Service/Method`), so one [`RuleTable`](crate::authz::RuleTable) guards HTTP
//! routes and gRPC methods alike. Handlers read the principal and the peer with
//! [`RequestExt`](crate::tonic::RequestExt) (`request.principal()`,
//! `request.peer_identity()`). Refusals are trailers-only responses with the gRPC codes
//! clients expect: `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7), `RESOURCE_EXHAUSTED` (8),
//! `UNAVAILABLE` (14). For mutual TLS, serve with
//! `serve_with_incoming(acceptor.incoming(listener))`
//! ([`MtlsAcceptor::incoming`](crate::mtls::MtlsAcceptor::incoming)); a client dials with
//! [`MtlsClient::connector`](crate::mtls::MtlsClient::connector) and an `http://` endpoint
//! (the connector does the TLS). Examples: `tonic_server`, `tonic_mtls`, `mesh`
//! (inventory).
//!
//! ## Plain hyper or any tower service
//!
//! The layers are tower layers over `http::Request`/`http::Response`: stack them with
//! `tower::ServiceBuilder` (with [`ServiceBuilderExt`](crate::ServiceBuilderExt):
//! `.authenticate(validator).require_all_scopes([…])`) around any service, and serve it with
//! hyper-util. Behind mutual TLS, [`serve_hyper`](crate::mtls::serve_hyper) (feature
//! `hyper`) serves HTTP/1.1 and HTTP/2 from an [`MtlsAcceptor`](crate::mtls::MtlsAcceptor)
//! with graceful shutdown and puts the peer's identity on each request. Example:
//! `hyper_server`.
//!
//! ## Behind a TLS-terminating proxy
//!
//! See [`_04_behind_a_proxy`](super::_04_behind_a_proxy): the proxy forwards the client
//! certificate in `x-forwarded-client-cert`, and [`XfccLayer`](crate::mtls::XfccLayer)
//! believes it only from the proxies you name.
//!
//! ## Rotating keys and certificates
//!
//! - **The identity provider's signing keys.** A remote
//!   [`KeySource`](crate::jwt::KeySource) refetches the JWKS on the provider's
//!   `Cache-Control` (within
//!   [`refresh_bounds`](crate::jwt::RemoteKeySourceBuilder::refresh_bounds)), and a token
//!   naming a `kid` it does not know makes it refetch at once, at most once per
//!   [`refresh_cooldown`](crate::jwt::RemoteKeySourceBuilder::refresh_cooldown). So a
//!   provider that publishes a new key before signing with it (every major one does) is
//!   followed with no action; one that signs with a key the moment it publishes it costs
//!   one refetch. When a key leaves the JWKS, tokens verified with it are no longer served
//!   from the verified-token cache.
//! - **A service's own signing key.** [`ServiceSigner::rotate`](crate::mint::ServiceSigner::rotate)
//!   publishes the new key at once and signs with it once the rotation overlap has passed
//!   (peers have refetched by then); the old key stays published until the last token it
//!   signed has expired. [`rotate_at`](crate::mint::ServiceSigner::rotate_at) chooses the
//!   moment. The [`JwksPublisher`](crate::mint::JwksPublisher) serves whatever the ring holds.
//! - **Certificates.** [`MtlsAcceptor::watch`](crate::mtls::MtlsAcceptor::watch) reloads
//!   the certificate, key, CA and CRL files when they change (cert-manager, SPIRE's helper
//!   and Vault agents rewrite files in place);
//!   [`reload`](crate::mtls::MtlsAcceptor::reload) does it on demand (say, on `SIGHUP`),
//!   and [`reload_with`](crate::mtls::MtlsAcceptor::reload_with) swaps in a new builder (a
//!   new CA bundle during a CA rotation: trust old and new, then drop the old). Live
//!   connections keep the handshake they made; a file that does not parse, or a key that
//!   does not match its certificate, is refused and the configuration in force stays. The
//!   client side, [`MtlsClient`](crate::mtls::MtlsClient), has the same three.
//!
//! ## Moving policies to Rego or OPA
//!
//! 1. Write the rules you have as a [`RuleTable`](crate::authz::RuleTable) first (code or a
//!    TOML file): it is the fastest and it names each denial's reason.
//! 2. Write the policy against the input document of
//!    [`_06_authorization`](super::_06_authorization) (request, principal, caller and chain,
//!    peer). The `rego_policy` example runs the same calls through a rule table and a Rego
//!    policy and fails if they disagree: do the same with your own calls in a test.
//! 3. Roll it out with [`AuthzLayer::dry_run`](crate::authz::AuthzLayer::dry_run): nothing
//!    is refused, and every request the policy would have refused is an audit event with
//!    `decision = "would_deny"`.
//! 4. Then enforce: [`RegoPolicy`](crate::authz::RegoPolicy) (feature `rego`) evaluates in
//!    process, with a time limit per decision, and swaps policies at run time with
//!    [`replace`](crate::authz::RegoPolicy::replace);
//!    [`OpaPolicy`](crate::authz::OpaPolicy) (feature `opa`) asks a remote OPA, caches
//!    decisions if told to, and answers 503 / `UNAVAILABLE` when OPA cannot be reached,
//!    never an unchecked allow.
//!
//! ## Many instances of one service
//!
//! Most state is safe per instance: the verified-token cache, the key sets, the
//! introspection cache and the exchanged-token cache only avoid work. Two things are not:
//! a quota (each instance would grant the whole quota) and the service tokens' replay guard
//! (a token replayed to another instance would be fresh there). Put both on one
//! [`RedisState`](crate::state::RedisState) (feature `redis`):
//! [`LimitBuilder::state`](crate::quota::LimitBuilder::state) and
//! [`ServiceTokenVerifierBuilder::replay_guard_on`](crate::mint::ServiceTokenVerifierBuilder::replay_guard_on).
//! Give each service its own [`key_prefix`](crate::state::RedisStateBuilder::key_prefix).
//! When Redis cannot answer, the replay guard refuses (503) and the quota refuses too unless
//! it was built with [`fail_open`](crate::quota::LimitBuilder::fail_open); each says so
//! in a warning at most once a second. `protected_server` does this with
//! `MESHWARD_REDIS_URL`.
//!
//! ## A service in another language joining the mesh
//!
//! The service-token format is a public interface, specified in
//! [`_05_service_tokens`](super::_05_service_tokens). A service written in Go, Java or
//! JavaScript needs a JOSE library and that page:
//!
//! - to *call* a meshward service, it signs a service token with its own key for the
//!   receiver's identity as audience, nesting the token it received, and publishes its
//!   public keys as a JWKS; the receiver lists it with
//!   [`trust_service`](crate::mint::ServiceTokenVerifierBuilder::trust_service);
//! - to *be called* by one, it fetches the caller's JWKS (each meshward service can serve its
//!   own with a [`JwksPublisher`](crate::mint::JwksPublisher)) and verifies the chain as the
//!   page's "Verifying" section says, in order.
//!
//! The repository's `polyglot` end-to-end test does both with a JavaScript service (the
//! `jose` package) between two meshward services.
//!
//! ## Coming from another library or from Istio
//!
//! See [`_08_migrating`](super::_08_migrating).
