//! The systemd watchdog: `WATCHDOG=1` while the pipeline is alive, with a `STATUS=` line.
//!
//! Alive means the pipeline loop turned recently, or it is waiting for the store (a lock held by
//! another process, a full disk): a process correctly waiting must not be killed by systemd for
//! SQLite being slow. A stalled store shows in `/readyz` instead. A pipeline stuck anywhere else
//! stops the pings, and systemd restarts the service. Runs on the runtime, not in the pipeline,
//! so that a blocked pipeline cannot keep it quiet by accident.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;
use crate::shutdown::Shutdown;
use vesselwatch_ais::frontend::Outcome;

/// Pings every `every` (half of `WatchdogSec`) until shutdown.
pub async fn run(shared: Arc<Shared>, every: Duration, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut decoded_before = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.recv() => return,
        }
        let age = crate::clock::now().0 - shared.heartbeat.load(Ordering::Relaxed);
        let waiting = shared.waiting_on_store.load(Ordering::Relaxed);
        let stale = age > i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        if stale && !waiting {
            tracing::error!(
                silent_ms = age,
                "The pipeline has not turned; withholding the watchdog ping."
            );
            continue;
        }
        let (decoded, vessels) = {
            let snap = shared.snapshot.lock().expect("not poisoned");
            (snap.counters.get(Outcome::Decoded), snap.vessels)
        };
        let rate = decoded.saturating_sub(decoded_before) as f64 / every.as_secs_f64();
        decoded_before = decoded;
        let status = if waiting && age > 5_000 {
            format!(
                "waiting for the store ({} s); {vessels} vessels tracked",
                age / 1000
            )
        } else {
            format!("{rate:.0} msg/s, {vessels} vessels tracked")
        };
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Watchdog,
            sd_notify::NotifyState::Status(&status),
        ]);
    }
}
