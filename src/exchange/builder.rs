//! Configuring a [`TokenExchange`]: where, as whom, how the target is named, how long to
//! wait and how much to keep.

use std::fmt;
use std::time::Duration;

use reqwest::Client;

use super::error::{ExchangeConfigError, ExchangeConfigErrorKind};
use super::exchange::{Counters, Inner, TokenExchange, UntilRenewal};
use super::request::TargetParameter;
use crate::flight::SingleFlight;
use crate::mint::SigningKey;
use crate::oauth::ClientAuth;
use crate::oauth::{DEFAULT_MAX_ANSWER_LEN, DEFAULT_TIMEOUT, Settings};

/// Default bound on the issued tokens kept for reuse.
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// Builds a [`TokenExchange`]; from [`TokenExchange::builder`].
#[must_use]
pub struct TokenExchangeBuilder {
    issuer: String,
    endpoint: Option<String>,
    auth: Option<ClientAuth>,
    allow_http: bool,
    client: Option<Client>,
    timeout: Duration,
    max_answer_len: usize,
    capacity: u64,
    target: TargetParameter,
}

impl TokenExchangeBuilder {
    pub(super) fn new(issuer: String) -> Self {
        Self {
            issuer,
            endpoint: None,
            auth: None,
            allow_http: false,
            client: None,
            timeout: DEFAULT_TIMEOUT,
            max_answer_len: DEFAULT_MAX_ANSWER_LEN,
            capacity: DEFAULT_CACHE_CAPACITY,
            target: TargetParameter::Audience,
        }
    }

    /// The token endpoint's URL (default: the `token_endpoint` of the issuer's discovery
    /// document, OpenID Connect or RFC 8414, found at first use).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Authenticates as `client_id` with `secret`, in HTTP Basic (`client_secret_basic`).
    pub fn client_secret_basic(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.auth = Some(ClientAuth::SecretBasic {
            id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Authenticates as `client_id` with a JWT signed by `key` (`private_key_jwt`).
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: SigningKey) -> Self {
        self.auth = Some(ClientAuth::PrivateKeyJwt {
            id: client_id.into(),
            key,
        });
        self
    }

    /// Names the target as `resource` (RFC 8707, a URI) instead of `audience` (the
    /// default, a logical name), for services that expect resource indicators.
    pub fn target_as_resource(mut self) -> Self {
        self.target = TargetParameter::Resource;
        self
    }

    /// How many issued tokens to keep for reuse (default 10 000; 0: exchange for every
    /// call).
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.capacity = capacity;
        self
    }

    /// Timeout of each request to the token endpoint (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest answer read, in bytes (default 64 KiB).
    pub fn max_answer_len(mut self, len: usize) -> Self {
        self.max_answer_len = len;
        self
    }

    /// The HTTP client (default: rustls, no redirects, the timeout above).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Allows an `http://` issuer and endpoint.
    ///
    /// # Security
    ///
    /// The caller's token and this client's credentials then cross the network in the
    /// clear: loopback and development only. Logged at `warn` when built.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the configuration and builds the exchange. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`ExchangeConfigError`]: no client authentication, a URL that does not parse or is
    /// `http://` without [`allow_insecure_http`](Self::allow_insecure_http), a zero bound
    /// or timeout.
    pub fn build(self) -> Result<TokenExchange, ExchangeConfigError> {
        use ExchangeConfigErrorKind as Kind;
        let auth = self.auth.ok_or(Kind::MissingClientAuth)?;
        if self.max_answer_len == 0 || self.timeout.is_zero() {
            return Err(Kind::InvalidLimit {
                what: "the answer length and the timeout must be above zero",
            }
            .into());
        }
        let server = Settings {
            issuer: &self.issuer,
            endpoint: self.endpoint.as_deref(),
            endpoint_name: "the token endpoint",
            metadata_field: "token_endpoint",
            allow_http: self.allow_http,
            auth,
            max_answer_len: self.max_answer_len,
            timeout: self.timeout,
            client: self.client,
        }
        .check()?;
        if self.allow_http {
            tracing::warn!(
                target: "meshward::exchange",
                issuer = %self.issuer,
                "token exchange over plain http is allowed: tokens and client credentials may cross the network in the clear"
            );
        }
        let issued = (self.capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.capacity)
                .expire_after(UntilRenewal)
                .build()
        });
        Ok(TokenExchange::from_inner(Inner {
            server,
            target: self.target,
            issued,
            flights: SingleFlight::new(),
            counters: Counters::default(),
        }))
    }
}

impl fmt::Debug for TokenExchangeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeBuilder")
            .field("issuer", &self.issuer)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.auth.as_ref().map(ClientAuth::client_id))
            .field("target", &self.target)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}
