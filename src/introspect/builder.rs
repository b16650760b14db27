//! Configuring an [`Introspector`]: where to ask, as whom, and how long to remember.

use std::fmt;
use std::time::Duration;

use reqwest::Client;

use super::error::{IntrospectorConfigError, IntrospectorConfigErrorKind};
use super::introspector::{Counters, Inner, Introspector, UntilExpiry};
use super::response::Checks;
use crate::flight::SingleFlight;
use crate::jwt::Validator;
use crate::mint::SigningKey;
use crate::oauth::ClientAuth;
use crate::oauth::{DEFAULT_MAX_ANSWER_LEN, DEFAULT_TIMEOUT, Settings};

/// Default bound on the answers cached (active and inactive together).
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default longest time an active answer is reused: a revoked token is admitted for at most
/// this long after its revocation.
pub const DEFAULT_CACHE_CEILING: Duration = Duration::from_secs(60);
/// Default time an "inactive" answer is reused.
pub const DEFAULT_NEGATIVE_CACHE: Duration = Duration::from_secs(10);
/// Default bound on a token's length.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Builds an [`Introspector`]; from [`Introspector::builder`].
#[must_use]
pub struct IntrospectorBuilder {
    issuer: String,
    audiences: Vec<String>,
    endpoint: Option<String>,
    auth: Option<ClientAuth>,
    allow_http: bool,
    client: Option<Client>,
    timeout: Duration,
    max_answer_len: usize,
    max_token_len: usize,
    capacity: u64,
    ceiling: Duration,
    negative_ttl: Duration,
    leeway: Duration,
    token_types: Vec<String>,
    jwt: Option<Validator>,
}

impl IntrospectorBuilder {
    pub(super) fn new(issuer: String, audiences: Vec<String>) -> Self {
        Self {
            issuer,
            audiences,
            endpoint: None,
            auth: None,
            allow_http: false,
            client: None,
            timeout: DEFAULT_TIMEOUT,
            max_answer_len: DEFAULT_MAX_ANSWER_LEN,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            capacity: DEFAULT_CACHE_CAPACITY,
            ceiling: DEFAULT_CACHE_CEILING,
            negative_ttl: DEFAULT_NEGATIVE_CACHE,
            leeway: Duration::from_secs(30),
            token_types: vec!["Bearer".into()],
            jwt: None,
        }
    }

    /// The introspection endpoint's URL (default: the `introspection_endpoint` of the
    /// issuer's discovery document, OpenID Connect or RFC 8414, found at first use).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
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

    /// Authenticates as `client_id` with a JWT signed by `key` (`private_key_jwt`: `iss`
    /// and `sub` the client id, `aud` the issuer, a fresh `jti`, valid one minute); the
    /// provider knows the key's public half, by its `kid`.
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: SigningKey) -> Self {
        self.auth = Some(ClientAuth::PrivateKeyJwt {
            id: client_id.into(),
            key,
        });
        self
    }

    /// Validates tokens shaped as a JWS with `validator`, and introspects only the others
    /// (opaque tokens).
    pub fn jwt(mut self, validator: Validator) -> Self {
        self.jwt = Some(validator);
        self
    }

    /// How many answers to remember (default 10 000; 0 turns the cache off).
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.capacity = capacity;
        self
    }

    /// The longest an active answer is reused (default 60 s), however far the token's
    /// `exp`.
    ///
    /// # Security
    ///
    /// A token revoked at its issuer is still admitted until its cached answer expires.
    pub fn cache_ceiling(mut self, ceiling: Duration) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// How long an "inactive" answer (or an active one refused here) is reused (default
    /// 10 s; zero: not cached), so that a client repeating a bad token costs no request.
    pub fn negative_cache(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Timeout of each request to the endpoint (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest answer read, in bytes (default 64 KiB).
    pub fn max_answer_len(mut self, len: usize) -> Self {
        self.max_answer_len = len;
        self
    }

    /// The longest token accepted, in bytes (default 8 KiB): longer ones are refused
    /// before any request.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `token_type` values accepted when the answer has one, compared ignoring case
    /// (default `Bearer`: a `DPoP`-bound token is refused).
    pub fn token_types<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.token_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// The HTTP client (default: rustls, no redirects, the timeout above). Give one to
    /// present a client certificate or trust a private CA.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Allows an `http://` issuer and endpoint.
    ///
    /// # Security
    ///
    /// Tokens and client credentials then cross the network in the clear: loopback and
    /// development only. Logged at `warn` when built.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the configuration and builds the introspector. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`IntrospectorConfigError`]: no issuer or audience, no client authentication, a URL
    /// that does not parse or is `http://` without
    /// [`allow_insecure_http`](Self::allow_insecure_http), a zero bound or timeout.
    pub fn build(self) -> Result<Introspector, IntrospectorConfigError> {
        use IntrospectorConfigErrorKind as Kind;
        if self.issuer.is_empty() || self.audiences.is_empty() {
            return Err(Kind::MissingIssuerOrAudience.into());
        }
        let auth = self.auth.ok_or(Kind::MissingClientAuth)?;
        if self.max_answer_len == 0 || self.max_token_len == 0 || self.timeout.is_zero() {
            return Err(Kind::InvalidLimit {
                what: "lengths and the timeout must be above zero",
            }
            .into());
        }
        let server = Settings {
            issuer: &self.issuer,
            endpoint: self.endpoint.as_deref(),
            endpoint_name: "the endpoint",
            metadata_field: "introspection_endpoint",
            allow_http: self.allow_http,
            auth,
            max_answer_len: self.max_answer_len,
            timeout: self.timeout,
            client: self.client,
        }
        .check()?;
        if self.allow_http {
            tracing::warn!(
                target: "meshward::introspect",
                issuer = %self.issuer,
                "introspection over plain http is allowed: tokens and client credentials may cross the network in the clear"
            );
        }
        let answers = (self.capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.capacity)
                .expire_after(UntilExpiry)
                .build()
        });
        Ok(Introspector::from_inner(Inner {
            checks: Checks {
                issuer: self.issuer,
                audiences: self.audiences,
                token_types: self.token_types,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            },
            server,
            max_token_len: self.max_token_len,
            answers,
            ceiling: self.ceiling,
            negative_ttl: self.negative_ttl,
            flights: SingleFlight::new(),
            jwt: self.jwt,
            counters: Counters::default(),
        }))
    }
}

impl fmt::Debug for IntrospectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectorBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.auth.as_ref().map(ClientAuth::client_id))
            .field("allow_http", &self.allow_http)
            .field("jwt", &self.jwt.is_some())
            .finish_non_exhaustive()
    }
}
