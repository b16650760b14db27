//! The lifecycle of a remote key set: lock-free reads, single-flight fetches, refresh on an
//! unknown `kid` behind a cooldown and a negative cache, refresh-ahead in the background,
//! and stale-if-error.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwapOption, Guard};
use reqwest::{Client, Url};
use tokio::sync::{Notify, watch};

use super::error::{KeySourceError, KeySourceErrorKind};
use super::{discovery, fetch};
use crate::jwt::cache::TokenCache;
use crate::jwt::keys::{KeySet, parse_jwks};

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    Jwks(Url),
    Discovery { issuer: String, url: Url },
}

/// Settings of one remote key source.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) allow_http: bool,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) max_keys: usize,
    pub(crate) cooldown: Duration,
    pub(crate) failure_backoff: Duration,
    pub(crate) min_refresh: Duration,
    pub(crate) max_refresh: Duration,
    pub(crate) default_refresh: Duration,
    pub(crate) stale_if_error: Duration,
}

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Nothing usable is loaded.
    Cold,
    /// A token names a `kid` the loaded set lacks.
    UnknownKid,
    /// The background task's schedule, or `warm_up`.
    Scheduled,
}

/// One loaded key set and its schedule.
pub(crate) struct Snapshot {
    pub(crate) keys: KeySet,
    fetched: SystemTime,
    refresh_at: Instant,
    serve_until: Instant,
}

impl Snapshot {
    pub(crate) fn usable(&self, now: Instant) -> bool {
        now < self.serve_until
    }
}

type Outcome = Option<Result<(), KeySourceError>>;

