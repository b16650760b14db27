//! Rego policies evaluated in process with `regorus` (feature `rego`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderName;

use super::error::{AuthzError, AuthzErrorKind};
use super::input::{Input, ask_for_credentials, header_names, verdict};
use super::requirement::{AuthzRequest, BoxRequirement, Decision, Requirement};
use crate::error::kinded_error;

/// The largest policy or data file read.
const MAX_FILE: u64 = 1024 * 1024;

kinded_error! {
    /// A Rego policy could not be loaded or compiled.
    pub struct RegoError(RegoErrorKind);
}

/// The kinds of [`RegoError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegoErrorKind {
    /// A policy does not parse or compile, or the decision rule is not defined by it.
    #[error("{what}: {message}")]
    Policy {
        /// The policy's name, or the decision rule.
        what: String,
        /// What regorus said.
        message: String,
    },
    /// A data document is not JSON, or conflicts with another.
    #[error("data document {what}: {message}")]
    Data {
        /// The document's name.
        what: String,
        /// What regorus said.
        message: String,
    },
    /// A file could not be read, or is over 1 MiB.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
    },
    /// A setting is wrong (a header name, a time limit).
    #[error("{reason}")]
    InvalidSetting {
        /// What is wrong.
        reason: String,
    },
}

/// A Rego policy, compiled once, asked for a decision on each request (an
/// [`AuthzLayer`](super::AuthzLayer)'s requirement, or a rule's).
///
/// The policy decides with a rule (say `data.authz.allow`) over the
/// [input document](crate::manual::_06_authorization) built from the request: `true` allows,
/// `false` refuses (403), and so does `{"allow": false, "reason": "…"}` (the reason goes to
/// the error and the audit event); `{"allow": true}` allows. An undefined result, anything
/// else, an error, or an evaluation over the time limit refuses: a policy fails closed.
///
/// ```
/// use meshward::authz::{AuthzLayer, RegoPolicy};
///
/// let policy = RegoPolicy::builder("data.authz.allow")
///     .add_policy("authz.rego", r#"
///         package authz
///         import rego.v1
///         default allow := false
///         allow if input.principal.subject == "alice"
///         allow if {
///             input.request.grpc.service == "shop.Inventory"
///             input.caller == "spiffe://prod.example/ns/shop/sa/orders"
///         }
///     "#)
///     .build()?;
/// let layer = AuthzLayer::new(policy);
/// # Ok::<_, meshward::authz::RegoError>(())
/// ```
///
/// Policies and data can be replaced while the server runs
/// ([`replace`](Self::replace)); a policy that does not compile never replaces a good one.
#[derive(Clone)]
pub struct RegoPolicy {
    compiled: Arc<ArcSwap<Compiled>>,
}

struct Compiled {
    engine: regorus::Engine,
    rule: String,
    headers: Vec<HeaderName>,
    time_limit: Duration,
}

impl RegoPolicy {
    /// Starts a policy that decides with `rule` (`data.<package>.<rule>`).
    pub fn builder(rule: impl Into<String>) -> RegoPolicyBuilder {
        RegoPolicyBuilder {
            rule: rule.into(),
            policies: Vec::new(),
            data: Vec::new(),
            headers: Vec::new(),
            time_limit: Duration::from_millis(50),
            error: None,
        }
    }

    /// Puts the policy `builder` describes in place for the requests that come next; on
    /// error the current one stays.
    ///
    /// # Errors
    ///
    /// The [`RegoError`] of the new policy.
    pub fn replace(&self, builder: RegoPolicyBuilder) -> Result<(), RegoError> {
        let compiled = builder.compile()?;
        self.compiled.store(Arc::new(compiled));
        tracing::info!(target: "meshward::authz", "Rego policy replaced");
        Ok(())
    }

    fn decide(&self, request: &AuthzRequest<'_>) -> Result<(), AuthzError> {
        let compiled = self.compiled.load();
        let input = Input::new(request, &compiled.headers);
        let input = serde_json::to_value(&input).map_err(|_| AuthzErrorKind::PolicyError)?;
        let mut engine = compiled.engine.clone();
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: compiled.time_limit,
            check_interval: std::num::NonZeroU32::MIN,
        });
        engine.set_input(regorus::Value::from(input));
        let value = engine.eval_rule(compiled.rule.clone()).map_err(|e| {
            tracing::warn!(target: "meshward::authz", error = %e, "Rego evaluation failed; the request is refused");
            AuthzError::from(AuthzErrorKind::PolicyError)
        })?;
        verdict(&serde_json::to_value(&value).map_err(|_| AuthzErrorKind::PolicyError)?)
    }
}

impl Requirement for RegoPolicy {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        ask_for_credentials(self.decide(request), request.principal().is_none()).into()
    }
}

