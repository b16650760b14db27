//! # The JWT attack catalogue
//!
//! Every row is a case in the end-to-end tests (`tests/e2e/jwt.rs`, through a real axum
//! server; `tests/e2e/grpc.rs` over tonic), which assert the exact status and
//! `WWW-Authenticate` challenge the client sees.
//!
//! | attack | how it is refused | answer |
//! | --- | --- | --- |
//! | `alg: none` (any case), with or without a signature | the header's `alg` must name an algorithm meshward implements; `none` is not one and cannot be configured | 401 `token algorithm not accepted` |
//! | algorithm confusion: HS256 signed with the RSA public key | keys carry their own algorithms; an RSA key never verifies HMAC, and HMAC secrets never sit beside public keys | 401 `token algorithm not accepted` |
//! | a token naming another key family's `kid` | the key's algorithms decide, the header only selects | 401 `token algorithm not accepted` |
//! | unknown, path-traversal or SQL-injection `kid` | `kid` is only compared as a string to configured keys | 401 `unknown signing key` |
//! | `jku`, `x5u`, `jwk`, `x5c` pointing at the attacker's key | never read; the configured keys decide | 401 `invalid signature` |
//! | forged, stripped, truncated, swapped, non-canonical signature | verified with aws-lc-rs; base64url must be canonical and unpadded | 401 `invalid signature` |
//! | payload tampering | the signature covers it | 401 `invalid signature` |
//! | "psychic signature" (ECDSA r = s = 0) | aws-lc-rs rejects zero scalars | 401 `invalid signature` |
//! | expired, `nbf` or `iat` in the future | checked with an explicit leeway (30 s) after the signature | 401 `token expired` / `token not yet valid` / `token issued in the future` |
//! | missing `exp`, `iss` or `aud` | required, unlike jsonwebtoken's defaults | 401 `required claim missing` |
//! | claims of the wrong JSON type | typed reads | 401 `invalid claim` |
//! | wrong issuer (also a trailing slash) | exact string comparison | 401 `untrusted issuer` |
//! | wrong audience | must intersect the issuer's accepted audiences | 401 `wrong audience` |
//! | `crit` header | meshward implements no JWS extension (RFC 7515 §4.1.11) | 401 `unsupported critical header` |
//! | duplicate header members (`"alg":"HS256","alg":"none"`) | refused by the header parser | 401 `malformed token` |
//! | oversized token or header | 8 KiB and 2 KiB caps, checked before any decoding | 401 `token too large` |
//! | garbage, wrong segment count, non-JSON | parsed defensively | 401 `malformed token` |
//! | two `Authorization` headers, `Bearer` with no token or two | RFC 6750 syntax | 400 `invalid_request` |
//! | a token bound to another certificate, or presented without mTLS | `cnf.x5t#S256` must equal the connection certificate's thumbprint | 401 `token bound to another certificate` |
//! | a flood of random `kid`s against a remote key set | one refetch per 30 s cooldown, then a negative cache | 401 `unknown signing key`, one fetch |
//!
//! gRPC calls get the same decisions as trailers-only answers: `UNAUTHENTICATED` (16) for
//! every 401 and 400 above, `PERMISSION_DENIED` (7) for scope and peer refusals,
//! `UNAVAILABLE` (14) when no key could ever be loaded.