/// A remote JWKS, shared by every request of the validators that use it.
pub(crate) struct RemoteKeys {
    location: Location,
    settings: Settings,
    client: Client,
    snapshot: ArcSwapOption<Snapshot>,
    jwks_uri: ArcSwapOption<Url>,
    inflight: Mutex<Option<watch::Receiver<Outcome>>>,
    last_on_demand: Mutex<Option<Instant>>,
    last_failure: Mutex<Option<Instant>>,
    negative: moka::sync::Cache<String, ()>,
    refresher: AtomicBool,
    /// Wakes the background task when the schedule changes (a load, a failure).
    rescheduled: Arc<Notify>,
    /// Completed fetches; a request that saw generation `g` starts no fetch once it moved.
    generation: AtomicU64,
    fetches: AtomicU64,
    failures: AtomicU64,
    /// The verified-token caches to tell when a key stops being published, with the issuer
    /// each validator reads this set for.
    removal_watchers: Mutex<Vec<(String, Weak<TokenCache>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RemoteKeys {
    pub(crate) fn new(location: Location, settings: Settings, client: Client) -> Self {
        let negative = moka::sync::Cache::builder()
            .max_capacity(1024)
            .time_to_live(settings.cooldown.max(Duration::from_millis(1)))
            .build();
        Self {
            location,
            settings,
            client,
            snapshot: ArcSwapOption::empty(),
            jwks_uri: ArcSwapOption::empty(),
            inflight: Mutex::new(None),
            last_on_demand: Mutex::new(None),
            last_failure: Mutex::new(None),
            negative,
            refresher: AtomicBool::new(false),
            rescheduled: Arc::new(Notify::new()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            removal_watchers: Mutex::new(Vec::new()),
        }
    }

    /// Has `cache` drop `issuer`'s tokens verified with a key as soon as a fetch no longer
    /// finds it published.
    pub(crate) fn watch_removals(&self, issuer: &str, cache: &Arc<TokenCache>) {
        let mut watchers = lock(&self.removal_watchers);
        watchers.retain(|(_, cache)| cache.strong_count() > 0);
        watchers.push((issuer.to_owned(), Arc::downgrade(cache)));
    }

    pub(crate) fn location(&self) -> &Location {
        &self.location
    }

    /// The loaded set, without locking.
    pub(crate) fn load(&self) -> Guard<Option<Arc<Snapshot>>> {
        self.snapshot.load()
    }

    /// Test hook: a fetch completed (its outcome does not matter here).
    #[cfg(test)]
    pub(crate) fn complete_a_fetch(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// How many fetches have completed; read before [`load`](Self::load).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether an unknown `kid` may trigger a fetch now: not recently found missing, and the
    /// cooldown since the last on-demand fetch has passed.
    pub(crate) fn may_fetch_for(&self, kid: Option<&str>) -> bool {
        if kid.is_some_and(|kid| self.negative.contains_key(kid)) {
            return false;
        }
        lock(&self.last_on_demand).is_none_or(|at| at.elapsed() >= self.settings.cooldown)
    }

    /// Remembers that `kid` was still unknown after a fetch, for one cooldown.
    pub(crate) fn mark_unknown(&self, kid: Option<&str>) {
        if let Some(kid) = kid {
            self.negative.insert(kid.to_owned(), ());
        }
    }

    pub(crate) fn stats(&self) -> (u64, u64, usize, Option<SystemTime>) {
        let snapshot = self.snapshot.load();
        (
            self.fetches.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
            snapshot.as_ref().map_or(0, |s| s.keys.len()),
            snapshot.as_ref().map(|s| s.fetched),
        )
    }

    /// Fetches the key set, or joins the fetch already under way; waits at most the fetch
    /// timeout for it. No lock is held while waiting. `seen` is the generation the caller
    /// looked at: if a fetch completed since, there is nothing to start.
    pub(crate) async fn refresh(
        self: &Arc<Self>,
        reason: Reason,
        seen: Option<u64>,
    ) -> Result<(), KeySourceError> {
        self.ensure_refresher();
        let mut rx = {
            let mut inflight = lock(&self.inflight);
            match &*inflight {
                Some(rx) => rx.clone(),
                None if seen.is_some_and(|g| g != self.generation()) => return Ok(()),
                None => {
                    self.claim(reason)?;
                    let (tx, rx) = watch::channel(None);
                    *inflight = Some(rx.clone());
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        let outcome = this.fetch_and_store().await;
                        *lock(&this.inflight) = None;
                        let _ = tx.send(Some(outcome));
                    });
                    rx
                }
            }
        };
        let wait = rx.wait_for(Option::is_some);
        match tokio::time::timeout(self.settings.fetch_timeout, wait).await {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or(Ok(())),
            Ok(Err(_)) => Err(KeySourceErrorKind::Request.into()),
            Err(_) => Err(KeySourceErrorKind::Timeout {
                after: self.settings.fetch_timeout,
            }
            .into()),
        }
    }

    /// Applies the cooldown (unknown `kid`) or the back-off after a failure (cold start) to a
    /// fetch about to start.
    fn claim(&self, reason: Reason) -> Result<(), KeySourceError> {
        match reason {
            Reason::UnknownKid => {
                let mut last = lock(&self.last_on_demand);
                if last.is_some_and(|at| at.elapsed() < self.settings.cooldown) {
                    return Err(KeySourceErrorKind::CoolingDown.into());
                }
                *last = Some(Instant::now());
            }
            Reason::Cold => {
                let last = lock(&self.last_failure);
                if last.is_some_and(|at| at.elapsed() < self.settings.failure_backoff) {
                    return Err(KeySourceErrorKind::CoolingDown.into());
                }
            }
            Reason::Scheduled => {}
        }
        Ok(())
    }

    async fn fetch_and_store(&self) -> Result<(), KeySourceError> {
        let started = Instant::now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch().await;
        let elapsed = started.elapsed();
        let outcome = self.store(result, elapsed);
        self.generation.fetch_add(1, Ordering::Release);
        self.rescheduled.notify_one();
        outcome
    }

    fn store(
        &self,
        result: Result<(KeySet, Option<Duration>, Url, u16), KeySourceError>,
        elapsed: Duration,
    ) -> Result<(), KeySourceError> {
        match result {
            Ok((keys, max_age, url, status)) => {
                let ttl = max_age
                    .unwrap_or(self.settings.default_refresh)
                    .clamp(self.settings.min_refresh, self.settings.max_refresh);
                let now = Instant::now();
                let previous = self.snapshot.load_full();
                let (added, removed) = diff(previous.as_deref().map(|s| &s.keys), &keys);
                tracing::info!(
                    target: "meshward::jwks",
                    url = %url,
                    status,
                    duration_ms = elapsed.as_millis() as u64,
                    keys = keys.len(),
                    ?added,
                    ?removed,
                    refresh_in_s = ttl.as_secs(),
                    "key set fetched"
                );
                let removed_keys = previous
                    .as_deref()
                    .map(|p| p.keys.removed_in(&keys))
                    .unwrap_or_default();
                self.snapshot.store(Some(Arc::new(Snapshot {
                    keys,
                    fetched: SystemTime::now(),
                    // Refresh ahead: at nine tenths of the freshness lifetime.
                    refresh_at: now + ttl.mul_f64(0.9),
                    serve_until: now + ttl + self.settings.stale_if_error,
                })));
                // A key no longer published (rotated out, or pulled after a compromise):
                // the tokens it verified stop being served from the cache now.
                if !removed_keys.is_empty() {
                    for (issuer, cache) in lock(&self.removal_watchers).iter() {
                        if let Some(cache) = cache.upgrade() {
                            cache.drop_verified_by(issuer, &removed_keys);
                        }
                    }
                }
                self.negative.invalidate_all();
                *lock(&self.last_failure) = None;
                Ok(())
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                *lock(&self.last_failure) = Some(Instant::now());
                let snapshot = self.snapshot.load();
                match snapshot.as_deref() {
                    Some(s) if s.usable(Instant::now()) => tracing::warn!(
                        target: "meshward::jwks",
                        location = ?self.location,
                        %error,
                        duration_ms = elapsed.as_millis() as u64,
                        serving_stale_keys = s.keys.len(),
                        stale_for_s = s.serve_until.saturating_duration_since(Instant::now()).as_secs(),
                        "key set fetch failed; the last good key set keeps serving"
                    ),
                    _ => tracing::warn!(
                        target: "meshward::jwks",
                        location = ?self.location,
                        %error,
                        duration_ms = elapsed.as_millis() as u64,
                        "key set fetch failed and no usable key set is loaded"
                    ),
                }
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<(KeySet, Option<Duration>, Url, u16), KeySourceError> {
        let s = &self.settings;
        let url = match &self.location {
            Location::Jwks(url) => url.clone(),
            Location::Discovery { issuer, url } => match self.jwks_uri.load_full() {
                Some(known) => (*known).clone(),
                None => {
                    self.check_scheme(url)?;
                    let found =
                        discovery::jwks_uri(&self.client, issuer, url, s.fetch_timeout, s.max_body)
                            .await?;
                    self.jwks_uri.store(Some(Arc::new(found.clone())));
                    found
                }
            },
        };
        self.check_scheme(&url)?;
        let fetched = match fetch::get(&self.client, &url, s.fetch_timeout, s.max_body).await {
            Ok(fetched) => fetched,
            Err(e) => {
                // A discovered jwks_uri may have moved: discover again next time.
                self.jwks_uri.store(None);
                return Err(e);
            }
        };
        let keys = parse_jwks(&fetched.body, s.max_keys)
            .map_err(|reason| KeySourceErrorKind::InvalidJwks { reason })?;
        if keys.is_empty() {
            return Err(KeySourceErrorKind::InvalidJwks {
                reason: "no usable key",
            }
            .into());
        }
        Ok((keys, fetched.max_age, url, fetched.status))
    }

    fn check_scheme(&self, url: &Url) -> Result<(), KeySourceError> {
        if url.scheme() == "https" || (self.settings.allow_http && url.scheme() == "http") {
            Ok(())
        } else {
            Err(KeySourceErrorKind::InsecureUrl {
                url: url.to_string(),
            }
            .into())
        }
    }

    /// Starts the background refresher once, if a Tokio runtime is running. It holds only a
    /// weak reference and ends when the key source is dropped.
    pub(crate) fn ensure_refresher(self: &Arc<Self>) {
        if self.refresher.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refresher.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        runtime.spawn(refresh_loop(weak, Arc::clone(&self.rescheduled)));
    }
}

/// Refreshes ahead of expiry, and retries after failures. The first load is left to the
/// requests (or `warm_up`) so that it is never fetched twice.
async fn refresh_loop(weak: Weak<RemoteKeys>, rescheduled: Arc<Notify>) {
    const IDLE: Duration = Duration::from_secs(3600);
    loop {
        let next = match weak.upgrade() {
            Some(this) => this.next_refresh(),
            None => return,
        };
        // Wake at least hourly to notice that the source was dropped.
        let wake = next.unwrap_or_else(|| Instant::now() + IDLE);
        let wake = wake.min(Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            () = rescheduled.notified() => continue,
        }
        let Some(this) = weak.upgrade() else { return };
        // Re-read the schedule: a request may have fetched while this task slept.
        if this.next_refresh().is_some_and(|at| Instant::now() >= at) {
            let _ = this.refresh(Reason::Scheduled, None).await;
        }
    }
}

impl RemoteKeys {
    /// When the background task should fetch next: ahead of the loaded set's expiry, or after
    /// the back-off following a failure; never for a set that was never asked for.
    fn next_refresh(&self) -> Option<Instant> {
        let retry = (*lock(&self.last_failure))
            .map(|at| at + self.settings.failure_backoff.max(Duration::from_millis(10)));
        let scheduled = self.snapshot.load().as_ref().map(|s| s.refresh_at);
        match (scheduled, retry) {
            (Some(s), Some(r)) => Some(s.max(r)),
            (s, r) => s.or(r),
        }
    }
}

fn diff(old: Option<&KeySet>, new: &KeySet) -> (Vec<String>, Vec<String>) {
    let kids = |set: &KeySet| -> BTreeSet<String> {
        set.iter()
            .filter_map(|k| k.kid())
            .map(str::to_owned)
            .collect()
    };
    let new_kids = kids(new);
    let old_kids = old.map(kids).unwrap_or_default();
    (
        new_kids.difference(&old_kids).cloned().collect(),
        old_kids.difference(&new_kids).cloned().collect(),
    )
}
