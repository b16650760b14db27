//! One rules file guarding an axum API and a tonic service, in one process on 127.0.0.1.
//!
//! Run with `cargo run --example authz_rules --features axum,tonic`.
//!
//! The table is `examples/authz/rules.toml` (the schema is in the manual's authorization
//! chapter): a health route open to anyone, orders for readers, exports for admins, the
//! admin console for holders of the Keycloak realm role `admin`, and the gRPC method
//! `/demo.Inventory/Reserve` for callers with a scope and a tenant claim. The example prints
//! each call with the answer and, for a refusal, its reason: `unauthenticated` (401),
//! `insufficient_scope`, `missing_role`, `claim_mismatch`, `path_not_accepted`, `no_rule`
//! (403), or the gRPC code.

#[path = "authz/demo.rs"]
mod demo;

use meshward::authz::RuleTable;

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let rules = RuleTable::from_toml(include_str!("authz/rules.toml"))?;
    println!("{} rules from examples/authz/rules.toml", rules.len());
    demo::run("Calls through the rule table:", rules).await?;
    Ok(())
}
