//! SIGHUP: load and validate the configuration again. A good one is handed to the pipeline
//! (fences, watchlist, routing) and the delivery worker is restarted for the new webhooks; a bad
//! one is refused with a log line and the old one stays in force. Sources and the HTTP endpoint
//! keep their configuration until a restart.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{DeliverySlot, Shared, delivery_stats, start_delivery};
use crate::config::Loaded;
use crate::shutdown::Shutdown;
use crate::store::Writer;

/// What a reload touches.
pub struct Reloader {
    /// The configuration file given on the command line (or none: the default lookup).
    pub path: Option<PathBuf>,
    /// The database, for a new delivery worker.
    pub db: PathBuf,
    /// The store's writer, for a new delivery worker.
    pub writer: Arc<Writer>,
    /// The delivery worker to replace.
    pub delivery: DeliverySlot,
    /// Where the new worker's counters are published.
    pub shared: Arc<Shared>,
    /// Where a new configuration goes: the pipeline takes it at its next turn (within a tick).
    pub tx: mpsc::Sender<Box<Loaded>>,
    /// Ends the loop.
    pub shutdown: Shutdown,
}

/// Reloads on every SIGHUP until shutdown.
pub async fn run(mut r: Reloader) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Cannot handle SIGHUP; reloading is off until a restart.");
            // Keep the pipeline's input open until shutdown like every other task.
            r.shutdown.recv().await;
            return;
        }
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            _ = r.shutdown.recv() => return,
        }
        let mut reloading = vec![sd_notify::NotifyState::Reloading];
        reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
        let _ = sd_notify::notify(&reloading);
        // Reading and compiling (a fence of a million vertices takes a second) on a blocking
        // thread: the runtime's two workers also drive every source and the HTTP endpoint.
        let path = r.path.clone();
        let loaded = tokio::task::spawn_blocking(move || Loaded::load(path.as_deref()))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match loaded {
            Ok(new) => {
                tracing::info!(
                    fences = new.config.fences.len(),
                    watch = new.config.watch.len(),
                    webhooks = new.config.webhooks.len(),
                    "Configuration reloaded."
                );
                let old = r.delivery.lock().expect("not poisoned").take();
                let mut counters = std::collections::HashMap::new();
                if let Some(old) = old {
                    counters = old.stats.clone();
                    old.stop().await;
                }
                let next = start_delivery(&new, &r.db, &r.writer, counters).unwrap_or_else(|e| {
                    tracing::error!(error = %crate::error::Chain(&e), "Cannot start webhook delivery for the new configuration; alerts stay queued.");
                    None
                });
                *r.delivery.lock().expect("not poisoned") = next;
                *r.shared.deliveries.lock().expect("not poisoned") = delivery_stats(&r.delivery);
                *r.shared.watchlist.lock().expect("not poisoned") = Arc::new(
                    vesselwatch_engine::watchlist::Watchlist::new(&new.config.watch),
                );
                if r.tx.send(Box::new(new)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "Reload rejected: the configuration is invalid; the old one stays in force.");
            }
        }
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    }
}
