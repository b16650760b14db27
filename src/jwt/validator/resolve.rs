//! Issuers found on demand: an [`IssuerResolver`] names the configuration of an `iss` the
//! validator was not built with (a tenant of a multi-tenant identity provider), and the
//! validator keeps what it resolved, bounded in number and in how fast new ones come.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::Algorithm;

use super::super::cache::TokenCache;
use super::super::error::{ConfigError, ConfigErrorKind};
use super::builder::Issuer;
use super::lookup::IssuerEntry;

/// Default bound on the issuers a resolver's answers are kept for.
pub const DEFAULT_MAX_RESOLVED_ISSUERS: u64 = 100;
/// Default bound on how many issuers not seen before are resolved per minute.
pub const DEFAULT_NEW_ISSUERS_PER_MINUTE: u32 = 60;

/// Names the configuration of an issuer the [`Validator`](super::Validator) was not built
/// with, when a token names it: the audiences accepted from it and its keys, or `None` to
/// refuse it (401 `invalid_issuer`). Give one to
/// [`ValidatorBuilder::issuer_resolver`](super::ValidatorBuilder::issuer_resolver);
/// [`IssuerTemplate`] is the usual one.
///
/// The answer must be for exactly that `iss` (else the token is refused); it is kept, so
/// the resolver is asked once per issuer while the validator remembers it.
pub trait IssuerResolver: Send + Sync + 'static {
    /// The configuration for `issuer`, or `None`.
    fn resolve(&self, issuer: &str) -> Option<Issuer>;
}

#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
/// Issuers that follow a pattern with one `{placeholder}` standing for a tenant, such as
/// Entra ID's `https://login.microsoftonline.com/{tenantid}/v2.0`: each tenant's keys are
/// found by OpenID Connect discovery from its own issuer, when a token first names it.
///
/// A tenant is one path segment of letters, digits, `-`, `_` and `.` (not starting with a
/// dot), at most 64 characters.
///
/// # Security
///
/// Without [`tenants`](Self::tenants), a token from any tenant of the provider is accepted
/// when its audience is one of yours: for a multi-tenant application that is the point, but
/// then authorize on the tenant (`tid` for Entra) as well. Name the tenants you serve when
/// you can.
///
/// ```
/// # #[cfg(feature = "remote")] {
/// use meshward::jwt::{IssuerTemplate, KeySource, Validator};
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// const HOME: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
/// let validator = Validator::builder(HOME, ["api://orders"])
///     .key_source(KeySource::discovery(HOME).build()?)
///     .issuer_resolver(
///         IssuerTemplate::new("https://login.microsoftonline.com/{tenantid}/v2.0", ["api://orders"])?
///             .tenants(["0f2c6a8e-1d3b-4c5a-9e7f-2b4d6f8a0c1e"]),
///     )
///     .build()?;
/// # Ok(()) }
/// # }
/// ```
#[cfg(feature = "remote")]
pub struct IssuerTemplate {
    prefix: String,
    suffix: String,
    audiences: Vec<String>,
    tenants: Option<Vec<String>>,
    allow_http: bool,
}

#[cfg(feature = "remote")]
impl IssuerTemplate {
    /// Issuers matching `pattern` (one `{name}` placeholder), accepted for `audiences`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidIssuerTemplate`] for a pattern without exactly one
    /// placeholder, or with no audience.
    pub fn new<A>(pattern: &str, audiences: A) -> Result<Self, ConfigError>
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        let invalid = |reason| ConfigError::from(ConfigErrorKind::InvalidIssuerTemplate { reason });
        let (prefix, rest) = pattern
            .split_once('{')
            .ok_or_else(|| invalid("no placeholder"))?;
        let (name, suffix) = rest
            .split_once('}')
            .ok_or_else(|| invalid("an unclosed placeholder"))?;
        if name.is_empty() || suffix.contains(['{', '}']) || prefix.contains('}') {
            return Err(invalid("exactly one named placeholder is allowed"));
        }
        if prefix.is_empty() {
            return Err(invalid("the pattern must start with the issuer's origin"));
        }
        let audiences: Vec<String> = audiences.into_iter().map(Into::into).collect();
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            return Err(invalid("no audience"));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            audiences,
            tenants: None,
            allow_http: false,
        })
    }

    /// Accepts only these tenants (the placeholder's values).
    #[must_use]
    pub fn tenants<I>(mut self, tenants: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Allows `http://` issuers (loopback and development only).
    #[must_use]
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// The tenant `issuer` names, if it matches the pattern.
    fn tenant<'a>(&self, issuer: &'a str) -> Option<&'a str> {
        let tenant = issuer
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        let well_formed = !tenant.is_empty()
            && tenant.len() <= 64
            && !tenant.starts_with('.')
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        let allowed = self
            .tenants
            .as_ref()
            .is_none_or(|tenants| tenants.iter().any(|t| t == tenant));
        (well_formed && allowed).then_some(tenant)
    }
}

#[cfg(feature = "remote")]
impl IssuerResolver for IssuerTemplate {
    fn resolve(&self, issuer: &str) -> Option<Issuer> {
        self.tenant(issuer)?;
        let keys = super::super::source::KeySource::discovery(issuer);
        let keys = if self.allow_http {
            keys.allow_insecure_http()
        } else {
            keys
        };
        let keys = keys.build().ok()?;
        Some(Issuer::new(issuer, self.audiences.clone()).key_source(keys))
    }
}

