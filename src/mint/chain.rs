//! Receiving service tokens: the [`ServiceTokenVerifier`] checks the whole chain a request
//! came through, hop by hop, each with its own signer's keys.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::cache::{ChainCache, Generations};
use super::error::{MintConfigError, MintConfigErrorKind};
use crate::gate::Answer;
use crate::jwt::{
    Issuer, KeySource, SERVICE_TOKEN_TYPE, TokenError, TokenErrorKind, Validator, Verifier,
    header_type,
};
use crate::principal::{Principal, ServiceChain, VerifiedToken, unix_now, unix_time};
use crate::state::SharedState;
use crate::state::{Guard, ReplayGuard, first_use_shared, replay_key};

/// Default bound on the levels of service tokens in a chain.
pub const DEFAULT_MAX_DEPTH: usize = 4;
/// Default bound on the length of a received service token, every level included.
pub const DEFAULT_MAX_CHAIN_LEN: usize = 16 * 1024;

/// Verifies the service tokens this service receives, and (optionally) end users' access
/// tokens that come directly: put it in an [`AuthLayer`](crate::jwt::AuthLayer).
///
/// For a service token it checks, outermost first (the manual's service-token chapter has
/// the specification):
///
/// 1. the token is a `svc+jwt` JWS signed by a service this one trusts, with that service's
///    keys, addressed (`aud`) to this service and to no other, not expired;
/// 2. its `act` names its issuer; its `subject_token`, when present, is the token that
///    service received: another service token, addressed to the service that embedded it,
///    checked the same way, or the end user's access token, checked with the identity
///    provider's [`Validator`];
/// 3. every level names the same `sub`, carries no scope the level below lacks, and nests the
///    actors of the level below in its `act`; no two levels carry the same `jti`;
/// 4. the chain is at most [`max_depth`](ServiceTokenVerifierBuilder::max_depth) service
///    tokens deep, and the whole token at most
///    [`max_token_len`](ServiceTokenVerifierBuilder::max_token_len) bytes;
/// 5. optionally, the outermost issuer is the connection's peer (its SPIFFE ID), and the
///    token's `jti` was not seen before.
///
/// The [`Principal`] it yields names the end user (or the calling service acting for
/// itself), the scopes as narrowed by each hop, the caller and the actor chain.
///
/// ```
/// use meshward::jwt::{KeySource, Validator, VerifyingKey};
/// use meshward::mint::ServiceTokenVerifier;
/// # fn f(users: Validator) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = ServiceTokenVerifier::builder("spiffe://prod.example/ns/inventory/sa/api")
///     .trust_service(
///         "spiffe://prod.example/ns/orders/sa/api",
///         KeySource::jwks("https://orders.internal/.well-known/jwks.json").build()?,
///     )
///     .user_tokens(users)
///     .build()?;
/// let layer = meshward::jwt::AuthLayer::new(verifier);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceTokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    identity: String,
    services: Validator,
    users: Option<Validator>,
    users_directly: bool,
    max_depth: usize,
    max_token_len: usize,
    bind_to_peer: bool,
    replay: Option<Guard>,
    /// Whole chains checked before; none with a replay guard (each token is good once).
    chains: Option<ChainCache>,
    /// The second of the last warning that the shared replay store did not answer.
    warned: std::sync::atomic::AtomicI64,
}

/// What a check without waiting found.
enum Now {
    Done(Result<Principal, TokenError>),
    /// A level's keys must be fetched first: which validator, and the token of that level.
    NeedsKeys {
        user: bool,
        token: String,
    },
    /// Valid, if the shared replay guard has not seen its `jti`.
    NeedsFirstUse(FirstUse),
}

impl From<TokenErrorKind> for Now {
    fn from(kind: TokenErrorKind) -> Self {
        Self::Done(Err(kind.into()))
    }
}

/// A chain that passed every check but the shared replay guard's, which needs a wait.
struct FirstUse {
    key: String,
    expires_at: i64,
    principal: Principal,
}

impl From<TokenError> for Now {
    fn from(error: TokenError) -> Self {
        Self::Done(Err(error))
    }
}

/// Asks a validator without waiting: the verified token, or what to return instead.
macro_rules! verified_now {
    ($validator:expr, $token:expr, $user:expr) => {
        match $validator.try_now($token) {
            Some(Ok(verified)) => verified,
            Some(Err(error)) => return error.into(),
            None => {
                return Now::NeedsKeys {
                    user: $user,
                    token: $token.to_owned(),
                };
            }
        }
    };
}

