//! Rule tables read from TOML or JSON (the schema is in the manual's authorization chapter).
//! A file is checked whole: any mistake, and nothing of it is used.

use serde::Deserialize;
use serde_json::Value;

use super::normalize::TrailingSlash;
use super::{Rule, RuleTable, RuleTableBuilder, RulesError, RulesErrorKind};
use crate::authz::claims::Roles;
use crate::authz::peer::PeerRequirement;
use crate::authz::require;
use crate::authz::requirement::BoxRequirement;

/// The largest rules file read.
const MAX_FILE: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "R: Deserialize<'de>"))]
struct File<R> {
    #[serde(default)]
    default: Default,
    #[serde(default)]
    case_insensitive: bool,
    #[serde(default)]
    trailing_slash: Trailing,
    #[serde(default)]
    dot_segments: Dots,
    #[serde(default, rename = "rule")]
    rules: Vec<R>,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Default {
    #[default]
    Deny,
    Allow,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum Trailing {
    #[default]
    Ignore,
    Strict,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Dots {
    #[default]
    Refuse,
    Resolve,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    methods: Option<Vec<String>>,
    #[serde(default)]
    extension_methods: Option<Vec<String>>,
    path: String,
    #[serde(default)]
    allow: Option<Anyone>,
    #[serde(default)]
    require: Option<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Anyone {
    Anyone,
}

/// A requirement, as the file writes it: a table with exactly one key.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Spec {
    Authenticated(bool),
    ScopesAll(Vec<String>),
    ScopesAny(Vec<String>),
    Claim(ClaimSpec),
    Roles(RolesSpec),
    SubjectIn(Vec<String>),
    IssuerIn(Vec<String>),
    CallerIn(Vec<String>),
    ChainWithin(Vec<String>),
    Peer(PeerSpec),
    All(Vec<Spec>),
    Any(Vec<Spec>),
    Not(Box<Spec>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimSpec {
    path: String,
    #[serde(default)]
    equals: Option<Value>,
    #[serde(default)]
    contains: Option<Value>,
    #[serde(default)]
    matches: Option<String>,
    #[serde(default)]
    exists: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesSpec {
    from: String,
    #[serde(default)]
    all: Option<Vec<String>>,
    #[serde(default)]
    any: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PeerSpec {
    #[serde(default)]
    spiffe_ids: Vec<String>,
    #[serde(default)]
    spiffe_path_prefixes: Vec<String>,
    #[serde(default)]
    trust_domains: Vec<String>,
    #[serde(default)]
    dns_names: Vec<String>,
    #[serde(default)]
    subjects: Vec<String>,
}

impl Spec {
    fn build(self) -> Result<BoxRequirement, String> {
        Ok(match self {
            Self::Authenticated(true) => require::authenticated(),
            Self::Authenticated(false) => {
                return Err(
                    "authenticated = false requires nothing; say allow = \"anyone\"".into(),
                );
            }
            Self::ScopesAll(s) => require::scopes_all(nonempty(s, "scopes_all")?),
            Self::ScopesAny(s) => require::scopes_any(nonempty(s, "scopes_any")?),
            Self::Claim(c) => {
                let claim = require::claim(c.path);
                match (c.equals, c.contains, c.matches, c.exists) {
                    (Some(v), None, None, None) => claim.equals(v),
                    (None, Some(v), None, None) => claim.contains(v),
                    (None, None, Some(p), None) => claim.matches(p),
                    (None, None, None, Some(true)) => claim.exists(),
                    _ => {
                        return Err(
                            "a claim takes exactly one of equals, contains, matches, exists = true"
                                .into(),
                        );
                    }
                }
            }
            Self::Roles(r) => {
                let roles = match r.from.split_once(':') {
                    None if r.from == "keycloak_realm" => Roles::keycloak_realm(),
                    None if r.from == "entra" => Roles::entra(),
                    None if r.from == "groups" => Roles::groups(),
                    Some(("keycloak_client", client)) if !client.is_empty() => {
                        Roles::keycloak_client(client)
                    }
                    Some(("claim", path)) if !path.is_empty() => Roles::claim(path),
                    _ => {
                        return Err(format!(
                            "roles from {:?}: use keycloak_realm, keycloak_client:<id>, entra, groups or claim:<path>",
                            r.from
                        ));
                    }
                };
                match (r.all, r.any) {
                    (Some(all), None) => require::roles_all(roles, nonempty(all, "roles.all")?),
                    (None, Some(any)) => require::roles_any(roles, nonempty(any, "roles.any")?),
                    _ => return Err("roles take exactly one of all, any".into()),
                }
            }
            Self::SubjectIn(s) => require::subject_in(nonempty(s, "subject_in")?),
            Self::IssuerIn(s) => require::issuer_in(nonempty(s, "issuer_in")?),
            Self::CallerIn(s) => require::caller_in(nonempty(s, "caller_in")?),
            Self::ChainWithin(s) => require::chain_within(nonempty(s, "chain_within")?),
            Self::Peer(p) => {
                let mut peer = PeerRequirement::any_verified();
                for id in p.spiffe_ids {
                    peer = peer.spiffe_id(id);
                }
                for prefix in p.spiffe_path_prefixes {
                    peer = peer.spiffe_path_prefix(prefix);
                }
                for td in p.trust_domains {
                    peer = peer.trust_domain(td);
                }
                for name in p.dns_names {
                    peer = peer.dns_name(name);
                }
                for subject in p.subjects {
                    peer = peer.subject(subject);
                }
                require::peer(peer)
            }
            Self::All(specs) => require::all(build_all(specs, "all")?),
            Self::Any(specs) => require::any(build_all(specs, "any")?),
            Self::Not(spec) => require::not(spec.build()?),
        })
    }
}

fn nonempty(list: Vec<String>, what: &str) -> Result<Vec<String>, String> {
    if list.is_empty() {
        Err(format!("{what} names nothing"))
    } else {
        Ok(list)
    }
}

fn build_all(specs: Vec<Spec>, what: &str) -> Result<Vec<BoxRequirement>, String> {
    if specs.is_empty() {
        return Err(format!("{what} lists no requirement"));
    }
    specs.into_iter().map(Spec::build).collect()
}

impl<R> File<R> {
    fn builder(&self) -> RuleTableBuilder {
        let mut builder = RuleTable::builder().trailing_slash(match self.trailing_slash {
            Trailing::Ignore => TrailingSlash::Ignore,
            Trailing::Strict => TrailingSlash::Strict,
        });
        if self.default == Default::Allow {
            builder = builder.allow_by_default();
        }
        if self.case_insensitive {
            builder = builder.case_insensitive();
        }
        if self.dot_segments == Dots::Resolve {
            builder = builder.resolve_dot_segments();
        }
        builder
    }
}

fn rule(raw: RawRule, number: usize, line: Option<usize>) -> Result<Rule, RulesError> {
    let invalid = |reason: String| RulesErrorKind::InvalidRule {
        number,
        name: raw_name(&raw.name),
        line,
        reason,
    };
    let mut rule = Rule::new(raw.name.clone()).path(raw.path);
    if let Some(methods) = raw.methods {
        rule = rule.methods(methods);
    }
    if let Some(methods) = raw.extension_methods {
        rule = rule.extension_methods(methods);
    }
    match (raw.allow, raw.require) {
        (Some(Anyone::Anyone), None) => Ok(rule.allow_anyone()),
        (None, Some(spec)) => Ok(rule.require(spec.build().map_err(invalid)?)),
        (Some(_), Some(_)) => {
            Err(invalid("a rule says allow = \"anyone\" or require, not both".into()).into())
        }
        (None, None) => {
            Err(invalid("a rule says allow = \"anyone\" or what it requires".into()).into())
        }
    }
}

fn raw_name(name: &str) -> String {
    name.chars().take(100).collect()
}

fn too_large(len: usize) -> Result<(), RulesError> {
    if len > MAX_FILE {
        return Err(RulesErrorKind::InvalidSetting {
            reason: format!("a rules file is at most {MAX_FILE} bytes, this one {len}"),
        }
        .into());
    }
    Ok(())
}

/// The 1-based line and column of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl RuleTable {
    /// Reads a table from TOML (schema in the manual). Errors name the line and the rule.
    ///
    /// ```
    /// use meshward::authz::RuleTable;
    /// let table = RuleTable::from_toml(r#"
    ///     [[rule]]
    ///     name = "health"
    ///     path = "/healthz"
    ///     allow = "anyone"
    ///
    ///     [[rule]]
    ///     name = "orders"
    ///     methods = ["GET"]
    ///     path = "/orders/**"
    ///     require = { scopes_any = ["orders:read"] }
    /// "#)?;
    /// assert_eq!(table.len(), 2);
    /// # Ok::<_, meshward::authz::RulesError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RulesErrorKind::Syntax`] with the line and column, or
    /// [`RulesErrorKind::InvalidRule`] with the rule and its line.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        too_large(text.len())?;
        let file: File<toml::Spanned<RawRule>> = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| position(text, s.start));
            RulesError::from(RulesErrorKind::Syntax {
                line,
                column,
                message: e.message().to_owned(),
            })
        })?;
        let mut builder = file.builder();
        for (i, spanned) in file.rules.into_iter().enumerate() {
            let line = position(text, spanned.span().start).0;
            builder = builder.rule_at(rule(spanned.into_inner(), i + 1, Some(line))?, line);
        }
        builder.build()
    }

    /// Reads a table from JSON (the same schema as TOML: `{"default": …, "rule": [ … ]}`).
    /// Errors name the line of a syntax error, and the rule (by number and name) of any
    /// other.
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml).
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        too_large(text.len())?;
        let file: File<RawRule> = serde_json::from_str(text).map_err(|e| {
            RulesError::from(RulesErrorKind::Syntax {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
        })?;
        let mut builder = file.builder();
        for (i, raw) in file.rules.into_iter().enumerate() {
            builder = builder.rule(rule(raw, i + 1, None)?);
        }
        builder.build()
    }

    /// Reads a table from a file: TOML, or JSON when the name ends in `.json`.
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml), and [`RulesErrorKind::InvalidSetting`] when the
    /// file cannot be read or is over 1 MiB.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, RulesError> {
        let path = path.as_ref();
        let unreadable = |e: std::io::Error| {
            RulesError::with_source(
                RulesErrorKind::InvalidSetting {
                    reason: format!("cannot read {}", path.display()),
                },
                e,
            )
        };
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        too_large(usize::try_from(len).unwrap_or(usize::MAX))?;
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::from_json(&text)
        } else {
            Self::from_toml(&text)
        }
    }
}

#[cfg(test)]
mod tests;
