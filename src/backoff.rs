//! Retry delays, for every component that waits before trying again: sources reconnecting, the
//! store writer retrying a transaction, webhooks retrying an alert.
//!
//! One schedule, built on `backon`: exponential from a first delay, capped, each delay lengthened
//! by up to its own length at random so that many clients failing together do not retry together.

use std::time::Duration;

use backon::BackoffBuilder;

/// Delays from `first`, doubling up to `max`, jittered, and never ending: every caller here has
/// something worth waiting for (a feed, a committed batch, an alert within its `max_age`).
pub fn delays(first: Duration, max: Duration) -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The delay before attempt `attempts + 1` when earlier attempts are counted in a database rather
/// than held in an iterator (webhook alerts survive restarts).
pub fn nth(first: Duration, max: Duration, attempts: u32) -> Duration {
    // The schedule reaches `max` within 64 doublings whatever `first` is; skip no further.
    delays(first, max)
        .nth(attempts.min(64) as usize)
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_with_jitter_below_twice_the_base() {
        let first = Duration::from_millis(500);
        let max = Duration::from_secs(60);
        for (i, d) in delays(first, max).take(20).enumerate() {
            let base = first.saturating_mul(1 << i.min(7)).min(max);
            assert!(d >= base && d < base * 2, "attempt {i}: {d:?}");
        }
        let late = nth(Duration::from_secs(5), Duration::from_secs(3600), 500);
        assert!(late >= Duration::from_secs(3600) && late < Duration::from_secs(7200));
    }
}
