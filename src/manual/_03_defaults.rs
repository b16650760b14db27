//! # Defaults, and why
//!
//! | setting | default | why |
//! | --- | --- | --- |
//! | algorithms | RS256–512, PS256–512, ES256, ES384, EdDSA | every public-key algorithm aws-lc-rs verifies; HMAC only when a secret is added with its algorithm |
//! | key algorithms | from the JWK's `alg`, else its `kty`/`crv`, narrowed by the list above | identity providers often omit `alg` (oidc-provider, Entra); one RSA key then serves RS and PS as oidc-provider uses it |
//! | HMAC secrets | never beside public keys; at least the hash length | a shared secret next to public keys invites algorithm confusion; short secrets are brute-forceable (RFC 7518 §3.2) |
//! | `iss`, `aud`, `exp` | required | a token without them is not meant for you, or never expires |
//! | refusals logged in full | 100 per second for each layer and reason, then one summary event per second with the count (`audit::set_refusals_logged_per_second`) | a client that cannot get in must not be able to fill a disk; the metrics keep exact counts |
//! | leeway | 30 s | clocks drift; jsonwebtoken's 60 s is generous, zero breaks real deployments |
//! | `exp`, `nbf`, `iat` range | seconds from 1970 to the end of the year 9999; fractions floored; anything else (negative, `1e300`, `i64::MAX`, a string) is an invalid claim (401) | a saturated `exp` would mean "never expires" |
//! | maximum token lifetime (`exp` − `iat`) | none for access tokens (`ValidatorBuilder::max_token_lifetime` sets one, like Envoy's `max_lifetime`); 10 min for service tokens | identity providers differ too much for one default; a service token's bound is the specification's |
//! | `nbf`, `iat` | checked | a token from the future is a clock problem or a forgery |
//! | `crit` | refused | RFC 7515: an extension the recipient does not understand must fail |
//! | token / header size | 8 KiB / 2 KiB | bounds the work a client can ask for before the signature is checked |
//! | verified-token cache | 10 000 entries, never past `exp`, never before `nbf` | a token seen again costs a hash and a lookup (BENCHMARKS.md) |
//! | remote keys | HTTPS only, 5 s, 256 KiB, 100 keys, same-origin redirects | the key set decides who may sign; it must not be replaceable or unbounded |
//! | unknown `kid` | one refetch per 30 s, then 30 s of negative cache | key rotation works on the first request; a `kid` flood cannot hammer the provider |
//! | refresh | ahead of `max-age`, clamped 5 min – 24 h, 15 min without | providers rotate on their schedule; fresh keys before they are needed |
//! | stale-if-error | 24 h | an identity-provider outage should not become your outage |
//! | before the first load | 503 / `UNAVAILABLE` | "could not check" is not "invalid", and clients should retry |
//! | client certificates | required once a client CA is set | optional client auth is named: `allow_unauthenticated_clients()` |
//! | TLS | 1.2 and 1.3, ALPN `h2` and `http/1.1`, aws-lc-rs passed explicitly | one provider in the process; never installed globally, so a host application keeps its own choice |
//! | handshake | 3 s to the first bytes, 10 s in all; 1024 pending at once, 256 per source address; at a bound the oldest pending connection is closed, not the newest refused | a silent client cannot hold the accept loop, and idle sockets held open cannot lock real clients out |
//! | SPIFFE ID | only from exactly one valid URI SAN | the X.509-SVID specification |
//! | XFCC | trusted from nobody | a header any client can send is worth nothing unless a proxy you name set it |
//! | service token lifetime | 60 s, at most 10 min, never past the token it embeds | a hop's token is for one call: short enough that a stolen one is worth little, long enough for a retry |
//! | minted-token reuse | per audience, received token and scopes, for three quarters of the token's life (10 000 entries) | a hot path mints once per minute, not once per call; turned off (`minted_token_cache(0)`) where the receiver guards against replay |
//! | key rotation overlap | 10 min | longer than a peer's scheduled JWKS refresh (5 min at the least) and its unknown-`kid` cooldown (30 s), so no peer meets a `kid` it cannot fetch |
//! | published JWKS `max-age` | 5 min | peers refresh ahead of it; a removed key stops serving at their next refresh |
//! | service-token chain | 4 levels, 16 KiB | each level base64-wraps the one below (×4/3 + ≈550 B): four hops over a 2 KiB access token, within common header limits |
//! | `svc+jwt` | never accepted where an access token is expected, and the reverse | explicit typing (RFC 8725 §3.11): one kind of token cannot be replayed as the other |
//! | replay guard | off; 100 000 `jti`s in memory when on | one-time tokens need it; reused tokens (the default) would be refused by it |
//! | shared replay guard (`replay_guard_on`) | one compare-and-set per token, kept until a minute past `exp`; the store not answering: 503 | a token must be good once across every instance; "could not check" never admits |
//! | quota | 10 requests a second, a burst of one second's worth, per subject; 100 000 buckets in memory | GCRA (governor's) spreads requests evenly; a client cycling subjects cannot grow memory |
//! | quota store down | fail closed (503, `fail_open()` to let requests through), a warning at most once a second | a limit that silently disappears protects nothing; the choice is named |
//! | Redis | 250 ms per operation, key prefix `meshward:` | a slow store must not hold requests; instances of several services can share one Redis |
//! | introspection | HTTPS, 5 s, 64 KiB answers, 8 KiB tokens, no redirects; client authentication required | a token and client credentials travel in each request; an endpoint must not be replaceable or unbounded |
//! | introspection cache | 10 000 answers under the token's SHA-256; active ones until `exp` or 60 s, whichever is first; inactive ones 10 s; failures not cached | a token seen again costs no request; 60 s bounds how long a revoked token is still admitted |
//! | introspection endpoint failing | 503 / `UNAVAILABLE` | an outage of the provider is not an invalid token |
//! | resolved issuers (`issuer_resolver`) | 100 kept; 60 new ones a minute, then 503; a template's tenant one segment of `[A-Za-z0-9._-]`, at most 64 | a client naming random tenants must not grow memory or make the validator fetch without end; "could not check now" is a 503, not an admission |
//! | token exchange | 5 s, 64 KiB answers, no redirects; issued tokens reused for three quarters of their life (at least 5 s before they expire), 10 000 kept | a hot path exchanges once per token and target, never sends a token about to expire |
