//! # Service tokens: the specification
//!
//! Every call a service of the mesh makes carries a *service token*: a JWS the calling
//! service signs with its own key, addressed to one target service, living a minute, that
//! embeds the token the calling service itself received. The receiver checks the whole path
//! the request took, hop by hop, each hop with its own signer's keys: it knows who the end
//! user is, which services the request came through, and each hop's signature binds that
//! hop to what it asserted.
//!
//! The format is a public interface: services written in other languages mint and verify it
//! with any JOSE library by following this page. meshward's own implementation is
//! [`ServiceSigner`](crate::mint::ServiceSigner) (minting) and
//! [`ServiceTokenVerifier`](crate::mint::ServiceTokenVerifier) (verifying); the end-to-end
//! tests check that a hop minted by Node's `jose` following only this page is accepted, and
//! that a meshward chain verifies in `jose` following it too.
//!
//! ## The token
//!
//! A JWS in compact serialization (RFC 7515), signed, never encrypted, never `none`.
//!
//! ### Header
//!
//! | member | value |
//! | --- | --- |
//! | `alg` | `ES256` (the default), `EdDSA` or `RS256` |
//! | `kid` | the signing key's id, as published in the service's JWKS |
//! | `typ` | exactly `svc+jwt` (compared case-insensitively, an `application/` prefix ignored): a service token never passes where an access token is expected, nor an access token where a service token is (RFC 8725 §3.11) |
//!
//! No other member is needed; `crit` is refused, and `jku`, `x5u`, `jwk`, `x5c` are never
//! followed.
//!
//! ### Claims
//!
//! | claim | value |
//! | --- | --- |
//! | `iss` | the calling service's identity: a URL or a SPIFFE ID (`spiffe://trust-domain/path`) |
//! | `aud` | the one target service's identity: a string (an array of exactly one string is accepted; an array of two or more is refused at every level, since a token good at two services could be replayed by the first at the second) |
//! | `sub` | the end user's subject, copied from the token received; the calling service's own identity when it calls on its own behalf |
//! | `iat` | NumericDate of minting |
//! | `exp` | NumericDate; `iat` + the lifetime (60 s by default, 10 min at most), and never after the `exp` of any token below it |
//! | `jti` | a unique id (meshward: 128 random bits, base64url); no two levels of one chain carry the same |
//! | `act` | RFC 8693 actor: `{"sub": <iss>}`, and when the token received was itself a service token, `{"sub": <iss>, "act": <the act of the token received>}`: the chain of calling services, the current one outermost |
//! | `scope` | the end user's scopes, space-delimited, as the token received carried them, optionally narrowed (never widened); absent when there are none |
//! | `subject_token` | the token the calling service received, whole, as a compact JWS string: the end user's access token at the first hop, the previous hop's service token after that. Absent when the service calls on its own behalf |
//!
//! ## Minting (what the calling service does)
//!
//! 1. Take the token you received and verified (the end user's access token, or a service
//!    token) and its `sub`, `scope`, `act` and `exp`.
//! 2. Build the claims above: `iss` = you, `aud` = the target, `sub` and `scope` from the
//!    token received, `act` = `{"sub": you}` plus `"act": <received act>` if the token
//!    received was a service token, `subject_token` = the token received, `exp` = min(now +
//!    lifetime, received `exp`).
//! 3. Sign with your key under header `{"alg", "kid", "typ": "svc+jwt"}`, send as
//!    `Authorization: Bearer <token>`.
//! 4. Publish your public keys as a JWKS document; publish a new key before it signs (the
//!    rotation overlap) and keep an old one published until every token it signed expired.
//!
//! ## Verifying (what the receiving service does), in order
//!
//! With: your own identity `me`; the services you trust, each with its key set (its JWKS);
//! the identity provider's keys and accepted audiences for end users' tokens; a maximum depth
//! (4) and a maximum length (16 KiB).
//!
//! 1. Refuse a token longer than the maximum length.
//! 2. Let `expected_aud` = `me`. For each level, starting with the token received, at most
//!    *depth* levels:
//!    1. The header's `typ` is `svc+jwt`. The `iss` is a service you trust; the signature
//!       verifies with that service's key named by `kid` (whose algorithm the key, not the
//!       header, decides); `exp` is in the future, `nbf`/`iat` not in the future (with a
//!       leeway, 30 s), each a NumericDate between 1970 and the year 9999; `exp` minus `iat`
//!       (minus `nbf` without `iat`; a token with neither is refused) is at most 10 minutes.
//!    2. `aud` names exactly one audience (a string, or an array of one), and it is
//!       `expected_aud`.
//!    3. `sub` is present; `act` is an object whose `sub` equals this level's `iss`.
//!    4. If there is no `subject_token`: the service calls on its own behalf; `sub` must
//!       equal `iss` and `act` must not nest another `act`. The chain ends here.
//!    5. If `subject_token`'s header `typ` is `svc+jwt`: it is the next level. Let
//!       `expected_aud` = this level's `iss` (each hop was addressed to the service that
//!       embedded it) and continue with it.
//!    6. Otherwise it is the end user's access token: verify it as an access token from
//!       your identity provider (its keys, its issuer, its audiences: the first service's,
//!       not yours). The chain ends here.
//!
//!    A chain with more service-token levels than the depth is refused.
//! 3. No `jti` appears twice in the chain, the end user's token included (levels without
//!    one are passed over): no honest signer nests a token under its own id.
//! 4. For every level and the token directly below it (the next level, or the end user's
//!    token): the `sub` values are equal; every scope of the level is a scope of the one
//!    below; the level's `act.act` equals the `act` of the one below (both absent at the
//!    first hop).
//! 5. Optionally: the outermost `iss` is the SPIFFE ID of the mutual-TLS connection the
//!    request came on; the outermost `jti` was not seen before within its lifetime.
//! 6. The caller is the outermost `iss`; the services the request came through are the
//!    `iss` of each level from the innermost to the outermost; the end user is the innermost
//!    `sub`; the scopes are the outermost `scope`; the chain expires at the earliest `exp`.
//!
//! Any failure refuses the request: 401 with `WWW-Authenticate: Bearer
//! error="invalid_token"` (gRPC `UNAUTHENTICATED`), 503 when keys cannot be had.
//!
//! ## A decoded three-hop chain
//!
//! An end user `alice` calls the gateway; the gateway calls `orders`, `orders` calls
//! `inventory`, `inventory` calls `warehouse`. This is the token `warehouse` receives
//! (`subject_token` shortened):
//!
//! ```json
//! // header
//! {"alg": "ES256", "kid": "spiffe://mesh.test/ns/shop/sa/inventory#1", "typ": "svc+jwt"}
//! // claims
//! {
//!   "iss": "spiffe://mesh.test/ns/shop/sa/inventory",
//!   "aud": "spiffe://mesh.test/ns/shop/sa/warehouse",
//!   "sub": "alice",
//!   "iat": 1796110509,
//!   "exp": 1796110569,
//!   "jti": "N9j8_FKrjkPE6Gb_K4B__Q",
//!   "act": {
//!     "sub": "spiffe://mesh.test/ns/shop/sa/inventory",
//!     "act": {
//!       "sub": "spiffe://mesh.test/ns/shop/sa/orders",
//!       "act": {"sub": "spiffe://mesh.test/ns/edge/sa/gateway"}
//!     }
//!   },
//!   "scope": "orders:read orders:write",
//!   "subject_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6InNwaWZmZTovL21lc2gudGVzdC9ucy9zaG9wL3NhL29yZGVycyMxIiwidHlwIjoic3ZjK2p3dCJ9.eyJpc3Mi…"
//! }
//! ```
//!
//! Its `subject_token` is the token `inventory` received from `orders` (`iss` orders, `aud`
//! inventory, `act` orders over gateway), whose `subject_token` is the token `orders`
//! received from the gateway (`iss` gateway, `aud` orders, `act` gateway), whose
//! `subject_token` is alice's access token from the identity provider (`aud` the gateway's
//! API). `warehouse` sees: end user `alice`, caller `inventory`, chain gateway → orders →
//! inventory.
//!
//! ## Size per depth
//!
//! Each level base64url-encodes the one below (×4/3) and adds its own claims and an ES256
//! signature (about 550 bytes with SPIFFE IDs of this length). Measured with the end-to-end
//! tests' tokens:
//!
//! | token | with a 371-byte access token | with an 800-byte access token (estimated) |
//! | --- | --- | --- |
//! | the end user's access token | 371 B | 800 B |
//! | hop 1 (gateway → orders) | 1 061 B | ≈ 1.6 KiB |
//! | hop 2 (orders → inventory) | 2 052 B | ≈ 2.7 KiB |
//! | hop 3 (inventory → warehouse) | 3 456 B | ≈ 4.2 KiB |
//! | hop 4 | ≈ 5.2 KiB | ≈ 6.2 KiB |
//!
//! The verifier's default caps (depth 4, 16 KiB) admit four hops over a 2 KiB access token;
//! HTTP servers commonly cap a header at 8–16 KiB, so keep chains short and access tokens
//! small, or raise both caps together.
//!
//! ## What the format does not do
//!
//! - It does not hide anything: every level is readable by every later hop (JWS, not JWE).
//! - A hop can narrow scopes but not add claims of its own that later hops should trust
//!   about the user: only the innermost token speaks for the user.
//! - A minted token is reused for several calls to the same target until shortly before it
//!   expires; a receiver with a replay guard needs senders that mint a fresh token per call
//!   (`minted_token_cache(0)`).
