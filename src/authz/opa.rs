//! A remote policy decision point speaking OPA's data API (feature `opa`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use reqwest::{Client, Url};

use super::error::{AuthzError, AuthzErrorKind};
use super::input::{Input, ask_for_credentials, header_names, verdict};
use super::requirement::{AuthzRequest, BoxRequirement, Decision, Requirement};
use crate::error::kinded_error;

kinded_error! {
    /// An OPA policy requirement could not be built.
    pub struct OpaConfigError(OpaConfigErrorKind);
}

/// The kinds of [`OpaConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpaConfigErrorKind {
    /// The server URL or the data path does not make a URL.
    #[error("invalid URL: {what}")]
    InvalidUrl {
        /// Which part.
        what: &'static str,
    },
    /// The URL is not HTTPS and plain HTTP was not allowed.
    #[error("{url} is not https; allow_insecure_http() was not called")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A limit or a header name is wrong.
    #[error("{reason}")]
    InvalidSetting {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient,
}

/// A remote policy decision point speaking OPA's data API: for each request it POSTs
/// `{"input": …}` (the [input document](crate::manual::_06_authorization)) to
/// `/v1/data/<path>` and reads `{"result": …}`: `true` or `{"allow": true}` allow; `false`
/// or `{"allow": false, "reason": "…"}` refuse (403); a missing result (undefined) refuses.
///
/// Decisions are cached by a hash of the input for a short time (1 s, 10 000 inputs by
/// default). A decision point that cannot be reached, answers late (500 ms), answers an
/// error status or garbage fails closed: 503, gRPC `UNAVAILABLE`.
///
/// ```no_run
/// use meshward::authz::{AuthzLayer, OpaPolicy};
/// let layer = AuthzLayer::new(
///     OpaPolicy::builder("https://opa.internal:8181", "authz/allow")
///         .input_headers(["x-tenant"])
///         .build()?,
/// );
/// # Ok::<_, meshward::authz::OpaConfigError>(())
/// ```
#[derive(Clone)]
pub struct OpaPolicy {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    client: Client,
    timeout: Duration,
    max_body: usize,
    headers: Vec<HeaderName>,
    cache: Option<moka::sync::Cache<[u8; 32], Result<(), AuthzError>>>,
}

impl OpaPolicy {
    /// A decision point at `server` (`https://host:port`) answering for the document at
    /// `path` (`authz/allow` for `data.authz.allow`).
    pub fn builder(server: impl AsRef<str>, path: impl AsRef<str>) -> OpaPolicyBuilder {
        OpaPolicyBuilder {
            server: server.as_ref().to_owned(),
            path: path.as_ref().trim_matches('/').to_owned(),
            allow_http: false,
            timeout: Duration::from_millis(500),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(1),
            max_body: 64 * 1024,
            headers: Vec::new(),
            client: None,
        }
    }

    fn check_input(&self, body: Vec<u8>, anonymous: bool) -> Decision {
        let inner = &self.inner;
        let key = digest(&body);
        if let Some(cache) = &inner.cache
            && let Some(decided) = cache.get(&key)
        {
            return Decision::ready(ask_for_credentials(decided, anonymous));
        }
        let this = self.clone();
        Decision::pending(Box::pin(async move {
            let decided = this.ask(body).await;
            if let Some(cache) = &this.inner.cache
                && !decided
                    .as_ref()
                    .is_err_and(|e| matches!(e.kind(), AuthzErrorKind::PolicyUnavailable))
            {
                cache.insert(key, decided.clone());
            }
            ask_for_credentials(decided, anonymous)
        }))
    }

    async fn ask(&self, body: Vec<u8>) -> Result<(), AuthzError> {
        let inner = &*self.inner;
        let unavailable = |why: &str| {
            tracing::warn!(target: "meshward::authz", url = %inner.url, why, "OPA decision point unavailable; the request is refused");
            AuthzError::from(AuthzErrorKind::PolicyUnavailable)
        };
        let work = async {
            let mut response = inner
                .client
                .post(inner.url.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|_| unavailable("request failed"))?;
            if !response.status().is_success() {
                return Err(unavailable("error status"));
            }
            let mut answer = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|_| unavailable("request failed"))?
            {
                if answer.len() + chunk.len() > inner.max_body {
                    return Err(unavailable("answer too large"));
                }
                answer.extend_from_slice(&chunk);
            }
            let answer: serde_json::Value =
                serde_json::from_slice(&answer).map_err(|_| unavailable("answer is not JSON"))?;
            let serde_json::Value::Object(answer) = answer else {
                return Err(unavailable("answer is not an object"));
            };
            match answer.get("result") {
                // OPA leaves the result out when the document is undefined.
                None => Err(AuthzErrorKind::PolicyUndefined.into()),
                Some(result) => verdict(result),
            }
        };
        match tokio::time::timeout(inner.timeout, work).await {
            Ok(decided) => decided,
            Err(_) => Err(unavailable("no answer in time")),
        }
    }
}

