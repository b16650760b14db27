//! # Authorization: requirements, rule tables, Rego and OPA
//!
//! Authentication ([`AuthLayer`](crate::jwt::AuthLayer), mutual TLS) says who is calling;
//! authorization says whether they may make this call. In meshward it is one layer,
//! [`AuthzLayer`](crate::authz::AuthzLayer), over one trait,
//! [`Requirement`](crate::authz::Requirement), placed *inside* the authentication layer so
//! that it reads the [`Principal`](crate::Principal) and the peer identity:
//!
//! ```text
//! AuthLayer (allow_anonymous or not) ──▶ AuthzLayer(requirement) ──▶ handler
//! ```
//!
//! What a requirement can be, from the simplest to the most general:
//!
//! | requirement | made with | decides on |
//! | --- | --- | --- |
//! | scopes | [`require::scopes_all`](crate::authz::require::scopes_all), [`scopes_any`](crate::authz::require::scopes_any), [`RequireScopesLayer`](crate::authz::RequireScopesLayer) | the normalised `scope`/`scp` of the token received |
//! | claims | [`require::claim`](crate::authz::require::claim)`(path).equals / contains / matches / exists` | a claim by dotted path (`realm_access.roles`) or RFC 6901 JSON pointer (`/https:~1~1example.com~1roles`) |
//! | roles | [`require::role`](crate::authz::require::role), [`roles_all`](crate::authz::require::roles_all), [`roles_any`](crate::authz::require::roles_any) with [`Roles`](crate::authz::Roles) | where each identity provider puts roles (below) |
//! | who | [`subject_in`](crate::authz::require::subject_in), [`issuer_in`](crate::authz::require::issuer_in) | the end user |
//! | which services | [`caller_in`](crate::authz::require::caller_in), [`chain_within`](crate::authz::require::chain_within) | the service tokens' chain ([`mint`](crate::mint)) |
//! | which peer | [`require::peer`](crate::authz::require::peer) with [`PeerRequirement`](crate::authz::PeerRequirement), [`RequirePeerLayer`](crate::authz::RequirePeerLayer) | the client certificate: SPIFFE ID exact, by path prefix or trust domain; DNS SAN; subject |
//! | anything else | [`require::from_fn`](crate::authz::require::from_fn) | your closure |
//! | combinations | [`require::all`](crate::authz::require::all), [`any`](crate::authz::require::any), [`not`](crate::authz::require::not) | the above |
//! | a whole server | [`RuleTable`](crate::authz::RuleTable), [`SharedRules`](crate::authz::SharedRules) | (methods, path) → requirement, first match |
//! | a policy | [`RegoPolicy`](crate::authz::RegoPolicy) (feature `rego`), [`OpaPolicy`](crate::authz::OpaPolicy) (feature `opa`) | the input document below |
//!
//! ## Answers
//!
//! | situation | HTTP | gRPC | label (audit event, [`Rejection::label`](crate::Rejection::label)) |
//! | --- | --- | --- | --- |
//! | a rule or policy needs a principal and there is none | 401, `WWW-Authenticate: Bearer` | 16 `UNAUTHENTICATED` | `unauthenticated` |
//! | a scope is missing | 403, `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` | 7 `PERMISSION_DENIED` | `insufficient_scope` |
//! | a claim, a role, a subject, an issuer, a caller, the chain, a peer does not fit | 403 | 7 | `claim_mismatch`, `missing_role`, `subject_not_allowed`, … |
//! | no rule matches the request | 403 | 7 | `no_rule` |
//! | the path cannot be matched safely | 403 | 7 | `path_not_accepted` |
//! | a policy says no, or its decision is undefined, or not a decision | 403 (401 without credentials) | 7 (16) | `policy_denied`, `policy_undefined`, `policy_error` |
//! | a remote decision point is down, slow, or answers garbage | 503 | 14 `UNAVAILABLE` | `policy_unavailable` |
//!
//! Every decision, allowed or refused, is one audit event (target `meshward::audit`, layer
//! `authz`) with the decision, the reason, the rule's name when a rule table decided, the
//! method and path, and the principal's subject and issuer; never token contents.
//!
//! [`AuthzLayer::dry_run`](crate::authz::AuthzLayer::dry_run) lets everything through and
//! records what would have been refused (`decision = "would_deny"`): roll a new table or
//! policy out in dry-run, read the events, then enforce.
//!
//! ## Requirements and gates of your own
//!
//! - A closure that decides at once: [`require::from_fn`](crate::authz::require::from_fn).
//! - A closure that waits (a database, a directory service):
//!   [`require::from_async_fn`](crate::authz::require::from_async_fn). It returns a future
//!   that owns what it needs of the request; bound its time yourself.
//! - A type of your own: implement [`Requirement`](crate::authz::Requirement) (one method,
//!   `check`, answering a [`Decision`](crate::authz::Decision) now or later), and combine it with
//!   the others through [`BoxRequirement::new`](crate::authz::BoxRequirement::new).
//! - A check that is not about authorization (a header's shape, a body size, an IP list):
//!   implement [`Gate`](crate::gate::Gate) and put it in a tower stack with
//!   [`Gated`](crate::gate::Gated), or in a decision [`Engine`](crate::gate::Engine).
//!
//! [`Verifier`](crate::jwt::Verifier), what [`AuthLayer`](crate::jwt::AuthLayer) asks about
//! a token, stays sealed: a [`Principal`](crate::Principal) means a credential meshward
//! checked with its defaults (the algorithm from the key, every time claim, the audience,
//! certificate binding), and only meshward's verifiers make one. Checks of your own on top
//! of a verified token are requirements; a token format of another kind belongs in
//! meshward itself (ARCHITECTURE.md says where a new token kind goes).
//!
//! ## Roles, per identity provider
//!
//! | provider | where | [`Roles`](crate::authz::Roles) | rules file `from` |
//! | --- | --- | --- | --- |
//! | Keycloak, realm roles | `realm_access.roles` | `Roles::keycloak_realm()` | `keycloak_realm` |
//! | Keycloak, client roles | `resource_access.<client-id>.roles` (the client id may contain dots) | `Roles::keycloak_client("orders.api")` | `keycloak_client:orders.api` |
//! | Microsoft Entra ID, app roles | `roles` | `Roles::entra()` | `entra` |
//! | groups (Entra, Okta, Keycloak with a group mapper) | `groups` | `Roles::groups()` | `groups` |
//! | Auth0 and other namespaced claims | e.g. `https://example.com/roles` | `Roles::claim("/https:~1~1example.com~1roles")` (a JSON pointer) | `claim:/https:~1~1example.com~1roles` |
//!
//! A roles claim may be an array of strings or one space-delimited string; anything else
//! holds no role.
//!
//! ## Rule tables
//!
//! A rule table is an ordered list of rules; the first rule whose methods and path pattern
//! match the request decides it, and a request no rule matches is refused (403 `no_rule`)
//! unless the table allows by default. A path pattern is literal segments, `*` (exactly one
//! segment) and `**` (any number of segments, zero included). gRPC methods are paths
//! (`/package.Service/Method`), so one table guards an axum app and a tonic server alike;
//! `/shop.Inventory/*` does not match `/shop.InventoryAdmin/Reserve`.
//!
//! ### What the table refuses, and why
//!
//! A rule table decides on a path, and the router behind it serves a path: whenever the two
//! could read one request differently, the request is refused, never guessed at. Paths are
//! matched after percent-decoding (`/%61dmin` is `/admin`). A request whose path cannot be
//! matched safely is refused with 403 `path_not_accepted` (gRPC 7):
//!
//! - an **empty segment** (`//`, anywhere but one trailing slash): axum routes
//!   `/users//keys` to a route `/users/{id}/keys` with an empty `id`, while a table that
//!   collapsed `//` would match `/users/keys` (and `/users/*`);
//! - a **dot segment** (`.` and `..`, plain or percent-encoded): axum routes
//!   `/admin/../orders` to a route `/admin/{*rest}` while a resolving table would have
//!   matched `/orders`.
//!   [`RuleTableBuilder::resolve_dot_segments`](crate::authz::RuleTableBuilder::resolve_dot_segments)
//!   (file: `dot_segments = "resolve"`) is for a server whose router resolves them the same
//!   way;
//! - an encoded `/` (`%2F`) or NUL, bytes that are not UTF-8, more than 64 segments.
//!
//! Matching is case-sensitive unless the table says `case_insensitive`. One trailing slash
//! is ignored unless the table says `trailing_slash = "strict"`: with the default,
//! `/orders/7/` is matched as `/orders/7`. Routers that route `/orders/7/` elsewhere than
//! `/orders/7` (axum does: it is another route, or none) want `strict`, so that a rule says
//! which one it means.
//!
//! And a table with a rule that could never do what it says is refused when it is built:
//!
//! - a **method** outside RFC 9110's and `PATCH` (`DELET`) in `methods`: a misspelt method is
//!   a rule that never matches, and the rule below it decides instead. A method of an
//!   extension goes in `extension_methods` (`extension_methods = ["PURGE"]`), where a
//!   standard method is refused in turn;
//! - a **router's parameter syntax** in a pattern, `{id}`, `{*rest}` or `:id`: it would be
//!   read as a literal segment. Write `*` for one segment and `**` for any number;
//! - an empty or dot segment in a pattern, a `*` inside a segment (`/admin*`), two `**`.
//!
//! ### Which requirements need a principal
//!
//! Scopes, claims, roles, `authenticated`, `subject_in`, `issuer_in`, `caller_in` and
//! `chain_within` need a principal: without one they refuse with 401 `unauthenticated` and
//! the bearer challenge (gRPC 16), so that a client without a token is told to send one.
//! `peer` needs a client certificate and without one refuses with 401 `no_peer_identity`.
//! `not(…)` keeps these refusals (a missing principal is not "the requirement does not
//! hold"), and so does a policy that refuses a request without credentials. A rule with
//! `allow = "anyone"`, a table's default, and `from_fn` need nothing.
//!
//! ### How scopes and claims are read
//!
//! - A token's `scope` string is split on ASCII whitespace (space, tab, newline, carriage
//!   return, form feed), and an `scp` array is taken element by element. RFC 6749 separates
//!   scopes with spaces only and a scope token holds no whitespace, so a tab or a newline is
//!   read as one more separator rather than refused.
//! - `contains` and `matches` look into an array claim: `contains` holds when one element
//!   equals the value, `matches` when one string element matches the glob. On a string,
//!   `contains` looks for a space-delimited word and `matches` matches the whole string.
//!   `equals` compares the whole value (an array equals only the same array).
//!
//! A table is built whole or not at all: a file with one mistake is refused and nothing of it
//! is used. [`SharedRules`](crate::authz::SharedRules) holds a table that can be replaced while
//! the server runs; requests already decided keep the decision of the table they saw.
//!
//! ### The rules file
//!
//! TOML ([`RuleTable::from_toml`](crate::authz::RuleTable::from_toml), or `from_file` for a
//! name not ending in `.json`) or the same structure in JSON
//! ([`RuleTable::from_json`](crate::authz::RuleTable::from_json)); at most 1 MiB. Unknown keys
//! are errors. Errors name the line and column (syntax) or the rule, its number and its line.
//!
//! ```toml
//! default = "deny"              # or "allow": requests no rule matches (default: deny)
//! case_insensitive = false      # compare paths ignoring case
//! trailing_slash = "ignore"     # or "strict"
//! dot_segments = "refuse"       # or "resolve"
//!
//! [[rule]]
//! name = "health"               # required, unique: named in errors and audit events
//! path = "/healthz"             # required: the pattern
//! allow = "anyone"              # either this …
//!
//! [[rule]]
//! name = "read orders"
//! methods = ["GET", "HEAD"]     # optional: any method when absent; RFC 9110's and PATCH
//! # extension_methods = ["PURGE"]   # optional: methods outside that set, named as such
//! path = "/orders/**"
//! require = { scopes_any = ["orders:read", "orders:admin"] }   # … or this
//! ```
//!
//! A `require` value is a table with exactly one key:
//!
//! | key | value |
//! | --- | --- |
//! | `authenticated` | `true` |
//! | `scopes_all`, `scopes_any` | a list of scopes |
//! | `claim` | `{ path = "…", equals = <any JSON value> }`, or `contains = <value>` (an array holds it, or a space-delimited string holds it as a word), or `matches = "glob*"`, or `exists = true` |
//! | `roles` | `{ from = "<see the roles table>", all = [..] }` or `any = [..]` |
//! | `subject_in`, `issuer_in`, `caller_in`, `chain_within` | a list of values |
//! | `peer` | `{ spiffe_ids = [..], spiffe_path_prefixes = [..], trust_domains = [..], dns_names = [..], subjects = [..] }` (any of them; none means any verified certificate) |
//! | `all`, `any` | a list of `require` values |
//! | `not` | one `require` value |
//!
//! ## Policies: the input document
//!
//! A [`RegoPolicy`](crate::authz::RegoPolicy) (evaluated in process by `regorus`) and an
//! [`OpaPolicy`](crate::authz::OpaPolicy) (asked over HTTP) decide on the same JSON document.
//! Its shape is a public interface:
//!
//! ```json
//! {
//!   "request": {
//!     "method": "POST",
//!     "path": "/shop.Inventory/Reserve",
//!     "grpc": {"service": "shop.Inventory", "method": "Reserve"},
//!     "headers": {"x-tenant": "acme"}
//!   },
//!   "principal": {
//!     "subject": "alice",
//!     "issuer": "https://id.example.com",
//!     "scopes": ["orders:read"],
//!     "claims": {"sub": "alice", "tenant": "acme"}
//!   },
//!   "caller": "spiffe://prod.example/ns/shop/sa/orders",
//!   "chain": ["spiffe://prod.example/ns/edge/sa/gateway", "spiffe://prod.example/ns/shop/sa/orders"],
//!   "peer": {
//!     "spiffe_id": "spiffe://prod.example/ns/shop/sa/orders",
//!     "trust_domain": "prod.example",
//!     "dns_names": [],
//!     "subject": "CN=orders",
//!     "forwarded": false
//!   }
//! }
//! ```
//!
//! - `request.path` is the request's own path, *not* normalised: a policy that compares
//!   prefixes should refuse dot segments itself (the `rego_policy` example shows how).
//! - `request.grpc` is `null` for a request that is not a gRPC call.
//! - `request.headers` holds only the headers the policy was configured to see
//!   (`input_headers`), lowercase, the first value of each: a policy sees no header by
//!   default. It never holds a credential, whatever the configuration names: naming
//!   `Authorization`, `Proxy-Authorization` or `Cookie` (the cookies may carry the token) is
//!   an error when the policy is built, and a header an
//!   [`AuthLayer`](crate::jwt::AuthLayer) read the request's token from
//!   ([`TokenLocation::header`](crate::jwt::TokenLocation::header)) is left out of the
//!   document of every request it admitted. A remote OPA is therefore never sent a token,
//!   and no token is part of its decision cache's key. (A
//!   [`TokenLocation::from_fn`](crate::jwt::TokenLocation::from_fn) reads headers meshward
//!   cannot name: do not give a policy the header it reads.)
//! - `principal` is `null` without a principal; `claims` are the end user's (the innermost
//!   token of a chain), `scopes` those of the token received (narrowed by every hop).
//! - `caller` is the service that called this one and `chain` every service the request came
//!   through, first to last (empty when an end user calls directly).
//! - `peer` is the client certificate's identity, `null` without one; `forwarded` says it
//!   came from a trusted proxy's header ([XFCC](super::_04_behind_a_proxy)).
//!
//! The decision rule answers `true` or `{"allow": true}` to allow; `false` or
//! `{"allow": false, "reason": "…"}` to refuse (the reason, at most 200 characters, goes to
//! the error and the audit event). An undefined result refuses (`policy_undefined`), and
//! any other value (a string, a number, an object without a boolean `allow`) refuses as a
//! policy error. A refusal of a request without credentials is answered 401 with the bearer
//! challenge, as a rule that needs a principal is.
//!
//! ### Rego in process (feature `rego`)
//!
//! Policies and data documents load from strings or files (1 MiB each) and compile once; the
//! decision rule must exist at build time. Each request evaluates on its own copy of the
//! compiled engine (no lock, no state between requests). An evaluation is limited in time
//! (50 ms by default, at most 1 s): the limit is checked between evaluation steps, so a
//! single built-in call over a huge value runs to its end before the request is refused.
//! Evaluation runs on the request's task; BENCHMARKS.md has what one evaluation costs.
//! [`RegoPolicy::replace`](crate::authz::RegoPolicy::replace) swaps the policy while the
//! server runs; a policy that does not compile never replaces a good one.
//!
//! ### A remote OPA (feature `opa`)
//!
//! [`OpaPolicy`](crate::authz::OpaPolicy) POSTs `{"input": <the document>}` to
//! `<server>/v1/data/<path>` (OPA's data API) and reads `result` from the answer (absent:
//! undefined). It fails closed: no answer within the timeout (500 ms), a connection error, a
//! status other than 2xx, an answer that is not a JSON object or is over 64 KiB: 503
//! `policy_unavailable`. Decisions are cached (10 000 entries, 1 s by default) keyed by a
//! SHA-256 of the exact input document, so a cached decision is one for the very same
//! request facts; an unavailable answer is never cached. `https://` is required unless
//! `allow_insecure_http` (loopback sidecars).
//!
//! ## Typed claims
//!
//! [`Claims<T>`](crate::Claims) gives a handler the end user's claims as a type of its own,
//! deserialized once per verified token and shared by every request carrying it (the
//! verified-token cache keeps the token, and the value with it): an axum extractor, and
//! [`RequestExt::claims`](crate::tonic::RequestExt::claims) for tonic. Claims of the wrong
//! shape answer 401 `invalid_token` (`claims_mismatch`).
