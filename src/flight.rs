//! One piece of work at a time per key: callers that ask for the same key while it runs
//! wait for it and share its result. Introspection (one request to the endpoint per token)
//! and the token exchange (one exchange per subject token and audience) use it.
//!
//! (The JWKS refresh has a single flight of its own: its fetch runs on a task of its own,
//! so that a caller that gives up does not cancel it for the others, and it reports
//! through a `watch` channel every caller can read without a lock.)

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// The work in progress, by key.
pub(crate) struct SingleFlight<K, V> {
    flights: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `work` for `key`, or waits for the run already in progress for it; either way
    /// answers a clone of its result. A caller that gives up leaves the work to the next
    /// one that waits.
    pub(crate) async fn run<F, W>(&self, key: K, work: W) -> V
    where
        W: FnOnce() -> F,
        F: Future<Output = V>,
    {
        let flight = Arc::clone(self.lock().entry(key.clone()).or_default());
        let result = flight.get_or_init(work).await.clone();
        // The next caller after this one starts afresh (a failure is not remembered here).
        let mut flights = self.lock();
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&key);
        }
        result
    }

    /// How many keys have work in progress.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, V> fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_later_ones_start_afresh() {
        let flights = Arc::new(SingleFlight::<&str, usize>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (flights, runs) = (Arc::clone(&flights), Arc::clone(&runs));
            tasks.push(tokio::spawn(async move {
                flights
                    .run("k", || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1, "every caller shares the first run");
        }
        assert_eq!(flights.in_flight(), 0, "nothing is left behind");
        let again = flights.run("k", || async { 7 }).await;
        assert_eq!(again, 7, "a later caller runs the work again");
        let other = flights.run("other", || async { 8 }).await;
        assert_eq!(other, 8);
    }
}
