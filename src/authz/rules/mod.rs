//! One rule table for a whole server: ordered rules of (methods, path pattern) → requirement,
//! for HTTP routes and gRPC methods alike (a gRPC method is the path
//! `/package.Service/Method`), denying what no rule allows.
//!
//! ```
//! use meshward::authz::{AuthzLayer, Rule, RuleTable, require};
//!
//! let rules = RuleTable::builder()
//!     .rule(Rule::new("health").path("/healthz").allow_anyone())
//!     .rule(Rule::new("read orders").methods(["GET"]).path("/orders/**")
//!         .require(require::scopes_any(["orders:read"])))
//!     .rule(Rule::new("reserve").path("/shop.Inventory/Reserve")
//!         .require(require::caller_in(["spiffe://prod.example/ns/shop/sa/orders"])))
//!     .build()?;
//! let layer = AuthzLayer::new(rules);
//! # Ok::<_, meshward::authz::RulesError>(())
//! ```
//!
//! Paths are matched after normalisation (percent-decoding; an empty segment `//`, a `.` or
//! `..` segment, an encoded `/` or a NUL refuse the request with 403 `path_not_accepted`),
//! so that neither `/admin/../orders`, `/users//keys` nor `/%61dmin` can slip past a rule. Dot segments are
//! refused rather than resolved because the router behind the layer may not resolve them:
//! with a route `/admin/{*rest}`, `/admin/../orders` reaches the admin handler while a
//! resolving table would have matched `/orders`. A server whose router resolves them too
//! can say so ([`RuleTableBuilder::resolve_dot_segments`]). A rule table can also be read
//! from a TOML or JSON file ([`RuleTable::from_toml`], [`RuleTable::from_json`]; the schema
//! is in the manual), and swapped at run time behind a [`SharedRules`].

mod file;
mod normalize;
mod pattern;

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::Method;

use self::normalize::Normalization;
pub use self::normalize::TrailingSlash;
use self::pattern::Trie;
use super::error::AuthzErrorKind;
use super::requirement::{AuthzRequest, BoxRequirement, Decision, Requirement};
use crate::error::kinded_error;

kinded_error! {
    /// A rule table could not be built: a rule or the file it came from is wrong. Nothing is
    /// half-loaded: the table is built whole or not at all.
    pub struct RulesError(RulesErrorKind);
}

/// The kinds of [`RulesError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesErrorKind {
    /// The file is not valid TOML or JSON of the rules schema.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// Line of the fault (1-based).
        line: usize,
        /// Column of the fault (1-based).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A rule is wrong.
    #[error("{}rule {number} ({name:?}): {reason}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    InvalidRule {
        /// The rule's position in the table (1-based).
        number: usize,
        /// The rule's name.
        name: String,
        /// The line the rule starts on, for rules read from TOML.
        line: Option<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// Two rules share a name.
    #[error("two rules are named {name:?}")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A setting of the table is wrong.
    #[error("{reason}")]
    InvalidSetting {
        /// What is wrong.
        reason: String,
    },
}

/// One rule: which requests it matches (methods and a path pattern) and what they must
/// satisfy.
#[derive(Clone)]
#[must_use]
pub struct Rule {
    name: Arc<str>,
    methods: Option<Vec<String>>,
    extension_methods: Option<Vec<String>>,
    path: Option<String>,
    decision: Option<Action>,
}

#[derive(Clone)]
enum Action {
    Anyone,
    Require(BoxRequirement),
}