impl ServiceTokenVerifier {
    /// Starts a verifier for the service named `identity`: the `aud` the service tokens it
    /// admits must name.
    pub fn builder(identity: impl Into<String>) -> ServiceTokenVerifierBuilder {
        ServiceTokenVerifierBuilder {
            identity: identity.into(),
            services: Vec::new(),
            users: None,
            users_directly: false,
            max_depth: DEFAULT_MAX_DEPTH,
            max_token_len: DEFAULT_MAX_CHAIN_LEN,
            bind_to_peer: false,
            replay: None,
            leeway: crate::jwt::DEFAULT_LEEWAY,
            cache_capacity: crate::jwt::DEFAULT_TOKEN_CACHE_CAPACITY,
        }
    }

    /// This service's identity.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Verifies `token` and returns who it names; awaits only when keys must be fetched.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] saying why the token was refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if token.len() <= self.inner.max_token_len
            && let Some(principal) = self.cached(token.as_bytes())
        {
            return Ok(principal);
        }
        match self.check_now(token) {
            Now::Done(result) => result,
            Now::NeedsKeys { .. } => self.check_with_fetches(token).await,
            Now::NeedsFirstUse(pending) => self.first_use(pending).await,
        }
    }

    /// Admits the chain if the shared replay guard records its `jti` now for the first time.
    async fn first_use(&self, pending: FirstUse) -> Result<Principal, TokenError> {
        let Some(Guard::Shared(store)) = &self.inner.replay else {
            return Err(TokenErrorKind::ReplayGuardUnavailable.into());
        };
        match first_use_shared(
            &**store,
            &self.inner.warned,
            &pending.key,
            pending.expires_at,
        )
        .await
        {
            Ok(true) => Ok(pending.principal),
            Ok(false) => Err(TokenErrorKind::Replayed.into()),
            Err(error) => Err(TokenError::with_source(
                TokenErrorKind::ReplayGuardUnavailable,
                error,
            )),
        }
    }

    /// Fetches what the check needs, level by level, then checks.
    async fn check_with_fetches(&self, token: &str) -> Result<Principal, TokenError> {
        // Each round loads the keys of one more level; a chain has at most max_depth + 1.
        for _ in 0..self.inner.max_depth + 2 {
            match self.check_now(token) {
                Now::Done(result) => return result,
                Now::NeedsFirstUse(pending) => return self.first_use(pending).await,
                Now::NeedsKeys { user, token: level } => {
                    let validator = match (user, &self.inner.users) {
                        (true, Some(users)) => users,
                        _ => &self.inner.services,
                    };
                    validator.validate_verified(&level).await?;
                }
            }
        }
        Err(TokenErrorKind::KeysUnavailable.into())
    }

    /// The key generations of both validators, read before a check so that a key set
    /// replaced during it makes its result stale.
    fn generations(&self) -> Generations {
        let inner = &*self.inner;
        (
            inner.services.key_generation(),
            inner.users.as_ref().map_or(0, Validator::key_generation),
        )
    }

    /// The whole check, with the keys at hand.
    fn check_now(&self, token: &str) -> Now {
        let inner = &*self.inner;
        let generations = self.generations();
        if token.len() > inner.max_token_len {
            return TokenErrorKind::TooLarge {
                len: token.len(),
                max: inner.max_token_len,
            }
            .into();
        }
        let max_header = inner.services.max_header_len();
        if header_type(token, max_header).as_deref() != Some(SERVICE_TOKEN_TYPE) {
            // Not a service token: an end user's token directly, when that is accepted.
            return match (&inner.users, inner.users_directly) {
                (Some(users), true) => {
                    let verified = verified_now!(users, token, true);
                    Now::Done(Ok(Principal::from_verified(verified)))
                }
                _ => TokenErrorKind::InvalidType.into(),
            };
        }

        // Outermost first: each level verified with its issuer's keys.
        let mut levels: Vec<Arc<VerifiedToken>> = Vec::with_capacity(inner.max_depth);
        let mut expected_audience = inner.identity.as_str().to_owned();
        let mut holder: Option<Arc<VerifiedToken>> = None;
        let user = loop {
            if levels.len() >= inner.max_depth {
                return TokenErrorKind::ChainTooDeep {
                    depth: levels.len() + 1,
                    max: inner.max_depth,
                }
                .into();
            }
            let current = match holder.as_deref() {
                None => token,
                Some(level) => subject_token(&level.claims)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            };
            let level = verified_now!(inner.services, current, false);
            // A service token is for one hop: a token good at two services could be
            // replayed by the first at the second.
            if level.audiences.len() > 1 {
                return TokenErrorKind::MultipleAudiences.into();
            }
            if !level.audiences.contains(&expected_audience) {
                return TokenErrorKind::InvalidAudience {
                    expected: vec![expected_audience],
                }
                .into();
            }
            let Some(subject) = level.subject.as_deref() else {
                return TokenErrorKind::MissingClaim {
                    claim: "sub".into(),
                }
                .into();
            };
            if let Err(kind) = actor_of(&level) {
                return kind.into();
            }
            let embedded = match subject_token(&level.claims) {
                Ok(embedded) => embedded,
                Err(kind) => return kind.into(),
            };
            levels.push(Arc::clone(&level));
            match embedded {
                // A service calling on its own behalf: the chain ends with it.
                None => {
                    if subject != level.issuer {
                        return TokenErrorKind::SubjectMismatch.into();
                    }
                    if nested_actor(&level.claims).is_some() {
                        return TokenErrorKind::ActorMismatch.into();
                    }
                    break None;
                }
                Some(embedded)
                    if header_type(embedded, max_header).as_deref() == Some(SERVICE_TOKEN_TYPE) =>
                {
                    // The hop below was addressed to the service that embedded it.
                    expected_audience = level.issuer.clone();
                    holder = Some(level);
                }
                Some(embedded) => {
                    let Some(users) = &inner.users else {
                        return TokenErrorKind::InvalidIssuer.into();
                    };
                    break Some(verified_now!(users, embedded, true));
                }
            }
        };

        // No honest signer repeats a `jti` inside one chain: a level that does nested a
        // token it addressed to itself, or copied another's.
        if repeats_token_id(levels.iter().chain(user.as_ref())) {
            return TokenErrorKind::RepeatedTokenId.into();
        }

        // Every level against the one below it.
        let below = |i: usize| levels.get(i + 1).or(user.as_ref());
        for (i, level) in levels.iter().enumerate() {
            let Some(below) = below(i) else { continue };
            if level.subject != below.subject {
                return TokenErrorKind::SubjectMismatch.into();
            }
            if !level.scopes.iter().all(|s| below.scopes.contains(s)) {
                return TokenErrorKind::ScopeWidened.into();
            }
            if nested_actor(&level.claims) != below.claims.get("act") {
                return TokenErrorKind::ActorMismatch.into();
            }
        }

        let Some(received) = levels.first().cloned() else {
            return TokenErrorKind::Malformed.into();
        };
        let received_expires_at = received.expires_at;
        let mut shared_key = None;
        if let Some(guard) = &inner.replay {
            let Some(jti) = received.jwt_id.as_deref() else {
                return TokenErrorKind::MissingClaim {
                    claim: "jti".into(),
                }
                .into();
            };
            match guard {
                Guard::Local(guard) => match guard.first_use(jti, unix_time(received.expires_at)) {
                    Ok(true) => {}
                    Ok(false) => return TokenErrorKind::Replayed.into(),
                    Err(error) => {
                        return Now::Done(Err(TokenError::with_source(
                            TokenErrorKind::ReplayGuardUnavailable,
                            error,
                        )));
                    }
                },
                Guard::Shared(_) => shared_key = Some(replay_key(&received.issuer, jti)),
            }
        }
        let expires_at = levels
            .iter()
            .chain(user.as_ref())
            .map(|l| l.expires_at)
            .min()
            .unwrap_or(received.expires_at);
        let actors = levels.iter().rev().map(|l| l.issuer.clone()).collect();
        let bound_peer = inner.bind_to_peer.then(|| received.issuer.clone());
        let now = unix_now();
        let valid_already = levels
            .iter()
            .chain(user.as_ref())
            .all(|l| l.not_before.is_none_or(|nbf| nbf <= now));
        let innermost = user.unwrap_or_else(|| Arc::clone(levels.last().unwrap_or(&received)));
        let principal = Principal::through_services(
            innermost,
            ServiceChain {
                received,
                actors,
                expires_at,
                bound_peer,
            },
        );
        if let Some(chains) = &inner.chains
            && valid_already
        {
            chains.insert(&principal, expires_at, generations, now);
        }
        match shared_key {
            None => Now::Done(Ok(principal)),
            Some(key) => Now::NeedsFirstUse(FirstUse {
                key,
                expires_at: received_expires_at,
                principal,
            }),
        }
    }
}

