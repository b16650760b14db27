//! The check [`QuotaLayer`](super::QuotaLayer) runs on every request: find its key, take a
//! request's worth from its bucket in the store, then pass it on or refuse it. It is the
//! layer's [gate](crate::gate): a store in memory decides at once (no future, no
//! allocation); a remote one is waited for in [`Gated`]'s response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::request::Parts;

use super::error::{QuotaError, QuotaErrorKind};
use super::gcra;
use super::key::QuotaKey;
use crate::audit::{self, Layer};
use crate::gate::{Answer, Gate, Gated, Started};
use crate::principal::Principal;
use crate::rejection::Rejection;
use crate::state::{SharedState, StateError, StateErrorKind, StateNow, Swap};

/// How many times a bucket another instance changed meanwhile is read again before the
/// store counts as unavailable.
const MAX_ATTEMPTS: usize = 8;

/// What the quota decided for one request.
#[non_exhaustive]
pub enum Decision {
    /// Within the quota.
    Within,
    /// The store could not answer and the layer fails open.
    Unchecked,
    /// Refused.
    Refused(QuotaError),
}

impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Within => f.write_str("Within"),
            Self::Unchecked => f.write_str("Unchecked"),
            Self::Refused(error) => f.debug_tuple("Refused").field(error).finish(),
        }
    }
}

/// A decision that waits for a remote store.
pub type PendingDecision = Pin<Box<dyn Future<Output = Decision> + Send>>;

/// What to do with a request when the quota store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailMode {
    /// Refuse it: 503, gRPC 14 (the default).
    #[default]
    Closed,
    /// Let it through, unlimited, with a warning (at most one a second).
    Open,
}

/// The [gate](crate::gate) of a [`QuotaLayer`](super::QuotaLayer): the quota, the key, the store, and the check
/// (`service.rs`) it runs on every request.
pub struct QuotaGate {
    pub(crate) quota: governor::Quota,
    pub(crate) key: QuotaKey,
    pub(crate) store: Arc<dyn SharedState>,
    pub(crate) fail: FailMode,
    /// The second of the last warning that the store cannot answer.
    pub(crate) warned: Arc<AtomicU64>,
}

impl fmt::Debug for QuotaGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self;
        f.debug_struct("QuotaGate")
            .field("replenish_interval", &shared.quota.replenish_interval())
            .field("burst", &shared.quota.burst_size())
            .field("key", &shared.key)
            .field("store", &shared.store.name())
            .field("fail", &shared.fail)
            .finish_non_exhaustive()
    }
}

/// The service made by [`QuotaLayer`](super::QuotaLayer): its gate over the inner service.
pub type Quota<S, R> = Gated<S, QuotaGate, R>;

/// The response future of [`Quota`]: the one future of every gate.
pub type ResponseFuture<S, ReqBody, R> = crate::gate::ResponseFuture<S, ReqBody, QuotaGate, R>;

impl Gate for QuotaGate {
    type Wait = PendingDecision;

    fn check(
        &self,
        head: &mut Parts,
        started: Started,
    ) -> Answer<Result<(), Rejection>, PendingDecision> {
        let key = self
            .key
            .store_key(head.extensions.get::<Principal>(), &head.headers);
        match self.store.now() {
            // A store in memory answers at once: decided here, with nothing to wait for.
            Some(store) => {
                let decided = decision(self, take_now(self.quota, store, &key));
                Answer::Now(self.conclude(decided, head, started))
            }
            None => {
                let store = Arc::clone(&self.store);
                let (quota, fail) = (self.quota, self.fail);
                let warned = Arc::clone(&self.warned);
                Answer::Later(Box::pin(async move {
                    let taken = take(quota, &*store, &key).await;
                    decide_taken(taken, store.name(), fail, &warned)
                }))
            }
        }
    }

