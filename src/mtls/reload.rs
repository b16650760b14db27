//! Replacing a TLS configuration at run time: from the same inputs read again
//! ([`reload`](Reloadable::reload)), from new inputs ([`reload_with`](Reloadable::reload_with)),
//! or whenever the input files change ([`watch`](Reloadable::watch)). Shared by the server
//! side ([`MtlsAcceptor`](super::MtlsAcceptor)) and the client side
//! ([`MtlsClient`](super::MtlsClient)).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

use super::error::MtlsConfigError;

/// Inputs that build a configuration.
pub(crate) trait Inputs: Clone + Send + 'static {
    /// What they build.
    type Config: Send + Sync + 'static;
    /// What the log lines call it.
    const WHAT: &'static str;

    /// Reads the inputs and builds the configuration.
    fn build_config(&self) -> Result<Arc<Self::Config>, MtlsConfigError>;

    /// A digest of what the file inputs hold now (see `Pem::fingerprint_into`).
    fn fingerprint(&self) -> [u8; 32];
}

/// The configuration in use, the inputs it came from, and how many times it was replaced.
pub(crate) struct Reloadable<I: Inputs> {
    inputs: Mutex<I>,
    current: ArcSwap<I::Config>,
    reloads: AtomicU64,
}

impl<I: Inputs> Reloadable<I> {
    pub(crate) fn new(inputs: I, config: Arc<I::Config>) -> Self {
        Self {
            inputs: Mutex::new(inputs),
            current: ArcSwap::new(config),
            reloads: AtomicU64::new(0),
        }
    }

    /// The configuration new connections use.
    pub(crate) fn current(&self) -> Arc<I::Config> {
        self.current.load_full()
    }

    fn inputs(&self) -> I {
        self.inputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Builds again from the same inputs (files are read again).
    pub(crate) fn reload(&self) -> Result<(), MtlsConfigError> {
        self.install(&self.inputs())
    }

    /// Replaces the inputs, then reloads; the old ones stay on error.
    pub(crate) fn reload_with(&self, inputs: I) -> Result<(), MtlsConfigError> {
        self.install(&inputs)?;
        *self.inputs.lock().unwrap_or_else(PoisonError::into_inner) = inputs;
        Ok(())
    }

    fn install(&self, inputs: &I) -> Result<(), MtlsConfigError> {
        match inputs.build_config() {
            Ok(config) => {
                self.current.store(config);
                self.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "meshward::mtls", what = I::WHAT, "TLS configuration reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(target: "meshward::mtls", what = I::WHAT, error = %e, "TLS reload refused; the previous configuration keeps serving");
                Err(e)
            }
        }
    }

    /// Successful reloads so far.
    pub(crate) fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Reads the input files every `interval` (clamped to 10 ms – 1 day) and reloads when
    /// the contents of one changed. Stops when the handle is dropped, or when this is.
    pub(crate) fn watch(self: &Arc<Self>, interval: Duration) -> WatchHandle {
        let weak = Arc::downgrade(self);
        let mut last = self.inputs().fingerprint();
        let task = tokio::spawn(async move {
            let period =
                interval.clamp(Duration::from_millis(10), Duration::from_secs(24 * 60 * 60));
            let mut ticker = tokio::time::interval(period);
            loop {
                ticker.tick().await;
                let Some(this) = weak.upgrade() else { return };
                let now = this.inputs().fingerprint();
                if now != last {
                    last = now;
                    let _ = this.reload();
                }
            }
        });
        WatchHandle { task }
    }
}

/// Stops a `watch` (of an [`MtlsAcceptor`](super::MtlsAcceptor) or an
/// [`MtlsClient`](super::MtlsClient)) when dropped.
pub struct WatchHandle {
    task: JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}