/// Whether two levels of a chain carry the same `jti` (levels without one are passed over).
fn repeats_token_id<'a>(levels: impl Iterator<Item = &'a Arc<VerifiedToken>>) -> bool {
    let mut seen: Vec<&str> = Vec::with_capacity(DEFAULT_MAX_DEPTH + 1);
    for jti in levels.filter_map(|level| level.jwt_id.as_deref()) {
        if seen.contains(&jti) {
            return true;
        }
        seen.push(jti);
    }
    false
}

/// The `subject_token` claim: absent, or a string.
fn subject_token(claims: &Map<String, Value>) -> Result<Option<&str>, TokenErrorKind> {
    match claims.get("subject_token") {
        None => Ok(None),
        Some(Value::String(token)) => Ok(Some(token)),
        Some(_) => Err(TokenErrorKind::InvalidClaim {
            claim: "subject_token".into(),
        }),
    }
}

/// Checks that `act` is an object naming the level's issuer.
fn actor_of(level: &VerifiedToken) -> Result<(), TokenErrorKind> {
    match level.claims.get("act") {
        None => Err(TokenErrorKind::MissingClaim {
            claim: "act".into(),
        }),
        Some(Value::Object(act)) => match act.get("sub") {
            Some(Value::String(sub)) if *sub == level.issuer => Ok(()),
            Some(Value::String(_)) => Err(TokenErrorKind::ActorMismatch),
            _ => Err(TokenErrorKind::InvalidClaim {
                claim: "act".into(),
            }),
        },
        Some(_) => Err(TokenErrorKind::InvalidClaim {
            claim: "act".into(),
        }),
    }
}

