//! End-to-end tests: real servers on 127.0.0.1, real clients, tokens signed at run time.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]

mod support;

#[path = "e2e/authz.rs"]
mod authz;
#[path = "e2e/authz_bypass.rs"]
mod authz_bypass;
#[path = "e2e/exchange.rs"]
mod exchange;
#[path = "e2e/gate.rs"]
mod gate;
#[path = "e2e/grpc.rs"]
mod grpc;
#[path = "e2e/introspect.rs"]
mod introspect;
#[path = "e2e/jwks.rs"]
mod jwks;
#[path = "e2e/jwt.rs"]
mod jwt;
#[path = "e2e/mesh.rs"]
mod mesh;
#[path = "e2e/mint.rs"]
mod mint;
#[path = "e2e/mtls.rs"]
mod mtls;
#[path = "e2e/oidc.rs"]
mod oidc;
#[path = "e2e/polyglot.rs"]
mod polyglot;
#[path = "e2e/protected_server.rs"]
mod protected_server;
#[path = "e2e/quota.rs"]
mod quota;
#[path = "e2e/tenants.rs"]
mod tenants;