impl Rule {
    /// A rule named `name` (the audit event names the rule that decided).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into().into(),
            methods: None,
            extension_methods: None,
            path: None,
            decision: None,
        }
    }

    /// Matches only these methods (any method without this): the methods of RFC 9110 and
    /// `PATCH`, in any case. Anything else is refused when the table is built, so that a
    /// misspelt `DELET` is an error, not a rule that never matches; a method of an extension
    /// (WebDAV's `PROPFIND`, a cache's `PURGE`) is named with
    /// [`extension_methods`](Self::extension_methods).
    pub fn methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Matches these extension methods too (or only these, without
    /// [`methods`](Self::methods)): methods outside the standard set, each a valid method
    /// token. A standard method named here is refused when the table is built.
    ///
    /// ```
    /// use meshward::authz::{Rule, RuleTable};
    ///
    /// let rules = RuleTable::builder()
    ///     .rule(Rule::new("purge").methods(["POST"]).extension_methods(["PURGE"])
    ///         .path("/cache/**").allow_anyone())
    ///     .build()?;
    /// # Ok::<_, meshward::authz::RulesError>(())
    /// ```
    pub fn extension_methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.extension_methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Matches paths of `pattern`: `/` then segments; `*` stands for one segment, `**` for
    /// any number (at most one `**` per pattern). A gRPC method is
    /// `/package.Service/Method`.
    pub fn path(mut self, pattern: impl Into<String>) -> Self {
        self.path = Some(pattern.into());
        self
    }

    /// The requests it matches must satisfy `requirement`.
    pub fn require(mut self, requirement: impl Into<BoxRequirement>) -> Self {
        self.decision = Some(Action::Require(requirement.into()));
        self
    }

    /// The requests it matches go through, authenticated or not.
    pub fn allow_anyone(mut self) -> Self {
        self.decision = Some(Action::Anyone);
        self
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("methods", &self.methods)
            .field("extension_methods", &self.extension_methods)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Ordered rules; the first rule that matches a request decides it. A request no rule
/// matches is refused (403, label `no_rule`) unless the table allows by default. Patterns,
/// path normalisation and the file format are in the
/// [manual](crate::manual::_06_authorization#rule-tables).
///
/// ```
/// use meshward::authz::{AuthzLayer, Rule, RuleTable, require};
///
/// let rules = RuleTable::builder()
///     .rule(Rule::new("health").path("/healthz").allow_anyone())
///     .rule(Rule::new("read orders").methods(["GET"]).path("/orders/**")
///         .require(require::scopes_any(["orders:read"])))
///     .rule(Rule::new("reserve").path("/shop.Inventory/Reserve")
///         .require(require::caller_in(["spiffe://prod.example/ns/shop/sa/orders"])))
///     .build()?;
/// let layer = AuthzLayer::new(rules);
/// # Ok::<_, meshward::authz::RulesError>(())
/// ```
pub struct RuleTable {
    rules: Vec<Compiled>,
    trie: Trie,
    default_allow: bool,
    how: Normalization,
}

struct Compiled {
    name: Arc<str>,
    decision: Action,
}

impl RuleTable {
    /// Starts a table: no rule, denying by default.
    pub fn builder() -> RuleTableBuilder {
        RuleTableBuilder {
            rules: Vec::new(),
            lines: Vec::new(),
            default_allow: false,
            how: Normalization::default(),
        }
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl fmt::Debug for RuleTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleTable")
            .field(
                "rules",
                &self.rules.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .field("default_allow", &self.default_allow)
            .finish_non_exhaustive()
    }
}

impl Requirement for RuleTable {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let Some(segments) = normalize::segments(request.uri().path(), self.how) else {
            return Decision::deny(AuthzErrorKind::PathNotAccepted.into());
        };
        match self.trie.first_match(request.method(), &segments) {
            Some(index) => match self.rules.get(index) {
                Some(rule) => {
                    let check = match &rule.decision {
                        Action::Anyone => Decision::allow(),
                        Action::Require(requirement) => requirement.check(request),
                    };
                    check.with_rule(Some(Arc::clone(&rule.name)))
                }
                None => Decision::deny(AuthzErrorKind::NoRuleMatched.into()),
            },
            None if self.default_allow => Decision::allow(),
            None => Decision::deny(AuthzErrorKind::NoRuleMatched.into()),
        }
    }
}

/// Configures a [`RuleTable`]; made by [`RuleTable::builder`].
#[must_use]
pub struct RuleTableBuilder {
    rules: Vec<Rule>,
    /// The line each rule starts on, for rules read from a file.
    lines: Vec<Option<usize>>,
    default_allow: bool,
    how: Normalization,
}

impl RuleTableBuilder {
    /// Appends a rule: rules are tried in the order they were added.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self.lines.push(None);
        self
    }

    pub(crate) fn rule_at(mut self, rule: Rule, line: usize) -> Self {
        self.rules.push(rule);
        self.lines.push(Some(line));
        self
    }

    /// Lets requests no rule matches through (the default denies them).
    ///
    /// # Security
    ///
    /// A route added later and forgotten in the table is then open to anyone.
    pub fn allow_by_default(mut self) -> Self {
        self.default_allow = true;
        self
    }

    /// Compares paths case-insensitively (`/Admin` is `/admin`).
    pub fn case_insensitive(mut self) -> Self {
        self.how.lowercase = true;
        self
    }

    /// How a trailing slash counts (default: ignored).
    pub fn trailing_slash(mut self, trailing: TrailingSlash) -> Self {
        self.how.trailing = trailing;
        self
    }

    /// Resolves `.` and `..` path segments (`/admin/../orders` is matched as `/orders`)
    /// rather than refusing the request (the default).
    ///
    /// # Security
    ///
    /// Only for a server whose router resolves them the same way before routing: otherwise
    /// the table decides on one path and the router serves another.
    pub fn resolve_dot_segments(mut self) -> Self {
        tracing::warn!(target: "meshward::authz", "rule table resolves dot segments: the router behind it must resolve them too");
        self.how.resolve_dots = true;
        self
    }

    /// Checks every rule and builds the table.
    ///
    /// # Errors
    ///
    /// [`RulesErrorKind::InvalidRule`] naming the rule (and its line, for a file) for a
    /// missing or bad pattern (an empty, `.` or `..` segment, a `*` inside a segment, a
    /// router's `{name}` or `:name`), a method outside the standard set that is not named as
    /// an extension method, or a rule that says neither what it requires nor that it allows
    /// anyone; [`RulesErrorKind::DuplicateName`].
    pub fn build(self) -> Result<RuleTable, RulesError> {
        let mut trie = Trie::default();
        let mut rules = Vec::with_capacity(self.rules.len());
        let mut names = std::collections::BTreeSet::new();
        for (i, (rule, line)) in self.rules.into_iter().zip(self.lines).enumerate() {
            let invalid = |reason: &str| RulesErrorKind::InvalidRule {
                number: i + 1,
                name: rule.name.to_string(),
                line,
                reason: reason.to_owned(),
            };
            if !names.insert(rule.name.clone()) {
                return Err(RulesErrorKind::DuplicateName {
                    name: rule.name.to_string(),
                }
                .into());
            }
            let pattern = rule.path.as_deref().ok_or_else(|| invalid("no path"))?;
            let parts =
                pattern::parse(pattern, self.how.lowercase, self.how.trailing).map_err(&invalid)?;
            let methods = rule_methods(&rule).map_err(|reason| invalid(&reason))?;
            let decision = rule
                .decision
                .ok_or_else(|| invalid("it says neither what it requires nor allow anyone"))?;
            trie.insert(&parts, i, methods);
            rules.push(Compiled {
                name: rule.name,
                decision,
            });
        }
        Ok(RuleTable {
            rules,
            trie,
            default_allow: self.default_allow,
            how: self.how,
        })
    }
}

/// The methods of RFC 9110 and PATCH (RFC 5789): all a rule's `methods` may name.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The methods a rule matches (`None`: any), or why they are wrong: an empty list, a name
/// that is no method, a standard list naming an unknown method (a misspelling would make a
/// rule that never matches), an extension list naming a standard one.
fn rule_methods(rule: &Rule) -> Result<Option<Vec<Method>>, String> {
    if rule.methods.is_none() && rule.extension_methods.is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (list, extension) in [(&rule.methods, false), (&rule.extension_methods, true)] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(if extension {
                "an empty extension method list".to_owned()
            } else {
                "an empty method list".to_owned()
            });
        }
        for name in list {
            let upper = name.to_ascii_uppercase();
            let method = Method::from_bytes(upper.as_bytes())
                .map_err(|_| format!("{name:?} is not a method"))?;
            let standard = STANDARD_METHODS.contains(&upper.as_str());
            match (standard, extension) {
                (false, false) => {
                    return Err(format!(
                        "{name:?} is not a standard method (a misspelling?); \
                         name an extension method in extension_methods"
                    ));
                }
                (true, true) => {
                    return Err(format!("{name:?} is a standard method: name it in methods"));
                }
                _ => out.push(method),
            }
        }
    }
    Ok(Some(out))
}

