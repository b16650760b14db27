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
use crate::jwt::{TokenError, TokenErrorKind, Validator, Verifier};
use crate::principal::{Principal, VerifiedToken, unix_now, unix_time};
use crate::state::{Guard, first_use_shared};

mod builder;
mod check;

pub use self::builder::ServiceTokenVerifierBuilder;

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
fn verified_now(validator: &Validator, token: &str, user: bool) -> Result<Arc<VerifiedToken>, Now> {
    match validator.try_now(token) {
        Some(Ok(verified)) => Ok(verified),
        Some(Err(error)) => Err(error.into()),
        None => Err(Now::NeedsKeys {
            user,
            token: token.to_owned(),
        }),
    }
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
