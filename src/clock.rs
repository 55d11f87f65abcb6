//! The wall clock: the one place outside the pure crates where the time of day is read.
//!
//! The decoding and engine crates never read a clock (replay must be deterministic), so every
//! reading of "now" in the daemon and the commands (arrival times of live data, bookkeeping columns
//! such as `updated` and `created`, `--since 6h` relative to today, webhook signatures) goes through
//! [`now`]. One function makes those readings easy to find and to audit. Elapsed-time measurement
//! (`Instant`) is not a clock reading of this kind and stays where it is used.

use vesselwatch_ais::time::UnixMillis;

/// The current wall-clock time. A system clock set before 1970 reads as the epoch rather than
/// failing: the callers record or compare times, and none can do better with an impossible clock.
pub fn now() -> UnixMillis {
    UnixMillis::from_system_time(std::time::SystemTime::now()).unwrap_or(UnixMillis(0))
}