impl fmt::Debug for RegoPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let compiled = self.compiled.load();
        f.debug_struct("RegoPolicy")
            .field("rule", &compiled.rule)
            .field("headers", &compiled.headers)
            .finish_non_exhaustive()
    }
}

impl From<RegoPolicy> for BoxRequirement {
    fn from(policy: RegoPolicy) -> Self {
        Self::new(policy)
    }
}

/// Configures a [`RegoPolicy`]; made by [`RegoPolicy::builder`].
#[must_use]
pub struct RegoPolicyBuilder {
    rule: String,
    policies: Vec<(String, String)>,
    data: Vec<(String, String)>,
    headers: Vec<String>,
    time_limit: Duration,
    error: Option<RegoError>,
}

fn read(path: &Path) -> Result<String, RegoError> {
    let io = |e: std::io::Error| {
        RegoError::with_source(
            RegoErrorKind::Io {
                path: path.display().to_string(),
            },
            e,
        )
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE {
        return Err(io(std::io::Error::other("file larger than 1 MiB")));
    }
    std::fs::read_to_string(path).map_err(io)
}

impl RegoPolicyBuilder {
    /// Adds a policy module, named `name` in errors.
    pub fn add_policy(mut self, name: impl Into<String>, rego: impl Into<String>) -> Self {
        self.policies.push((name.into(), rego.into()));
        self
    }

    /// Adds a policy module from a file (at most 1 MiB).
    pub fn add_policy_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match read(path) {
            Ok(text) => self.policies.push((path.display().to_string(), text)),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Adds a data document (JSON), merged under `data`.
    pub fn add_data_json(mut self, name: impl Into<String>, json: impl Into<String>) -> Self {
        self.data.push((name.into(), json.into()));
        self
    }

    /// Adds a data document from a JSON file (at most 1 MiB).
    pub fn add_data_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match read(path) {
            Ok(text) => self.data.push((path.display().to_string(), text)),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Request headers the policy sees in `input.request.headers` (none by default: a policy
    /// sees no header it was not meant to). Credentials never: naming `Authorization`,
    /// `Proxy-Authorization` or `Cookie` fails the build, and a header an `AuthLayer` read
    /// the token from is left out of the document.
    pub fn input_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.headers.extend(names.into_iter().map(Into::into));
        self
    }

    /// The longest one evaluation may take (default 50 ms, at most 1 s); over it, the
    /// request is refused (`policy_error`). The limit is checked between evaluation steps:
    /// a single built-in call over a huge value runs to its end first.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    fn compile(self) -> Result<Compiled, RegoError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.time_limit.is_zero() || self.time_limit > Duration::from_secs(1) {
            return Err(RegoErrorKind::InvalidSetting {
                reason: "the time limit is between 0 and 1 s".into(),
            }
            .into());
        }
        let headers = header_names(&self.headers)
            .map_err(|reason| RegoError::from(RegoErrorKind::InvalidSetting { reason }))?;
        let mut engine = regorus::Engine::new();
        if self.policies.is_empty() {
            return Err(RegoErrorKind::Policy {
                what: self.rule,
                message: "no policy module".into(),
            }
            .into());
        }
        for (name, rego) in self.policies {
            engine.add_policy(name.clone(), rego).map_err(|e| {
                RegoError::from(RegoErrorKind::Policy {
                    what: name,
                    message: e.to_string(),
                })
            })?;
        }
        for (name, json) in self.data {
            let value = regorus::Value::from_json_str(&json).map_err(|e| {
                RegoError::from(RegoErrorKind::Data {
                    what: name.clone(),
                    message: e.to_string(),
                })
            })?;
            engine.add_data(value).map_err(|e| {
                RegoError::from(RegoErrorKind::Data {
                    what: name,
                    message: e.to_string(),
                })
            })?;
        }
        // The decision rule must exist; compiling for it says so without evaluating anything.
        engine
            .clone()
            .compile_with_entrypoint(&self.rule.as_str().into())
            .map_err(|e| {
                RegoError::from(RegoErrorKind::Policy {
                    what: self.rule.clone(),
                    message: e.to_string(),
                })
            })?;
        Ok(Compiled {
            engine,
            rule: self.rule,
            headers,
            time_limit: self.time_limit,
        })
    }

    /// Compiles the policy.
    ///
    /// # Errors
    ///
    /// [`RegoErrorKind::Policy`] for a module that does not compile or a decision rule it
    /// does not define; [`RegoErrorKind::Data`], [`RegoErrorKind::Io`],
    /// [`RegoErrorKind::InvalidSetting`].
    pub fn build(self) -> Result<RegoPolicy, RegoError> {
        let compiled = self.compile()?;
        Ok(RegoPolicy {
            compiled: Arc::new(ArcSwap::from_pointee(compiled)),
        })
    }
}

impl fmt::Debug for RegoPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegoPolicyBuilder")
            .field("rule", &self.rule)
            .field(
                "policies",
                &self.policies.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
