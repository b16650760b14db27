//! Latencies for the `soak` and `loadtest` examples.

use std::time::Duration;

/// Latencies in buckets of 2^(1/8) (about 9 % wide), from 1 µs to over an hour.
#[derive(Clone)]
pub(crate) struct Histogram {
    buckets: Vec<u64>,
}

impl Histogram {
    const BUCKETS: usize = 8 * 32;

    pub(crate) fn new() -> Self {
        Self {
            buckets: vec![0; Self::BUCKETS],
        }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let micros = latency.as_micros().max(1) as f64;
        let i = (micros.log2() * 8.0) as usize;
        self.buckets[i.min(Self::BUCKETS - 1)] += 1;
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
    }

    /// The upper edge of the bucket holding the `q` quantile.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let total: u64 = self.buckets.iter().sum();
        let target = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Duration::from_micros(2f64.powf((i + 1) as f64 / 8.0) as u64);
            }
        }
        Duration::ZERO
    }
}
