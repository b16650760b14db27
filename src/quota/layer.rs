use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tower_layer::Layer;

use super::error::{QuotaConfigError, QuotaConfigErrorKind};
use super::key::QuotaKey;
use super::service::{FailMode, Quota, QuotaGate};
use crate::gate::{Gated, IntoGate};
use crate::rejection::DefaultRejectionResponse;
use crate::state::{InMemoryState, SharedState};

/// Limits each principal to a quota of requests: governor's GCRA (a rate, and a burst on
/// top of it), with the buckets in a [`SharedState`]: this process's memory by default, or
/// a store shared by every instance of the service ([`RedisState`](crate::state::RedisState)).
///
/// Put it after [`AuthLayer`](crate::jwt::AuthLayer): it counts each request against the
/// [`QuotaKey`] of its [`Principal`](crate::Principal). A request over the quota gets 429
/// with `Retry-After` (gRPC `RESOURCE_EXHAUSTED`, 8); when the store cannot answer, 503
/// (gRPC 14) unless the limit [fails open](LimitBuilder::fail_open).
///
/// ```
/// use std::time::Duration;
/// use meshward::quota::{Limit, QuotaKey, QuotaLayer};
///
/// // 10 requests a second per subject, bursts of up to 20.
/// let limit = Limit::builder()
///     .requests(10, Duration::from_secs(1))
///     .burst(20)
///     .key(QuotaKey::Subject)
///     .build()?;
/// let layer = QuotaLayer::new(limit);
/// # Ok::<(), meshward::quota::QuotaConfigError>(())
/// ```
///
/// # Memory
///
/// The in-memory store keeps at most [`InMemoryState::DEFAULT_CAPACITY`] buckets (see
/// [`LimitBuilder::max_keys`]), forgetting the least recently used: a client cycling
/// subjects cannot grow it, and a forgotten bucket is a full one.
#[must_use]
pub struct QuotaLayer<R = DefaultRejectionResponse> {
    config: Arc<QuotaGate>,
    responder: R,
}

impl<R: Clone> Clone for QuotaLayer<R> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            responder: self.responder.clone(),
        }
    }
}

/// What a [`QuotaLayer`] enforces: the rate and burst, whose quota a request counts
/// against, where the buckets are kept, and what happens when that store cannot answer.
/// Made by [`Limit::builder`]; cloning is cheap.
#[derive(Clone)]
#[must_use]
pub struct Limit {
    gate: Arc<QuotaGate>,
}

/// Builds a [`Limit`].
#[must_use]
pub struct LimitBuilder {
    requests: u32,
    period: Duration,
    burst: Option<u32>,
    key: QuotaKey,
    store: Option<Arc<dyn SharedState>>,
    max_keys: u64,
    fail: FailMode,
}

impl QuotaLayer {
    /// Enforces `limit`.
    pub fn new(limit: Limit) -> Self {
        Self {
            config: limit.gate,
            responder: DefaultRejectionResponse::default(),
        }
    }
}

impl Limit {
    /// A builder: 10 requests a second per subject unless told otherwise.
    pub fn builder() -> LimitBuilder {
        LimitBuilder {
            requests: 10,
            period: Duration::from_secs(1),
            burst: None,
            key: QuotaKey::Subject,
            store: None,
            max_keys: InMemoryState::DEFAULT_CAPACITY,
            fail: FailMode::Closed,
        }
    }
}

impl<R> QuotaLayer<R> {
    /// Answers refusals with `responder`.
    pub fn with_rejection_response<R2>(self, responder: R2) -> QuotaLayer<R2> {
        QuotaLayer {
            config: self.config,
            responder,
        }
    }
}

impl LimitBuilder {
    /// `count` requests per `period`, spread evenly: one every `period / count` (default 10
    /// per second).
    pub fn requests(mut self, count: u32, period: Duration) -> Self {
        self.requests = count;
        self.period = period;
        self
    }

    /// How many requests may come at once, beyond the steady rate (default: `count`, one
    /// period's worth).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Whose quota a request counts against (default: the subject's).
    pub fn key(mut self, key: QuotaKey) -> Self {
        self.key = key;
        self
    }

    /// Keeps the buckets in `store`, shared by every instance that uses the same store
    /// (default: this process's memory).
    pub fn state(mut self, store: impl SharedState) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The number of buckets the default in-memory store keeps (default 100 000).
    pub fn max_keys(mut self, max: u64) -> Self {
        self.max_keys = max;
        self
    }

    /// Lets requests through, unlimited, when the store cannot answer, with a warning at
    /// most once a second (default: refuse them, 503).
    ///
    /// # Security
    ///
    /// While the store is down, nothing is limited.
    pub fn fail_open(mut self) -> Self {
        self.fail = FailMode::Open;
        self
    }

    /// The limit.
    ///
    /// # Errors
    ///
    /// [`QuotaConfigErrorKind::InvalidLimit`] for a count, burst or period of zero, or a
    /// period too short to give each request a nanosecond.
    pub fn build(self) -> Result<Limit, QuotaConfigError> {
        let invalid = |what| QuotaConfigError::from(QuotaConfigErrorKind::InvalidLimit { what });
        let count = NonZeroU32::new(self.requests).ok_or_else(|| invalid("zero requests"))?;
        let burst = NonZeroU32::new(self.burst.unwrap_or(self.requests))
            .ok_or_else(|| invalid("a burst of zero"))?;
        if self.max_keys == 0 {
            return Err(invalid("room for no key"));
        }
        let interval = self.period / count.get();
        let quota = governor::Quota::with_period(interval)
            .ok_or_else(|| invalid("a period too short for the count"))?
            .allow_burst(burst);
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(InMemoryState::new(self.max_keys)));
        if self.fail == FailMode::Open {
            tracing::warn!(
                target: "meshward::quota",
                store = store.name(),
                "the quota fails open: nothing is limited while its store is down"
            );
        }
        Ok(Limit {
            gate: Arc::new(QuotaGate {
                quota,
                key: self.key,
                store,
                fail: self.fail,
                warned: Arc::new(AtomicU64::new(0)),
            }),
        })
    }
}

impl fmt::Debug for LimitBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitBuilder")
            .field("requests", &self.requests)
            .field("period", &self.period)
            .field("burst", &self.burst)
            .field("key", &self.key)
            .field("store", &self.store.as_ref().map(|s| s.name()))
            .field("fail", &self.fail)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Limit").field(&self.gate).finish()
    }
}

impl<R> fmt::Debug for QuotaLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("QuotaLayer").field(&self.config).finish()
    }
}

impl<S, R: Clone> Layer<S> for QuotaLayer<R> {
    type Service = Quota<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(inner, Arc::clone(&self.config), self.responder.clone())
    }
}

impl<R> IntoGate for QuotaLayer<R> {
    type Gate = QuotaGate;

    fn into_gate(self) -> Arc<QuotaGate> {
        self.config
    }
}
