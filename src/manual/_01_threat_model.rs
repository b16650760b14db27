//! # Threat model
//!
//! meshward stands between the network and your handlers. It decides, for every request,
//! *who* is calling (a bearer token, a client certificate, or both) and whether they may
//! (scopes, allowed peers), before your code runs.
//!
//! ## What it protects
//!
//! The handlers behind the layers, and the data they reach. A request that a layer refuses
//! never reaches the inner service: tests assert that the inner service did not run.
//!
//! ## Against whom
//!
//! | attacker | can | meshward's answer |
//! | --- | --- | --- |
//! | any client on the network | send any header, any token, any TLS handshake | every token is verified with keys you configured; every input size is bounded; refusals are answers, never panics |
//! | a client holding a token of another service | replay it here | `aud` must name one of *your* audiences; `iss` must be exactly one you trust |
//! | a client holding a stolen token | replay it until it expires | certificate-bound tokens (RFC 8705): the token is only accepted on a connection with the certificate it names |
//! | someone on the path to the identity provider | tamper with key fetches | keys are fetched over HTTPS only (unless you name `allow_insecure_http`), redirects never leave the origin |
//! | someone who can make the provider unreachable | deny service | the last good keys keep serving for 24 h; a flood of unknown `kid`s costs one fetch per cooldown |
//! | a client connecting around your proxy | forge `x-forwarded-client-cert` | the header is believed only from a proxy you name, by address or SPIFFE ID, and stripped from everyone else |
//! | anyone who can open TCP connections | hold a thousand sockets open without a word, refreshing them, to fill the pending-handshake bound | a connection silent for 3 s is closed; at the bound (1024, 256 per address) the oldest pending connection is closed to admit the new one, so a real client still gets its handshake (tested with 1 100 idle sockets held open) |
//! | a client with a certificate from another CA, expired, or revoked | connect | rustls refuses the handshake (CA bundle, validity, CRLs) before meshward sees the certificate |
//! | a compromised or buggy service of the mesh | claim another user, more scopes, or another path than the request took | each hop signs its own token and embeds the one it received: the receiver checks every signature, that every level names the same user, that no hop widened the scopes, and that each hop was addressed to the service that embedded it (service-token chapter) |
//! | someone holding a service token from the wire | replay it to its audience, or from another workload | tokens live 60 s and name one audience; optionally the issuer must be the connection's SPIFFE ID (`bind_caller_to_peer`), and a `jti` is refused twice (`replay_guard`) |
//! | a client sending a service token to an edge that expects access tokens (or the reverse) | confuse the two | explicit typing: `svc+jwt` is refused by every `Validator`, and the chain verifier admits nothing else as a hop |
//!
//! ## What it does not do (yet)
//!
//! - **Revocation of single tokens before `exp`.** A verified token stays valid until it
//!   expires. What an operator can do is pull the key that signed it: on the next refresh of
//!   the issuer's JWKS (its schedule, an unknown `kid`, or `warm_up()`), every cached token
//!   verified with a key no longer published is dropped from the verified-token cache, and
//!   the next request with one is refused (401 `unknown signing key`). A token being verified
//!   while the key set changes is not cached. Keep access-token lifetimes short, and the
//!   JWKS `max-age` short enough that a pulled key is noticed in time.
//! - **Replay protection** of access tokens (`jti`). Service tokens have it
//!   (`ServiceTokenVerifierBuilder::replay_guard`, in memory per process); a store shared by
//!   many instances is planned behind the same trait.
//! - **Confidentiality of the chain.** Service tokens are signed, not encrypted: every later
//!   hop can read every level, the end user's access token included.
//! - **Authorization beyond scopes and peer identity.** Claim rules and policies come later.
//! - **Secrets at rest.** meshward holds an HMAC secret only inside jsonwebtoken's
//!   `DecodingKey`, which zeroizes its bytes when dropped (`ZeroizeOnDrop`, checked by a
//!   test), and aws-lc cleanses the HMAC contexts made from it. The bytes you pass to
//!   `add_hmac_secret`, and where they come from (a file, a vault), are yours to protect.
//!
//! ## Where the detail goes
//!
//! Responses carry a fixed description and never the token. The detailed reason goes into
//! the typed error in the response extensions ([`Rejection`](crate::Rejection)) and into an
//! audit event on the `meshward::audit` tracing target (decision, reason, method, path,
//! subject when known).