fn digest(body: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref());
    out
}

impl Requirement for OpaPolicy {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            input: Input<'a>,
        }
        let input = Input::new(request, &self.inner.headers);
        match serde_json::to_vec(&Envelope { input }) {
            Ok(body) => self.check_input(body, request.principal().is_none()),
            Err(_) => Decision::deny(AuthzErrorKind::PolicyError.into()),
        }
    }
}

impl fmt::Debug for OpaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaPolicy")
            .field("url", &self.inner.url.as_str())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl From<OpaPolicy> for BoxRequirement {
    fn from(policy: OpaPolicy) -> Self {
        Self::new(policy)
    }
}

/// Configures an [`OpaPolicy`]; made by [`OpaPolicy::builder`].
#[must_use]
pub struct OpaPolicyBuilder {
    server: String,
    path: String,
    allow_http: bool,
    timeout: Duration,
    cache_capacity: u64,
    cache_ttl: Duration,
    max_body: usize,
    headers: Vec<String>,
    client: Option<Client>,
}

impl OpaPolicyBuilder {
    /// Allows an `http://` decision point.
    ///
    /// # Security
    ///
    /// Anyone on the path can then answer "allow". For a sidecar on loopback only; it is
    /// logged as a warning.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// How long a decision may take (default 500 ms); later is a refusal (503).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many decisions to remember, and for how long (default 10 000, 1 s; a capacity of
    /// 0 turns the cache off). Refusals for an unreachable decision point are not cached.
    pub fn decision_cache(mut self, capacity: u64, ttl: Duration) -> Self {
        self.cache_capacity = capacity;
        self.cache_ttl = ttl;
        self
    }

    /// Request headers the policy sees in `input.request.headers` (none by default).
    /// Credentials never: naming `Authorization`, `Proxy-Authorization` or `Cookie` fails
    /// the build, and a header an `AuthLayer` read the token from is left out of the
    /// document (so it is never sent to OPA nor part of the decision cache's key).
    pub fn input_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.headers.extend(names.into_iter().map(Into::into));
        self
    }

    /// Uses your own client (CA bundle, mutual TLS to the decision point).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the settings and builds the requirement. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`OpaConfigErrorKind::InvalidUrl`], [`OpaConfigErrorKind::InsecureUrl`],
    /// [`OpaConfigErrorKind::InvalidSetting`] for a zero or over-a-minute timeout, a TTL over
    /// an hour, or a bad header name; [`OpaConfigErrorKind::HttpClient`].
    pub fn build(self) -> Result<OpaPolicy, OpaConfigError> {
        let base = Url::parse(&self.server).map_err(|e| {
            OpaConfigError::with_source(OpaConfigErrorKind::InvalidUrl { what: "server" }, e)
        })?;
        if self.path.is_empty() {
            return Err(OpaConfigErrorKind::InvalidUrl { what: "data path" }.into());
        }
        let url = base.join(&format!("/v1/data/{}", self.path)).map_err(|e| {
            OpaConfigError::with_source(OpaConfigErrorKind::InvalidUrl { what: "data path" }, e)
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {
                tracing::warn!(target: "meshward::authz", %url, "allow_insecure_http: OPA decisions over plain HTTP");
            }
            _ => {
                return Err(OpaConfigErrorKind::InsecureUrl {
                    url: url.to_string(),
                }
                .into());
            }
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err(OpaConfigErrorKind::InvalidSetting {
                reason: "the timeout is between 0 and 60 s".into(),
            }
            .into());
        }
        if self.cache_ttl > Duration::from_secs(3600) {
            return Err(OpaConfigErrorKind::InvalidSetting {
                reason: "decisions are cached for an hour at most".into(),
            }
            .into());
        }
        let headers = header_names(&self.headers).map_err(|reason| {
            OpaConfigError::from(OpaConfigErrorKind::InvalidSetting { reason })
        })?;
        let client = match self.client {
            Some(client) => client,
            None => Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| OpaConfigError::with_source(OpaConfigErrorKind::HttpClient, e))?,
        };
        let cache = (self.cache_capacity > 0 && !self.cache_ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.cache_capacity)
                .time_to_live(self.cache_ttl)
                .build()
        });
        Ok(OpaPolicy {
            inner: Arc::new(Inner {
                url,
                client,
                timeout: self.timeout,
                max_body: self.max_body,
                headers,
                cache,
            }),
        })
    }
}

impl fmt::Debug for OpaPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaPolicyBuilder")
            .field("server", &self.server)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
