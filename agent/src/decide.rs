//! What the configuration makes: the library's validator and rule table, stacked in one
//! [`Engine`], the same code a Rust service's `AuthLayer` and `AuthzLayer` run.

use meshward::authz::{AuthzLayer, RuleTable};
use meshward::gate::Engine;
use meshward::jwt::{AuthLayer, Issuer, KeySet, KeySource, Validator};

use crate::config::{Config, ConfigError};

/// The engine, and what `meshward check` reports about it.
pub(crate) struct Built {
    pub(crate) engine: Engine,
    pub(crate) summary: Vec<String>,
}

/// Loads every key file and the rules file, and stacks the gates.
pub(crate) fn build(config: &Config, path: &str) -> Result<Built, ConfigError> {
    let invalid = |field: String, reason: String| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        reason,
    };
    let mut summary = Vec::new();
    let mut issuers = Vec::new();
    for (i, issuer) in config.issuers.iter().enumerate() {
        let field = format!("issuer[{i}].jwks_file");
        let file = issuer
            .jwks_file
            .as_ref()
            .ok_or_else(|| invalid(field.clone(), "is required in this version".into()))?;
        let keys = KeySet::from_jwks_file(file)
            .map(KeySource::from_keys)
            .map_err(|e| invalid(field.clone(), format!("{}: {e}", file.display())))?;
        summary.push(format!(
            "issuer {} (audiences {}), keys from {}",
            issuer.issuer,
            issuer.audiences.join(", "),
            file.display()
        ));
        issuers.push((issuer, keys));
    }
    let mut issuers = issuers.into_iter();
    let (first, keys) = issuers
        .next()
        .ok_or_else(|| invalid("issuer".into(), "at least one [[issuer]] is needed".into()))?;
    let mut builder = Validator::builder(&first.issuer, first.audiences.clone()).key_source(keys);
    for (issuer, keys) in issuers {
        builder = builder
            .add_issuer(Issuer::new(&issuer.issuer, issuer.audiences.clone()).key_source(keys));
    }
    let validator = builder
        .build()
        .map_err(|e| invalid("issuer".into(), e.to_string()))?;
    let mut engine = Engine::builder().gate(AuthLayer::new(validator));
    if let Some(file) = &config.authorization.rules_file {
        let table = RuleTable::from_file(file).map_err(|e| {
            invalid(
                "authorization.rules_file".into(),
                format!("{}: {e}", file.display()),
            )
        })?;
        summary.push(format!("rules from {}", file.display()));
        engine = engine.gate(AuthzLayer::new(table));
    } else {
        summary.push("no rules file: a valid token is enough".into());
    }
    Ok(Built {
        engine: engine.build(),
        summary,
    })
}
