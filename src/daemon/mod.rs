//! The daemon: `vesselwatch run`.
//!
//! Owns the lifecycle of the live service: sources ([`sources`]) feed one bounded channel; one
//! pipeline thread runs the front end and the movement engine, ticks the engine with the wall clock
//! (so `dark` fires live), and hands batches to the store's writer; the delivery worker sends alerts
//! as soon as their batch is committed; [`http`] serves health, metrics and the API. Shutdown is
//! passed in as a future: on it, sources stop, the pipeline drains, the store is flushed, in-flight
//! webhooks get a bounded time, and `run` returns.

pub mod aisstream;
pub mod http;
pub mod metrics;
pub mod sources;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::alerts::{
    self,
    delivery::{Delivery, Endpoint},
};
use crate::commands::replay::ReplayError;
use crate::config::Loaded;
use crate::store::{Batch, Checkpoint};
use sources::{Chunk, Feeds, SourceStats};
use vesselwatch_ais::frontend::{Counters, FrontEnd};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::event::Event;
use vesselwatch_engine::feedclock::{ClockSettings, ClockStats, FeedClocks, Mode, Now};
use vesselwatch_engine::movement::EngineStats;

/// Chunks waiting for the pipeline: a few MiB at most. When full, sources wait.
const CHANNEL: usize = 256;
/// A feed whose latest message time is within this of the wall clock is live.
const LIVE_LAG: Duration = Duration::from_secs(600);
/// The store gets a batch at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Options of `vesselwatch run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The configuration file.
    pub config: Option<PathBuf>,
    /// The database, overriding the config.
    pub db: Option<PathBuf>,
}

/// What the pipeline publishes each second for the HTTP endpoint.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Front-end counters.
    pub counters: Counters,
    /// Engine counters.
    pub engine: EngineStats,
    /// Vessels tracked.
    pub vessels: usize,
    /// Partial messages held by the reassembler.
    pub fragments_pending: usize,
    /// Sentences by source index (decoded messages).
    pub messages_by_source: Vec<u64>,
    /// The latest message time of the feed.
    pub feed_time: Option<UnixMillis>,
    /// What the feed clocks did.
    pub clocks: ClockStats,
}

/// State shared with the HTTP endpoint.
pub struct Shared {
    /// Source names, by index.
    pub source_names: Vec<String>,
    /// Counters per source.
    pub source_stats: Vec<Arc<SourceStats>>,
    /// The latest pipeline snapshot.
    pub snapshot: Mutex<Snapshot>,
    /// Wall-clock ms of the pipeline loop's last turn: the watchdog.
    pub heartbeat: AtomicI64,
    /// The database.
    pub db: PathBuf,
    /// The delivery worker's counters, per webhook.
    pub deliveries: Mutex<Vec<(String, Arc<alerts::delivery::EndpointStats>)>>,
}

