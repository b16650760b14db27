//! Remote keys: a JWKS URL, or OpenID Connect discovery from the issuer (feature `remote`).
//!
//! A remote [`KeySource`] is built synchronously and loads lazily: the first request that
//! needs it (or an explicit [`Validator::warm_up`](crate::jwt::Validator::warm_up)) fetches
//! the key set. From then on:
//!
//! - requests read the loaded set without locking;
//! - any number of concurrent requests that need a fetch cause one fetch, and each waits
//!   at most the fetch timeout for it;
//! - a token naming an unknown `kid` triggers a refetch, at most once per cooldown (30 s),
//!   and a `kid` still unknown afterwards is not looked for again during that cooldown, so a
//!   flood of random `kid`s costs one fetch per cooldown;
//! - a background task refreshes the set ahead of its `Cache-Control: max-age` (clamped to
//!   5 min – 24 h; 15 min when the server sends none);
//! - when the provider is down, slow or answers garbage, the last good set keeps serving
//!   for 24 h (stale-if-error) with a warning; a request whose keys were never loaded gets
//!   503 / `UNAVAILABLE`;
//! - every fetch is bounded: 5 s, 256 KiB, 100 keys, redirects only within the same origin,
//!   HTTPS only unless [`allow_insecure_http`](RemoteKeySourceBuilder::allow_insecure_http)
//!   is named. `jku`, `x5u` and `jwk` token headers are never followed.
//!
//! ```no_run
//! use meshward::jwt::{KeySource, Validator};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = KeySource::discovery("https://id.example.com").build()?;
//! let validator = Validator::builder("https://id.example.com", ["orders"])
//!     .key_source(keys)
//!     .require_type("at+jwt")
//!     .build()?;
//! validator.warm_up().await?; // fail fast at start if the provider is unreachable
//! # Ok(()) }
//! ```

pub(crate) mod discovery;
mod error;
mod fetch;
pub(crate) mod refresh;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::{Client, Url};

pub use self::error::{KeySourceError, KeySourceErrorKind};
use self::refresh::{Location, RemoteKeys, Settings};
use super::error::{ConfigError, ConfigErrorKind};
use super::source::KeySource;

/// Configures a remote [`KeySource`]; made by [`KeySource::jwks`] or
/// [`KeySource::discovery`].
#[must_use]
pub struct RemoteKeySourceBuilder {
    location: Result<Location, ConfigError>,
    settings: Settings,
    client: Option<Client>,
}

impl RemoteKeySourceBuilder {
    pub(crate) fn jwks(url: &str) -> Self {
        let location = Url::parse(url).map(Location::Jwks).map_err(|e| {
            ConfigError::with_source(ConfigErrorKind::InvalidUrl { what: "JWKS URL" }, e)
        });
        Self::new(location)
    }

    pub(crate) fn discovery(issuer: &str) -> Self {
        let location = discovery::discovery_url(issuer)
            .map(|url| Location::Discovery {
                issuer: issuer.to_owned(),
                url,
            })
            .map_err(|e| {
                ConfigError::with_source(ConfigErrorKind::InvalidUrl { what: "issuer" }, e)
            });
        Self::new(location)
    }

    fn new(location: Result<Location, ConfigError>) -> Self {
        Self {
            location,
            settings: Settings {
                allow_http: false,
                fetch_timeout: Duration::from_secs(5),
                max_body: 256 * 1024,
                max_keys: 100,
                cooldown: Duration::from_secs(30),
                failure_backoff: Duration::from_secs(5),
                min_refresh: Duration::from_secs(5 * 60),
                max_refresh: Duration::from_secs(24 * 60 * 60),
                default_refresh: Duration::from_secs(15 * 60),
                stale_if_error: Duration::from_secs(24 * 60 * 60),
            },
            client: None,
        }
    }

    /// Allows `http://` URLs for the JWKS, the discovery document and a discovered
    /// `jwks_uri`.
    ///
    /// # Security
    ///
    /// Keys fetched over plain HTTP can be replaced by anyone on the path, who can then sign
    /// tokens you accept. Use it for loopback tests and development only; it is logged as a
    /// warning when the source is built.
    pub fn allow_insecure_http(mut self) -> Self {
        self.settings.allow_http = true;
        self
    }

