//! [`SharedState`] on Redis: `GET`, and compare-and-set as one Lua script (atomic on the
//! server), over one multiplexed connection that reconnects by itself.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{SharedState, StateError, StateErrorKind, StateFuture, Swap};

/// Sets KEYS[1] to ARGV[2] with a TTL of ARGV[3] ms when it holds ARGV[1] ('' = absent);
/// answers {1} when it did, {0, current} when it did not ('' = absent).
const COMPARE_AND_SET: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return {1, ''}
end
return {0, current}
";

/// Default time an operation may take before it counts as failed.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// A [`SharedState`] on a Redis server (or anything speaking its protocol: Valkey, KeyDB),
/// shared by every instance that points at it with the same key prefix.
///
/// One multiplexed connection carries every operation (commands are pipelined on it, so
/// it serves many requests at once); it is opened on first use and reopened after a
/// failure. Every operation is bounded by a timeout: a store that is down or slow answers
/// [`StateErrorKind::Timeout`] or [`StateErrorKind::Unavailable`], and the layer using it
/// decides what that means (the quota layer by its fail mode, the replay guard by refusing).
///
/// ```no_run
/// use std::time::Duration;
/// use meshward::state::RedisState;
///
/// let state = RedisState::builder("redis://127.0.0.1:6379/")
///     .key_prefix("orders:")
///     .timeout(Duration::from_millis(100))
///     .build()?;
/// # Ok::<(), meshward::state::StateError>(())
/// ```
#[derive(Clone)]
pub struct RedisState {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

/// Builds a [`RedisState`].
#[derive(Debug, Clone)]
pub struct RedisStateBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

impl RedisState {
    /// A builder for the server at `url` (`redis://host:port/db`, `redis+unix:///path`).
    pub fn builder(url: impl Into<String>) -> RedisStateBuilder {
        RedisStateBuilder {
            url: url.into(),
            prefix: "meshward:".to_owned(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

impl RedisStateBuilder {
    /// Prepended to every key (default `meshward:`), so that several services or
    /// deployments can share one server.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one operation (connecting included) may take (default 250 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the address and prepares the connection; it is opened on first use, so a
    /// server that is down now does not stop the service from starting.
    ///
    /// # Errors
    ///
    /// [`StateErrorKind::InvalidConfig`] for an address that is not a Redis URL or a
    /// timeout of zero.
    pub fn build(self) -> Result<RedisState, StateError> {
        if self.timeout.is_zero() {
            return Err(StateErrorKind::InvalidConfig {
                reason: "the timeout must not be zero",
            }
            .into());
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|e| {
            StateError::with_source(
                StateErrorKind::InvalidConfig {
                    reason: "not a Redis URL",
                },
                e,
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            StateError::with_source(
                StateErrorKind::InvalidConfig {
                    reason: "cannot prepare the connection",
                },
                e,
            )
        })?;
        Ok(RedisState {
            inner: Arc::new(Inner {
                connection,
                script: redis::Script::new(COMPARE_AND_SET),
                prefix: self.prefix,
                timeout: self.timeout,
            }),
        })
    }
}

impl Inner {
    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }
}

/// Runs `operation` within the timeout, mapping Redis' errors to ours.
async fn bounded<T>(
    timeout: Duration,
    operation: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, StateError> {
    match tokio::time::timeout(timeout, operation).await {
        Err(_) => Err(StateErrorKind::Timeout.into()),
        Ok(Err(e)) if e.is_timeout() => Err(StateError::with_source(StateErrorKind::Timeout, e)),
        Ok(Err(e)) => Err(StateError::with_source(StateErrorKind::Unavailable, e)),
        Ok(Ok(value)) => Ok(value),
    }
}

fn parse(value: Option<String>) -> Result<Option<u64>, StateError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| StateErrorKind::UnexpectedValue.into()),
    }
}

impl SharedState for RedisState {
    fn get(&self, key: &str) -> StateFuture<Option<u64>> {
        let inner = Arc::clone(&self.inner);
        let key = inner.key(key);
        Box::pin(async move {
            let mut connection = inner.connection.clone();
            let value: Option<String> = bounded(
                inner.timeout,
                redis::cmd("GET").arg(&key).query_async(&mut connection),
            )
            .await?;
            parse(value)
        })
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl: Duration,
    ) -> StateFuture<Swap> {
        let inner = Arc::clone(&self.inner);
        let key = inner.key(key);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        Box::pin(async move {
            let mut connection = inner.connection.clone();
            let expected = expected.map(|v| v.to_string()).unwrap_or_default();
            let (done, current): (i64, String) = bounded(
                inner.timeout,
                inner
                    .script
                    .key(&key)
                    .arg(expected)
                    .arg(new)
                    .arg(ttl_ms)
                    .invoke_async(&mut connection),
            )
            .await?;
            if done == 1 {
                Ok(Swap::Done)
            } else {
                parse(Some(current)).map(Swap::Conflict)
            }
        })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisState")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_ours_or_refused() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some(String::new())).unwrap(), None);
        assert_eq!(parse(Some("42".into())).unwrap(), Some(42));
        for garbage in ["-1", "x", "1.5", "18446744073709551616"] {
            assert_eq!(
                parse(Some(garbage.into())).unwrap_err().kind(),
                &StateErrorKind::UnexpectedValue
            );
        }
    }

    #[test]
    fn the_builder_refuses_what_cannot_work() {
        assert!(matches!(
            RedisState::builder("http://127.0.0.1/")
                .build()
                .unwrap_err()
                .kind(),
            StateErrorKind::InvalidConfig { .. }
        ));
        assert!(matches!(
            RedisState::builder("redis://127.0.0.1/")
                .timeout(Duration::ZERO)
                .build()
                .unwrap_err()
                .kind(),
            StateErrorKind::InvalidConfig { .. }
        ));
    }
}