impl fmt::Debug for RuleTableBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleTableBuilder")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// A rule table that can be replaced while the server runs: requests in flight keep the
/// table they started with, later ones get the new one. Cloning is cheap and clones share
/// the table.
///
/// ```
/// use meshward::authz::{AuthzLayer, RuleTable, SharedRules};
/// # fn f(first: RuleTable, second: RuleTable) {
/// let rules = SharedRules::new(first);
/// let layer = AuthzLayer::new(rules.clone());
/// // Later, from a file watcher or an admin endpoint:
/// rules.replace(second);
/// # }
/// ```
#[derive(Clone)]
pub struct SharedRules {
    table: Arc<ArcSwap<RuleTable>>,
}

impl SharedRules {
    /// Shares `table`.
    pub fn new(table: RuleTable) -> Self {
        Self {
            table: Arc::new(ArcSwap::from_pointee(table)),
        }
    }

    /// Puts `table` in place for the requests that come next.
    pub fn replace(&self, table: RuleTable) {
        self.table.store(Arc::new(table));
        tracing::info!(target: "meshward::authz", "rule table replaced");
    }
}

impl Requirement for SharedRules {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        self.table.load().check(request)
    }
}

impl fmt::Debug for SharedRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedRules")
            .field(&*self.table.load())
            .finish()
    }
}

impl From<RuleTable> for BoxRequirement {
    fn from(table: RuleTable) -> Self {
        Self::new(table)
    }
}

impl From<SharedRules> for BoxRequirement {
    fn from(rules: SharedRules) -> Self {
        Self::new(rules)
    }
}