/// The actors before this level: `act.act`.
fn nested_actor(claims: &Map<String, Value>) -> Option<&Value> {
    claims.get("act").and_then(|act| act.get("act"))
}

/// The asynchronous finish of a check that waits for keys.
type Finish = Pin<Box<dyn Future<Output = Result<Principal, TokenError>> + Send + 'static>>;

impl crate::jwt::verifier::sealed::Sealed for ServiceTokenVerifier {}

impl Verifier for ServiceTokenVerifier {
    type Future = Finish;

    fn attempt(&self, token: &str) -> Answer<Result<Principal, TokenError>, Self::Future> {
        match self.check_now(token) {
            Now::Done(result) => Answer::Now(result),
            Now::NeedsFirstUse(pending) => {
                let this = self.clone();
                Answer::Later(Box::pin(async move { this.first_use(pending).await }))
            }
            Now::NeedsKeys { .. } => {
                let this = self.clone();
                let token = token.to_owned();
                Answer::Later(Box::pin(
                    async move { this.check_with_fetches(&token).await },
                ))
            }
        }
    }

    fn cached(&self, token: &[u8]) -> Option<Principal> {
        let inner = &*self.inner;
        if let Some(chains) = &inner.chains
            && let Some(principal) = chains.get(token, unix_now(), self.generations())
        {
            return Some(principal);
        }
        match (&inner.users, inner.users_directly) {
            (Some(users), true) => users.cached(token),
            _ => None,
        }
    }

    fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    fn record_rejection(&self, error: &TokenError) {
        self.inner.services.record_rejection(error);
    }
}

impl fmt::Debug for ServiceTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTokenVerifier")
            .field("identity", &self.inner.identity)
            .field("services", &self.inner.services)
            .field("users", &self.inner.users)
            .field("max_depth", &self.inner.max_depth)
            .field("bind_to_peer", &self.inner.bind_to_peer)
            .field("replay_guard", &self.inner.replay.is_some())
            .finish()
    }
}

/// Configures a [`ServiceTokenVerifier`]; made by [`ServiceTokenVerifier::builder`].
#[must_use]
pub struct ServiceTokenVerifierBuilder {
    identity: String,
    services: Vec<(String, KeySource)>,
    users: Option<Validator>,
    users_directly: bool,
    max_depth: usize,
    max_token_len: usize,
    bind_to_peer: bool,
    replay: Option<Guard>,
    leeway: Duration,
    cache_capacity: u64,
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
    /// `keys`: its [`JwksPublisher`](super::JwksPublisher) through
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