    /// Uses your own client (corporate CAs, proxies). Its redirect and timeout policies
    /// then apply; the fetch timeout and body cap still bound every fetch.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How long one fetch may take, and how long a request waits for one (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// The largest JWKS or discovery body accepted (default 256 KiB).
    pub fn max_body_len(mut self, bytes: usize) -> Self {
        self.settings.max_body = bytes;
        self
    }

    /// The most keys kept from one JWKS (default 100).
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.settings.max_keys = keys;
        self
    }

    /// The least time between two fetches caused by unknown `kid`s, and how long a `kid`
    /// found missing is not looked for again (default 30 s).
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown = cooldown;
        self
    }

    /// The least time between two fetches while no key set is loaded and fetches fail
    /// (default 5 s). Requests in between get 503 at once.
    pub fn failure_backoff(mut self, backoff: Duration) -> Self {
        self.settings.failure_backoff = backoff;
        self
    }

    /// Bounds on the freshness lifetime taken from `Cache-Control: max-age`
    /// (default 5 min to 24 h).
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_refresh = min;
        self.settings.max_refresh = max;
        self
    }

    /// The freshness lifetime when the server sends no `max-age` (default 15 min), clamped
    /// to the refresh bounds.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.default_refresh = interval;
        self
    }

    /// How long the last good key set keeps serving after it should have been refreshed,
    /// while fetches fail (default 24 h).
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.settings.stale_if_error = window;
        self
    }

    /// Checks the settings and builds the source. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidUrl`] for a URL that does not parse,
    /// [`ConfigErrorKind::InsecureUrl`] for a non-HTTPS URL without
    /// [`allow_insecure_http`](Self::allow_insecure_http), [`ConfigErrorKind::InvalidLimit`]
    /// for zero limits or inverted bounds, [`ConfigErrorKind::HttpClient`] when the default
    /// client cannot be built.
    pub fn build(self) -> Result<KeySource, ConfigError> {
        let location = self.location?;
        let s = &self.settings;
        let url = match &location {
            Location::Jwks(url) | Location::Discovery { url, .. } => url,
        };
        match url.scheme() {
            "https" => {}
            "http" if s.allow_http => {
                tracing::warn!(
                    target: "meshward::jwks",
                    %url,
                    "allow_insecure_http: verification keys will be fetched over plain HTTP"
                );
            }
            _ => {
                return Err(ConfigErrorKind::InsecureUrl {
                    url: url.to_string(),
                }
                .into());
            }
        }
        if s.fetch_timeout.is_zero() || s.max_body == 0 || s.max_keys == 0 {
            return Err(ConfigErrorKind::InvalidLimit {
                what: "fetch timeout, body cap and key cap must be positive",
            }
            .into());
        }
        if s.min_refresh > s.max_refresh || s.max_refresh.is_zero() {
            return Err(ConfigErrorKind::InvalidLimit {
                what: "refresh bounds must satisfy 0 < min <= max",
            }
            .into());
        }
        let year = Duration::from_secs(365 * 24 * 60 * 60);
        if [
            s.fetch_timeout,
            s.cooldown,
            s.failure_backoff,
            s.max_refresh,
            s.default_refresh,
            s.stale_if_error,
        ]
        .iter()
        .any(|d| *d > year)
        {
            return Err(ConfigErrorKind::InvalidLimit {
                what: "durations of a remote key source are at most a year",
            }
            .into());
        }
        let client = match self.client {
            Some(client) => client,
            None => fetch::default_client(s.fetch_timeout)
                .map_err(|e| ConfigError::with_source(ConfigErrorKind::HttpClient, e))?,
        };
        Ok(KeySource::remote(Arc::new(RemoteKeys::new(
            location,
            self.settings,
            client,
        ))))
    }
}

impl fmt::Debug for RemoteKeySourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySourceBuilder")
            .field("location", &self.location)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Counters of a remote key source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySourceStats {
    /// Fetches started (discovery and JWKS together count once).
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// Keys in the loaded set.
    pub keys: usize,
    /// When the loaded set was fetched, if one is loaded.
    pub fetched_at: Option<SystemTime>,
}

impl KeySourceStats {
    pub(crate) fn of(remote: &RemoteKeys) -> Self {
        let (fetches, failures, keys, fetched_at) = remote.stats();
        Self {
            fetches,
            failures,
            keys,
            fetched_at,
        }
    }
}
