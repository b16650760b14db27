//! The path of one request through [`QuotaLayer`](super::QuotaLayer): find its key, take a
//! request's worth from its bucket in the store, then pass it on or refuse it. An in-memory
//! store decides at once; a remote one is waited for by [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use tower_service::Service;

use super::error::{QuotaError, QuotaErrorKind};
use super::future::ResponseFuture;
use super::gcra;
use super::layer::{Config, FailMode, Shared};
use crate::audit::{self, Layer, Started};
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionResponse, pass_on_challenge, respond};
use crate::state::{StateError, StateErrorKind, Swap};

/// How many times a bucket another instance changed meanwhile is read again before the
/// store counts as unavailable.
const MAX_ATTEMPTS: usize = 8;

/// What the quota decided for one request.
pub(crate) enum Decision {
    /// Within the quota.
    Within,
    /// The store could not answer and the layer fails open.
    Unchecked,
    /// Refused.
    Refused(QuotaError),
}

/// A decision that waits for the store.
pub(crate) type PendingDecision = Pin<Box<dyn Future<Output = Decision> + Send>>;

/// The service made by [`QuotaLayer`](super::QuotaLayer).
pub struct Quota<S, R> {
    inner: S,
    config: Config,
    responder: R,
}

impl<S: Clone, R: Clone> Clone for Quota<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            responder: self.responder.clone(),
        }
    }
}

impl<S, R> Quota<S, R> {
    pub(crate) fn new(inner: S, config: Config, responder: R) -> Self {
        Self {
            inner,
            config,
            responder,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Quota<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
    R: RejectionResponse<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Started::now();
        let shared = &self.config.shared;
        let key = shared
            .key
            .store_key(request.extensions().get::<Principal>(), request.headers());
        let mut decision: PendingDecision = Box::pin(decide(Arc::clone(shared), key));
        // A store in memory answers at once: decide here, with no clone of the inner
        // service and no wait. (The future is polled again, with the real waker, if not.)
        let mut cx = Context::from_waker(Waker::noop());
        match decision.as_mut().poll(&mut cx) {
            Poll::Ready(decided) => {
                match conclude(&self.config, &self.responder, decided, request, started) {
                    Ok(request) => ResponseFuture::inner(self.inner.call(request)),
                    Err(response) => ResponseFuture::rejected(response),
                }
            }
            Poll::Pending => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::deciding(
                    decision,
                    service,
                    request,
                    self.responder.clone(),
                    self.config.clone(),
                    started,
                )
            }
        }
    }
}

/// Takes one request's worth from the bucket under `key`.
async fn decide(shared: Arc<Shared>, key: String) -> Decision {
    match take(&shared, &key).await {
        Ok(Ok(())) => Decision::Within,
        Ok(Err(retry_after)) => Decision::Refused(QuotaErrorKind::Exceeded { retry_after }.into()),
        Err(error) => {
            warn_at_most_once_a_second(&shared, &error);
            match shared.fail {
                FailMode::Open => Decision::Unchecked,
                FailMode::Closed => Decision::Refused(QuotaError::with_source(
                    QuotaErrorKind::StoreUnavailable,
                    error,
                )),
            }
        }
    }
}

/// Governor's decision on the bucket as the store holds it, written back only if no other
/// instance changed it meanwhile (else decided again on what that one wrote).
async fn take(shared: &Shared, key: &str) -> Result<Result<(), Duration>, StateError> {
    let now = unix_nanos();
    let mut current = shared.store.get(key).await?;
    for _ in 0..MAX_ATTEMPTS {
        let next = match gcra::decide(shared.quota, current, now) {
            Ok(next) => next,
            Err(wait) => return Ok(Err(wait)),
        };
        // Once its arrival time has passed, a bucket is as good as absent.
        let ttl = Duration::from_nanos(next.saturating_sub(now)).max(Duration::from_millis(1));
        match shared
            .store
            .compare_and_set(key, current, next, ttl)
            .await?
        {
            Swap::Done => return Ok(Ok(())),
            Swap::Conflict(seen) => current = seen,
        }
    }
    Err(StateErrorKind::Unavailable.into())
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn warn_at_most_once_a_second(shared: &Shared, error: &StateError) {
    let second = unix_nanos() / 1_000_000_000;
    if shared.warned.swap(second, Ordering::Relaxed) != second {
        tracing::warn!(
            target: "meshward::quota",
            store = shared.store.name(),
            error = %error,
            fail = ?shared.fail,
            "the quota store cannot answer"
        );
    }
}

/// The end of every request's path, decided at once or after a wait: `Ok` is the request
/// to pass on, `Err` the answer to a refused one.
pub(crate) fn conclude<R, ReqBody, ResBody>(
    _config: &Config,
    responder: &R,
    decided: Decision,
    mut request: Request<ReqBody>,
    started: Started,
) -> Result<Request<ReqBody>, Response<ResBody>>
where
    R: RejectionResponse<ResBody>,
{
    let principal = request.extensions().get::<Principal>();
    let reason = match decided {
        Decision::Within => "within_quota",
        Decision::Unchecked => "quota_unchecked",
        Decision::Refused(error) => {
            let rejection = Rejection::from(error);
            audit::record(
                Layer::Quota,
                &request,
                principal,
                audit::Outcome::Deny(&rejection),
                started,
            );
            return Err(respond(responder, rejection, request));
        }
    };
    audit::record(
        Layer::Quota,
        &request,
        principal,
        audit::Outcome::Allow(reason),
        started,
    );
    pass_on_challenge(responder, request.extensions_mut());
    Ok(request)
}

impl<S: fmt::Debug, R> fmt::Debug for Quota<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("inner", &self.inner)
            .field("store", &self.config.shared.store.name())
            .finish_non_exhaustive()
    }
}
