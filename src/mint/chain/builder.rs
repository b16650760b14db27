//! [`ServiceTokenVerifierBuilder`]: the services trusted, the end users' validator, the
//! bounds and the options of a [`ServiceTokenVerifier`].

use super::*;
use crate::jwt::{Issuer, KeySource};
use crate::state::{ReplayGuard, SharedState};

/// Configures a [`ServiceTokenVerifier`]; made by [`ServiceTokenVerifier::builder`].
#[must_use]
pub struct ServiceTokenVerifierBuilder {
    pub(super) identity: String,
    pub(super) services: Vec<(String, KeySource)>,
    pub(super) users: Option<Validator>,
    pub(super) users_directly: bool,
    pub(super) max_depth: usize,
    pub(super) max_token_len: usize,
    pub(super) bind_to_peer: bool,
    pub(super) replay: Option<Guard>,
    pub(super) leeway: Duration,
    pub(super) cache_capacity: u64,
}

impl ServiceTokenVerifierBuilder {
    /// How many verified service tokens (of every level) and whole chains to remember
    /// (default 10 000 of each; 0 turns both off). The end users' tokens are cached by their
    /// own validator. With a [`replay_guard`](Self::replay_guard) no chain is remembered:
    /// each token is good once.
    pub fn token_cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Trusts the service named `identity` (the `iss` of its tokens) with the keys from
    /// `keys`: its [`JwksPublisher`](crate::mint::JwksPublisher) through
    /// [`KeySource::jwks`](crate::jwt::KeySource::jwks), or keys you configure.
    ///
    /// To reach a peer's publisher over mutual TLS, give the source a reqwest client that
    /// presents this service's certificate and checks the peer's:
    /// `reqwest::Client::builder().use_preconfigured_tls((*mtls_client.client_config()).clone())`
    /// with an `mtls::MtlsClient`, then
    /// [`RemoteKeySourceBuilder::client`](crate::jwt::RemoteKeySourceBuilder::client).
    pub fn trust_service(mut self, identity: impl Into<String>, keys: KeySource) -> Self {
        self.services.push((identity.into(), keys));
        self
    }

    /// The end users' tokens at the bottom of chains are checked with `validator` (the
    /// identity provider's; their `aud` names the first service, not this one).
    pub fn user_tokens(mut self, validator: Validator) -> Self {
        self.users = Some(validator);
        self
    }

    /// Also admits end users' tokens that come directly, not through services, checked with
    /// the [`user_tokens`](Self::user_tokens) validator.
    pub fn accept_user_tokens_directly(mut self) -> Self {
        self.users_directly = true;
        self
    }

    /// The most levels of service tokens a chain may nest (default 4).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// The longest received token, every level included, in bytes (default 16 KiB; each
    /// level base64-wraps the one below, see the manual for sizes per depth).
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Requires the outermost token's issuer to be the SPIFFE ID of the connection it came
    /// on (mutual TLS): a token stolen from one workload and replayed from another fails.
    pub fn bind_caller_to_peer(mut self) -> Self {
        self.bind_to_peer = true;
        self
    }

    /// Refuses a token whose `jti` was seen before within its lifetime.
    pub fn replay_guard(mut self, guard: impl ReplayGuard) -> Self {
        self.replay = Some(Guard::Local(Arc::new(guard)));
        self
    }

    /// Refuses a token whose `jti` any instance sharing `store` has seen before within its
    /// lifetime: the replay guard of a service run as many instances, on a
    /// `RedisState` (feature `redis`) for example (replaces a
    /// [`replay_guard`](Self::replay_guard)).
    ///
    /// Each token's first use is one compare-and-set on the store, under a key hashed from
    /// its issuer and `jti`, kept until a minute past its `exp`. When the store cannot
    /// answer, the token is refused with 503 (`UNAVAILABLE`), never admitted unchecked, and
    /// a warning is logged (at most one a second).
    ///
    /// ```
    /// use meshward::jwt::KeySource;
    /// use meshward::mint::ServiceTokenVerifier;
    /// use meshward::state::InMemoryState;
    ///
    /// # fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// // With the `redis` feature: meshward::state::RedisState::builder(url).build()?
    /// let seen = InMemoryState::default();
    /// let verifier = ServiceTokenVerifier::builder("spiffe://prod.example/orders")
    ///     .trust_service(
    ///         "spiffe://prod.example/gateway",
    ///         KeySource::jwks("https://gateway.internal/.well-known/jwks.json").build()?,
    ///     )
    ///     .replay_guard_on(seen)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn replay_guard_on(mut self, store: impl SharedState) -> Self {
        self.replay = Some(Guard::Shared(Arc::new(store)));
        self
    }

    /// Clock-skew allowance for every level's `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks the configuration and builds the verifier. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`MintConfigErrorKind::EmptyIdentity`]; [`MintConfigErrorKind::InvalidLimit`] for a
    /// depth or length of zero; [`MintConfigErrorKind::Verifier`] (with the validator's
    /// error as its source) when no service is trusted or a trusted service is configured
    /// twice or without keys.
    pub fn build(self) -> Result<ServiceTokenVerifier, MintConfigError> {
        if self.identity.is_empty() {
            return Err(MintConfigErrorKind::EmptyIdentity.into());
        }
        if self.max_depth == 0 || self.max_token_len == 0 {
            return Err(MintConfigErrorKind::InvalidLimit {
                what: "chain depth and length must be positive",
            }
            .into());
        }
        // Every level is addressed to this service or to one it trusts (an inner level is
        // addressed to the service that embedded it); the chain check pins each one.
        let audiences: Vec<String> = std::iter::once(self.identity.clone())
            .chain(self.services.iter().map(|(id, _)| id.clone()))
            .collect();
        let mut services = self.services.into_iter();
        let Some((first, first_keys)) = services.next() else {
            return Err(MintConfigErrorKind::Verifier.into());
        };
        let mut builder = Validator::builder(first, audiences.clone())
            .key_source(first_keys)
            .for_service_tokens()
            .leeway(self.leeway)
            // The specification's bound: no service token lives longer than a signer may
            // make it live.
            .max_token_lifetime(crate::mint::signer::MAX_TOKEN_LIFETIME)
            .max_token_len(self.max_token_len)
            .token_cache_capacity(self.cache_capacity);
        for (identity, keys) in services {
            builder = builder.add_issuer(Issuer::new(identity, audiences.clone()).key_source(keys));
        }
        let services = builder
            .build()
            .map_err(|e| MintConfigError::with_source(MintConfigErrorKind::Verifier, e))?;
        Ok(ServiceTokenVerifier {
            inner: Arc::new(Inner {
                identity: self.identity,
                services,
                users: self.users,
                users_directly: self.users_directly,
                max_depth: self.max_depth,
                max_token_len: self.max_token_len,
                bind_to_peer: self.bind_to_peer,
                chains: (self.cache_capacity > 0 && self.replay.is_none())
                    .then(|| ChainCache::new(self.cache_capacity)),
                replay: self.replay,
                warned: std::sync::atomic::AtomicI64::new(0),
            }),
        })
    }
}

impl fmt::Debug for ServiceTokenVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTokenVerifierBuilder")
            .field("identity", &self.identity)
            .field(
                "services",
                &self.services.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}
