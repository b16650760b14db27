//! One decision of governor's GCRA on a bucket read from a store: the algorithm is
//! governor's, the state (the bucket's theoretical arrival time, in Unix nanoseconds) is the
//! store's, so every instance sharing the store shares the bucket.

use std::cell::Cell;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

/// A clock stopped at the request's instant: the limiter starts and decides at that one
/// instant, so governor's times are offsets from it.
#[derive(Clone, Copy)]
struct Stopped;

impl Clock for Stopped {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(0)
    }
}

/// The bucket as read, and as governor would leave it.
struct Bucket {
    read: Option<Nanos>,
    written: Cell<Option<Nanos>>,
}

impl StateStore for Bucket {
    type Key = NotKeyed;

    fn measure_and_replace<T, F, E>(&self, _: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let (outcome, written) = f(self.read)?;
        self.written.set(Some(written));
        Ok(outcome)
    }
}

/// Lets a request through a bucket whose arrival time is `stored` (Unix nanoseconds;
/// `None`: an untouched bucket), at `now`: `Ok` with the arrival time to store, or `Err`
/// with how long until a request would be let through.
pub(super) fn decide(quota: Quota, stored: Option<u64>, now: u64) -> Result<u64, Duration> {
    // Relative to now: an arrival time in the past is a full bucket, as one never touched.
    let read = stored.map(|at| Nanos::from(at.saturating_sub(now)));
    let limiter = RateLimiter::<NotKeyed, Bucket, Stopped, NoOpMiddleware<Nanos>>::new(
        quota,
        Bucket {
            read,
            written: Cell::new(None),
        },
        Stopped,
    );
    match limiter.check() {
        Ok(()) => {
            let written = limiter.into_state_store().written.get();
            Ok(now.saturating_add(written.map_or(0, Nanos::as_u64)))
        }
        Err(not_until) => Err(not_until.wait_time_from(Nanos::from(0))),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_one_per_period() {
        // 2 per second, burst 3.
        let quota =
            Quota::per_second(NonZeroU32::new(2).unwrap()).allow_burst(NonZeroU32::new(3).unwrap());
        let now = 1_000 * SECOND;
        let mut stored = None;
        for _ in 0..3 {
            stored = Some(decide(quota, stored, now).unwrap());
        }
        let wait = decide(quota, stored, now).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later, one more; then none.
        let later = now + SECOND / 2;
        stored = Some(decide(quota, stored, later).unwrap());
        assert!(decide(quota, stored, later).is_err());
        // A bucket left alone for long is full again, as an untouched one.
        let much_later = now + 60 * SECOND;
        assert_eq!(
            decide(quota, stored, much_later),
            decide(quota, None, much_later)
        );
    }
}
