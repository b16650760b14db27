//! The meshward manual: why it is built the way it is, and how to use it in situations the
//! API docs do not cover. Nothing here is code.
//!
//! - [`_01_threat_model`]: what meshward defends, against whom, and what it leaves to you.
//! - [`_02_jwt_attacks`]: the JWT attack catalogue and how each attack is refused.
//! - [`_03_defaults`]: every default, and the reason for it.
//! - [`_04_behind_a_proxy`]: client identity through a TLS-terminating proxy (XFCC).
//! - [`_05_service_tokens`]: the service-token format, a language-neutral specification.
//! - [`_06_authorization`]: requirements, rule tables and their file format, Rego and OPA,
//!   the policy input document.
//! - [`_07_how_to`]: axum, tonic, hyper; behind a proxy; rotating keys and certificates;
//!   moving policies to Rego or OPA; many instances on Redis; a service in another language.
//! - [`_08_migrating`]: from jwt-authorizer, tower-oauth2-resource-server, a hand-written
//!   jsonwebtoken middleware, and Istio's RequestAuthentication + AuthorizationPolicy.

pub mod _01_threat_model;
pub mod _02_jwt_attacks;
pub mod _03_defaults;
pub mod _04_behind_a_proxy;
pub mod _05_service_tokens;
pub mod _06_authorization;
pub mod _07_how_to;
pub mod _08_migrating;
