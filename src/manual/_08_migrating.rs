//! # Migrating to meshward
//!
//! What maps to what, from the Rust middlewares people use for bearer tokens and from an
//! Istio `RequestAuthentication` + `AuthorizationPolicy` pair. In every case the first step
//! is the same: one [`Validator`](crate::jwt::Validator) per token audience, with the
//! issuer and audiences you checked before, behind one
//! [`AuthLayer`](crate::jwt::AuthLayer); then authorization with an
//! [`AuthzLayer`](crate::authz::AuthzLayer) instead of code in handlers.
//!
//! ## From jwt-authorizer
//!
//! | jwt-authorizer | meshward |
//! | --- | --- |
//! | an authorizer built from an OIDC issuer, a JWKS URL or a PEM key | [`Validator::builder`](crate::jwt::Validator::builder)`(issuer, audiences)` with [`KeySource::discovery`](crate::jwt::KeySource::discovery), [`KeySource::jwks`](crate::jwt::KeySource::jwks) or [`VerifyingKey`](crate::jwt::VerifyingKey) |
//! | its validation settings (`aud`, `iss`, `nbf`, leeway) | the builder: issuer and audiences are required, `exp` is always checked, `nbf` when present, the leeway is [`leeway`](crate::jwt::ValidatorBuilder::leeway) (default 30 s) |
//! | a `check` closure on the claims | a requirement: [`require::from_fn`](crate::authz::require::from_fn) for arbitrary code, or declarative ones ([`require::claim`](crate::authz::require::claim), scopes, roles) in a [`RuleTable`](crate::authz::RuleTable) |
//! | the claims extractor in handlers | [`Claims<T>`](crate::Claims) (typed) or [`Principal`](crate::Principal) (subject, scopes, any claim by path) |
//! | token from a header or a cookie | the `Authorization` header by default; [`TokenLocation`](crate::jwt::TokenLocation) for others |
//!
//! What changes for clients: a refused request gets the RFC 6750 challenge
//! (`WWW-Authenticate: Bearer error="invalid_token"`, 403 with `insufficient_scope` and the
//! missing scopes), and a provider that cannot be reached is 503, not 401. What you gain:
//! the verified-token cache (a token seen again costs a lookup, not a signature check),
//! algorithm pinning per key, `typ` checks, bounded key refetching on unknown `kid`s.
//!
//! ## From tower-oauth2-resource-server
//!
//! | tower-oauth2-resource-server | meshward |
//! | --- | --- |
//! | a resource server with one or more tenants (issuer, audiences, JWKS by discovery) | one [`Validator`](crate::jwt::Validator) with an [`Issuer`](crate::jwt::Issuer) per tenant ([`add_issuer`](crate::jwt::ValidatorBuilder::add_issuer)), or an [`IssuerResolver`](crate::jwt::IssuerResolver) / [`IssuerTemplate`](crate::jwt::IssuerTemplate) when tenants are many and found at run time |
//! | its layer | [`AuthLayer`](crate::jwt::AuthLayer) |
//! | the claims in the request extensions | [`Principal`](crate::Principal) in the extensions (and its extractors) |
//! | authorization in your handlers | [`AuthzLayer`](crate::authz::AuthzLayer) with requirements or a rule table |
//!
//! ## From a hand-written jsonwebtoken middleware
//!
//! A middleware that reads the header, calls `jsonwebtoken::decode` with a `Validation` and
//! a `DecodingKey`, and puts the claims in the extensions is exactly what
//! [`AuthLayer`](crate::jwt::AuthLayer) does, with what such middlewares usually lack: keys
//! fetched, cached and rotated by `kid` with a bounded refetch; the algorithm taken from the
//! key, never from the token; size caps on the token and its header; `typ` checks so an ID
//! token or a service token is not taken for an access token; the verified-token cache; the
//! standard challenges; one audit event per decision. Keep your claims type: extract it with
//! [`Claims<T>`](crate::Claims).
//!
//! ## From Istio's RequestAuthentication and AuthorizationPolicy
//!
//! | Istio | meshward |
//! | --- | --- |
//! | `RequestAuthentication.jwtRules[].issuer`, `audiences`, `jwksUri` | [`Validator::builder`](crate::jwt::Validator::builder)`(issuer, audiences)` with [`KeySource::jwks`](crate::jwt::KeySource::jwks) (or discovery) |
//! | a request *without* a token passes `RequestAuthentication`; only invalid ones are refused | the same is [`AuthLayer::allow_anonymous`](crate::jwt::AuthLayer::allow_anonymous); meshward's default refuses a missing token (401) |
//! | `AuthorizationPolicy` `from.source.requestPrincipals: ["*"]` (require a token) | [`require::authenticated`](crate::authz::require::authenticated) |
//! | `requestPrincipals: ["<iss>/<sub>"]` | [`require::all`](crate::authz::require::all) of [`issuer_in`](crate::authz::require::issuer_in) and [`subject_in`](crate::authz::require::subject_in) |
//! | `from.source.principals: ["cluster.local/ns/shop/sa/orders"]` (the mTLS peer) | a peer requirement on `spiffe://cluster.local/ns/shop/sa/orders` ([`PeerRequirement`](crate::authz::PeerRequirement), `peer = { spiffe_ids = […] }` in a rules file), or [`caller_in`](crate::authz::require::caller_in) for the service token's caller |
//! | `from.source.namespaces: ["shop"]` | a SPIFFE path prefix: `spiffe_path_prefixes = ["spiffe://cluster.local/ns/shop/"]` |
//! | `to.operation.methods`, `paths` | a [`Rule`](crate::authz::Rule)'s methods and path pattern; Istio's `/api/*` prefix match is `/api/**` here (`*` is one segment), and paths are normalised before matching |
//! | `when: request.auth.claims[groups]` | [`require::claim`](crate::authz::require::claim)`("groups").contains(…)` or roles from `groups` |
//! | `action: DENY` policies, evaluated before `ALLOW` | a rule with [`require::not`](crate::authz::require::not) placed first in the table (rules are tried in order; the first match decides) |
//! | no policy: allow all; any `ALLOW` policy: deny what none allows | a rule table denies what no rule matches; add a last rule `path = "/**"`, `allow = "anyone"` to mirror "allow all" while you migrate |
//! | `PeerAuthentication` `STRICT` | an [`MtlsAcceptor`](crate::mtls::MtlsAcceptor) that requires client certificates (the default) |
//! | the sidecar's forwarded identity (`x-forwarded-client-cert`) | [`XfccLayer`](crate::mtls::XfccLayer) when a proxy stays in front |
//!
//! What has no Istio equivalent: the nested service tokens
//! ([`_05_service_tokens`](super::_05_service_tokens)) carry the end user *and* every
//! service on the path, signed hop by hop, so a rule can ask "orders, on behalf of a user
//! who came through the gateway" ([`chain_within`](crate::authz::require::chain_within)),
//! which a sidecar that only sees the last peer cannot check.