#[cfg(feature = "remote")]
impl fmt::Debug for IssuerTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerTemplate")
            .field(
                "pattern",
                &format_args!("{}{{…}}{}", self.prefix, self.suffix),
            )
            .field("audiences", &self.audiences)
            .field("tenants", &self.tenants)
            .finish()
    }
}

/// The resolver of a built validator, and what it resolved.
pub(crate) struct Resolved {
    resolver: Box<dyn IssuerResolver>,
    issuers: moka::sync::Cache<String, Arc<IssuerEntry>>,
    admissions: governor::DefaultDirectRateLimiter,
}

/// Why an issuer has no entry.
pub(super) enum Unresolved {
    /// The resolver refused it, or its answer did not build.
    Refused,
    /// Too many new issuers this minute: try again later.
    Throttled,
}

impl Resolved {
    pub(super) fn new(
        resolver: Box<dyn IssuerResolver>,
        max_issuers: u64,
        per_minute: u32,
    ) -> Result<Self, ConfigError> {
        let invalid = || {
            ConfigError::from(ConfigErrorKind::InvalidLimit {
                what: "resolved issuers and new issuers per minute must be positive",
            })
        };
        let per_minute = std::num::NonZeroU32::new(per_minute).ok_or_else(invalid)?;
        if max_issuers == 0 {
            return Err(invalid());
        }
        Ok(Self {
            resolver,
            issuers: moka::sync::Cache::new(max_issuers),
            admissions: governor::RateLimiter::direct(governor::Quota::per_minute(per_minute)),
        })
    }

    /// The entry for `issuer`: kept, or resolved now.
    pub(super) fn entry(
        &self,
        issuer: &str,
        algorithms: &[Algorithm],
        cache: Option<&Arc<TokenCache>>,
    ) -> Result<Arc<IssuerEntry>, Unresolved> {
        if let Some(entry) = self.issuers.get(issuer) {
            return Ok(entry);
        }
        // The resolver decides without I/O; only an issuer it accepts counts against the
        // admissions (its keys are what would be fetched).
        let configured = self.resolver.resolve(issuer).ok_or(Unresolved::Refused)?;
        if self.admissions.check().is_err() {
            tracing::warn!(
                target: "meshward::jwt",
                "too many new issuers this minute: a token's issuer is not resolved now (503)"
            );
            return Err(Unresolved::Throttled);
        }
        let entry = configured
            .build_entry(algorithms)
            .map_err(|_| Unresolved::Refused)?;
        if entry.issuer != issuer {
            return Err(Unresolved::Refused);
        }
        #[cfg(feature = "remote")]
        if let (Some(cache), super::super::source::SourceKind::Remote(remote)) =
            (cache, &entry.keys)
        {
            remote.watch_removals(&entry.issuer, cache);
        }
        #[cfg(not(feature = "remote"))]
        let _ = cache;
        let entry = Arc::new(entry);
        self.issuers.insert(issuer.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    /// The issuers kept now (`settled`: after the cache's pending evictions, for counts).
    #[cfg(feature = "remote")]
    pub(super) fn entries(&self, settled: bool) -> Vec<Arc<IssuerEntry>> {
        if settled {
            self.issuers.run_pending_tasks();
        }
        self.issuers.iter().map(|(_, entry)| entry).collect()
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("issuers", &self.issuers.entry_count())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "remote"))]
mod tests {
    use super::*;

    #[test]
    fn a_template_matches_one_well_formed_tenant() {
        let t = IssuerTemplate::new("https://login.example.com/{tenant}/v2.0", ["api"]).unwrap();
        assert_eq!(
            t.tenant("https://login.example.com/abc-123/v2.0"),
            Some("abc-123")
        );
        for bad in [
            "https://login.example.com//v2.0",
            "https://login.example.com/a/b/v2.0",
            "https://login.example.com/../v2.0",
            "https://login.example.com/.x/v2.0",
            "https://login.example.com/a%2Fb/v2.0",
            "https://login.example.com/abc/v2.0/",
            "https://login.example.com.evil/abc/v2.0",
            "http://login.example.com/abc/v2.0",
        ] {
            assert_eq!(t.tenant(bad), None, "{bad}");
        }
        assert_eq!(
            t.tenant(&format!(
                "https://login.example.com/{}/v2.0",
                "a".repeat(65)
            )),
            None
        );
        let only = t.tenants(["abc"]);
        assert_eq!(
            only.tenant("https://login.example.com/abc/v2.0"),
            Some("abc")
        );
        assert_eq!(only.tenant("https://login.example.com/abd/v2.0"), None);
    }

    #[test]
    fn a_template_needs_one_placeholder_and_an_audience() {
        for (pattern, reason) in [
            ("https://login.example.com/v2.0", "no placeholder"),
            (
                "https://login.example.com/{tenant/v2.0",
                "an unclosed placeholder",
            ),
            (
                "https://login.example.com/{}/v2.0",
                "exactly one named placeholder is allowed",
            ),
            (
                "https://{a}.example.com/{b}",
                "exactly one named placeholder is allowed",
            ),
            (
                "{tenant}.example.com",
                "the pattern must start with the issuer's origin",
            ),
        ] {
            assert_eq!(
                IssuerTemplate::new(pattern, ["api"]).unwrap_err().kind(),
                &ConfigErrorKind::InvalidIssuerTemplate { reason },
                "{pattern}"
            );
        }
        assert_eq!(
            IssuerTemplate::new("https://x/{t}", Vec::<String>::new())
                .unwrap_err()
                .kind(),
            &ConfigErrorKind::InvalidIssuerTemplate {
                reason: "no audience"
            }
        );
    }
}