    /// The end of every request's path, decided at once or after a wait.
    fn conclude(
        &self,
        decided: Decision,
        head: &mut Parts,
        started: Started,
    ) -> Result<(), Rejection> {
        let principal = head.extensions.get::<Principal>();
        let reason = match decided {
            Decision::Within => "within_quota",
            Decision::Unchecked => "quota_unchecked",
            Decision::Refused(error) => {
                let rejection = Rejection::from(error);
                audit::record(
                    Layer::Quota,
                    head,
                    principal,
                    audit::Outcome::Deny(&rejection),
                    started,
                );
                return Err(rejection);
            }
        };
        audit::record(
            Layer::Quota,
            head,
            principal,
            audit::Outcome::Allow(reason),
            started,
        );
        Ok(())
    }
}

/// What the store's answer means for the request.
fn decision(gate: &QuotaGate, taken: Result<Result<(), Duration>, StateError>) -> Decision {
    decide_taken(taken, gate.store.name(), gate.fail, &gate.warned)
}

fn decide_taken(
    taken: Result<Result<(), Duration>, StateError>,
    store: &'static str,
    fail: FailMode,
    warned: &std::sync::atomic::AtomicU64,
) -> Decision {
    match taken {
        Ok(Ok(())) => Decision::Within,
        Ok(Err(retry_after)) => Decision::Refused(QuotaErrorKind::Exceeded { retry_after }.into()),
        Err(error) => {
            warn_at_most_once_a_second(store, fail, warned, &error);
            match fail {
                FailMode::Open => Decision::Unchecked,
                FailMode::Closed => Decision::Refused(QuotaError::with_source(
                    QuotaErrorKind::StoreUnavailable,
                    error,
                )),
            }
        }
    }
}

/// What one round of the compare-and-set loop does with the bucket it read.
enum Round {
    /// Over the quota: wait this long.
    Wait(Duration),
    /// Write this arrival time, to expire after this long.
    Write(u64, Duration),
}

fn round(quota: governor::Quota, current: Option<u64>, now: u64) -> Round {
    match gcra::decide(quota, current, now) {
        Err(wait) => Round::Wait(wait),
        // Once its arrival time has passed, a bucket is as good as absent.
        Ok(next) => Round::Write(
            next,
            Duration::from_nanos(next.saturating_sub(now)).max(Duration::from_millis(1)),
        ),
    }
}

/// [`take`] on a store that answers at once.
fn take_now(
    quota: governor::Quota,
    store: &dyn StateNow,
    key: &str,
) -> Result<Result<(), Duration>, StateError> {
    let now = unix_nanos();
    let mut current = store.get_now(key);
    for _ in 0..MAX_ATTEMPTS {
        match round(quota, current, now) {
            Round::Wait(wait) => return Ok(Err(wait)),
            Round::Write(next, ttl) => match store.compare_and_set_now(key, current, next, ttl) {
                Swap::Done => return Ok(Ok(())),
                Swap::Conflict(seen) => current = seen,
            },
        }
    }
    Err(StateErrorKind::Unavailable.into())
}

/// Governor's decision on the bucket as the store holds it, written back only if no other
/// instance changed it meanwhile (else decided again on what that one wrote).
async fn take(
    quota: governor::Quota,
    store: &dyn crate::state::SharedState,
    key: &str,
) -> Result<Result<(), Duration>, StateError> {
    let now = unix_nanos();
    let mut current = store.get(key).await?;
    for _ in 0..MAX_ATTEMPTS {
        match round(quota, current, now) {
            Round::Wait(wait) => return Ok(Err(wait)),
            Round::Write(next, ttl) => {
                match store.compare_and_set(key, current, next, ttl).await? {
                    Swap::Done => return Ok(Ok(())),
                    Swap::Conflict(seen) => current = seen,
                }
            }
        }
    }
    Err(StateErrorKind::Unavailable.into())
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn warn_at_most_once_a_second(
    store: &'static str,
    fail: FailMode,
    warned: &std::sync::atomic::AtomicU64,
    error: &StateError,
) {
    let second = unix_nanos() / 1_000_000_000;
    if warned.swap(second, Ordering::Relaxed) != second {
        tracing::warn!(
            target: "meshward::quota",
            store,
            error = %error,
            fail = ?fail,
            "the quota store cannot answer"
        );
    }
}
