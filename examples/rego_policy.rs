//! The decisions of the `authz_rules` example, made by a Rego policy evaluated in process.
//!
//! Run with `cargo run --example rego_policy --features axum,tonic,rego`.
//!
//! The policy is `examples/authz/policy.rego`: it decides with `data.demo.authz.allow` over
//! the input document meshward builds for each request (request, principal, caller and
//! chain, peer; see the manual's authorization chapter). `true` allows; anything else
//! refuses with 403 (`policy_denied`), or 401 when the request carried no token. The same
//! calls as `authz_rules` get the same answers, with the policy's reasons.

#[path = "authz/demo.rs"]
mod demo;

use meshward::authz::{RegoPolicy, RuleTable};

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    // Policy evaluation errors are logged at `warn` (meshward::authz).
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .init();
    let policy = RegoPolicy::builder("data.demo.authz.allow")
        .add_policy(
            "examples/authz/policy.rego",
            include_str!("authz/policy.rego"),
        )
        .build()?;
    let by_policy = demo::run("Calls through the Rego policy:", policy).await?;
    println!();
    let rules = RuleTable::from_toml(include_str!("authz/rules.toml"))?;
    let by_rules = demo::run("The same calls through the rule table:", rules).await?;
    println!();
    if by_policy == by_rules {
        println!(
            "The policy and the rule table gave the same answers to all {} calls.",
            by_rules.len()
        );
    } else {
        println!(
            "The policy and the rule table disagree:\n  policy {by_policy:?}\n  rules  {by_rules:?}"
        );
        std::process::exit(1);
    }
    Ok(())
}