fn delivery_stats(
    d: &Mutex<Option<Delivery>>,
) -> Vec<(String, Arc<alerts::delivery::EndpointStats>)> {
    let guard = d.lock().expect("not poisoned");
    let mut v: Vec<_> = guard
        .as_ref()
        .map(|d| {
            d.stats
                .iter()
                .map(|(k, s)| (k.clone(), Arc::clone(s)))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a: &(String, _), b| a.0.cmp(&b.0));
    v
}

fn now() -> UnixMillis {
    UnixMillis::from_system_time(std::time::SystemTime::now()).unwrap_or(UnixMillis(0))
}

/// Runs the daemon until `shutdown` completes, then drains and returns.
pub fn run(
    opts: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReplayError> {
    let loaded = Loaded::load(opts.config.as_deref())?;
    let db = opts.db.clone().unwrap_or_else(|| loaded.db_path());
    let mut engine = loaded.engine();
    let writer = Arc::new(crate::store::start(&loaded, db.clone(), &mut engine)?);
    let start_delivery = |l: &Loaded| -> Result<Option<Delivery>, ReplayError> {
        if l.config.webhooks.is_empty() {
            return Ok(None);
        }
        let d = Delivery::start(Endpoint::all(l)?, db.clone(), Arc::clone(&writer))
            .map_err(ReplayError::Delivery)?;
        Ok(Some(d))
    };
    // Behind a lock because SIGHUP may replace it with one for the new webhooks.
    let delivery: Arc<Mutex<Option<Delivery>>> = Arc::new(Mutex::new(start_delivery(&loaded)?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vesselwatch")
        .enable_all()
        .build()
        .map_err(ReplayError::Delivery)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL);
    let feeds = Arc::new(Feeds::default());
    let shared = Arc::new(Shared {
        source_names: loaded
            .config
            .sources
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
        source_stats: loaded
            .config
            .sources
            .iter()
            .map(|_| Arc::default())
            .collect(),
        snapshot: Mutex::new(Snapshot::default()),
        heartbeat: AtomicI64::new(now().0),
        db: db.clone(),
        deliveries: Mutex::new(delivery_stats(&delivery)),
    });
    for (index, config) in loaded.config.sources.iter().enumerate() {
        runtime.spawn(sources::run(sources::Ctx {
            index,
            config: config.clone(),
            tx: tx.clone(),
            stats: Arc::clone(&shared.source_stats[index]),
            feeds: Arc::clone(&feeds),
            shutdown: stop_rx.clone(),
            config_dir: match &loaded.origin {
                crate::config::Origin::File(p) => {
                    p.parent().map(|d| d.to_path_buf()).unwrap_or_default()
                }
                crate::config::Origin::Embedded => PathBuf::from("."),
            },
        }));
    }
    // SIGHUP: load and validate the config again; a good one is handed to the pipeline (fences,
    // watchlist, routing) and the delivery worker restarted for the new webhooks; a bad one is
    // refused with a log line and the old one stays in force.
    {
        let tx = tx.clone();
        let mut stop = stop_rx.clone();
        let path = opts.config.clone();
        let (delivery, shared, writer, db) = (
            Arc::clone(&delivery),
            Arc::clone(&shared),
            Arc::clone(&writer),
            db.clone(),
        );
        runtime.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
            loop {
                tokio::select! {
                    _ = hup.recv() => {}
                    _ = stop.changed() => return,
                }
                let mut reloading = vec![sd_notify::NotifyState::Reloading];
                reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
                let _ = sd_notify::notify(&reloading);
                match Loaded::load(path.as_deref()) {
                    Ok(new) => {
                        tracing::info!(fences = new.config.fences.len(), watch = new.config.watch.len(),
                            webhooks = new.config.webhooks.len(), "Configuration reloaded.");
                        let endpoints = Endpoint::all(&new);
                        let (delivery, shared, writer, db) = (Arc::clone(&delivery), Arc::clone(&shared), Arc::clone(&writer), db.clone());
                        let _ = tokio::task::spawn_blocking(move || {
                            let mut current = delivery.lock().expect("not poisoned");
                            if let Some(old) = current.take() {
                                old.stop();
                            }
                            *current = match endpoints {
                                Ok(eps) if !eps.is_empty() => Delivery::start(eps, db, writer).ok(),
                                _ => None,
                            };
                            drop(current);
                            *shared.deliveries.lock().expect("not poisoned") = delivery_stats(&delivery);
                        })
                        .await;
                        if tx.send(Chunk::Reload(Box::new(new))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Reload rejected: the configuration is invalid; the old one stays in force.");
                    }
                }
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            }
        });
    }
    drop(tx);
    if !loaded.config.http.listen.is_empty() {
        let addr = loaded.config.http.listen.clone();
        runtime.spawn(http::serve(addr, Arc::clone(&shared), stop_rx.clone()));
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(sources = loaded.config.sources.len(), db = %db.display(), "vesselwatch running.");

    // The pipeline: one thread, so the front end and the engine need no locks.
    let mut hooks = loaded.config.webhooks.clone();
    let handle = runtime.handle().clone();
    let pipe_shared = Arc::clone(&shared);
    let pipe_writer = Arc::clone(&writer);
    let wake = {
        let delivery = Arc::clone(&delivery);
        move || {
            if let Some(d) = delivery.lock().expect("not poisoned").as_ref() {
                d.wake();
            }
        }
    };
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            let mut fe = FrontEnd::default();
            let mut clocks = FeedClocks::new(ClockSettings::new(Mode::Live));
            let live = |wall: UnixMillis| Now {
                arrival: Some(wall),
                latest: None,
            };
            let mut events: Vec<Event> = Vec::new();
            let mut unsaved: Vec<Event> = Vec::new();
            let mut by_source: Vec<u64> = vec![0; pipe_shared.source_names.len()];
            let mut last_flush = Instant::now();
            let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
            let mut last_watchdog = Instant::now();
            let mut status_decoded = 0u64;
            loop {
                let msg = handle.block_on(async {
                    tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
                });
                let closed = matches!(msg, Ok(None));
                let wall = now();
                match msg {
                    Ok(Some(Chunk::Data(feed, bytes))) => {
                        let source = feeds.source_of(feed);
                        fe.push_bytes(feed, &bytes, |d| {
                            if let Some(s) = source {
                                by_source[s] += 1;
                            }
                            clocks
                                .push(d, live(wall), |d, t| engine.on_message(&d, t, &mut events));
                        });
                    }
                    Ok(Some(Chunk::Reset(feed))) => {
                        fe.reset_feed(feed);
                        clocks.finish_feed(feed, |d, t| engine.on_message(&d, t, &mut events));
                    }
                    Ok(Some(Chunk::Message(d))) => {
                        if let Some(s) = feeds.source_of(d.meta.feed) {
                            by_source[s] += 1;
                        }
                        clocks.push(*d, live(wall), |d, t| engine.on_message(&d, t, &mut events));
                    }
                    // Validated and compiled when it was loaded: the engine cannot refuse it.
                    Ok(Some(Chunk::Reload(new))) => {
                        engine.reconfigure(new.engine());
                        hooks = new.config.webhooks.clone();
                    }
                    Ok(None) => clocks.finish(|d, t| engine.on_message(&d, t, &mut events)),
                    Err(_) => {}
                }
                // New feeds that waited long enough for a clock of their own take the arrival time.
                clocks.release_due(live(wall), |d, t| engine.on_message(&d, t, &mut events));
                // Live, the engine's clock is the wall clock, so that silence becomes `dark` on
                // time. But while the feed itself lags (a backlog, a delayed satellite feed, a
                // recording piped in), the clock follows the feed's time instead: a vessel is not
                // dark because its reports have not been read yet.
                if let Some(feed) = engine.feed_time() {
                    let clock = if wall.0 - feed.0 <= LIVE_LAG.as_millis() as i64 {
                        wall
                    } else {
                        feed
                    };
                    engine.tick(clock, &mut events);
                }
                unsaved.append(&mut events);
                let urgent = !unsaved.is_empty();
                if urgent || last_flush.elapsed() >= FLUSH_EVERY || closed {
                    let alerts = alerts::route(&hooks, &unsaved);
                    let checkpoints = pipe_shared
                        .source_names
                        .iter()
                        .zip(&pipe_shared.source_stats)
                        .map(|(n, s)| Checkpoint {
                            feed: n.clone(),
                            position: s.bytes.load(Ordering::Relaxed),
                            message_time: engine.clock(),
                        })
                        .collect();
                    let batch = Batch::decided(
                        &mut engine,
                        std::mem::take(&mut unsaved),
                        alerts,
                        checkpoints,
                    );
                    if urgent {
                        // Events (and their alerts) are committed at once, then sent.
                        pipe_writer.send_and_wait(batch);
                        wake();
                    } else {
                        pipe_writer.send(batch);
                    }
                    last_flush = Instant::now();
                    *pipe_shared.snapshot.lock().expect("not poisoned") = Snapshot {
                        counters: fe.counters().clone(),
                        engine: engine.stats(),
                        vessels: engine.tracker().len(),
                        fragments_pending: fe.pending_fragments(),
                        messages_by_source: by_source.clone(),
                        feed_time: engine.feed_time(),
                        clocks: clocks.stats(),
                    };
                }
                pipe_shared.heartbeat.store(now().0, Ordering::Relaxed);
                if let Some(every) = watchdog
                    && last_watchdog.elapsed() >= every
                {
                    let decoded = fe
                        .counters()
                        .get(vesselwatch_ais::frontend::Outcome::Decoded);
                    let rate =
                        (decoded - status_decoded) as f64 / last_watchdog.elapsed().as_secs_f64();
                    status_decoded = decoded;
                    let status = format!(
                        "{rate:.0} msg/s, {} vessels tracked",
                        engine.tracker().len()
                    );
                    let _ = sd_notify::notify(&[
                        sd_notify::NotifyState::Watchdog,
                        sd_notify::NotifyState::Status(&status),
                    ]);
                    last_watchdog = Instant::now();
                }
                if closed {
                    return;
                }
            }
        })
        .map_err(ReplayError::Delivery)?;

    runtime.block_on(shutdown);
    tracing::info!("Shutting down: stopping sources, draining the pipeline, flushing the store.");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(true);
    let _ = pipeline.join();
    if let Some(d) = delivery.lock().expect("not poisoned").take() {
        // In-flight requests finish within their timeout; queued alerts stay in the outbox.
        d.stop();
    }
    drop(shared);
    runtime.shutdown_timeout(Duration::from_secs(5));
    match Arc::try_unwrap(writer) {
        Ok(w) => w.finish()?,
        Err(_) => tracing::warn!(
            "The store writer is still referenced at exit; its queue was flushed by the pipeline."
        ),
    }
    tracing::info!("Stopped.");
    Ok(())
}
