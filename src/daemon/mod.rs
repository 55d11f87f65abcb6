//! The daemon: `vesselwatch run`.
//!
//! Owns the lifecycle of the live service, on one tokio runtime: the sources ([`crate::sources`])
//! feed one bounded channel; the [`pipeline`] (a blocking task: front end, feed clocks, movement
//! engine) hands batches to the store's writer and acknowledges what was committed back to the
//! sources; the delivery worker sends alerts once their batch is committed; [`reload`] applies a
//! new configuration on SIGHUP; [`http`] serves health, metrics and the API.
//!
//! Shutdown is passed in as a future (production passes SIGTERM/SIGINT, tests a oneshot). On it,
//! the sources stop, the pipeline drains what they sent and commits it, in-flight webhooks get a
//! bounded time, every task's [`Shutdown`](crate::shutdown::Shutdown) token is waited for, and the
//! store is flushed.

mod api;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod reload;
pub mod watchdog;
mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::alerts::delivery::{Delivery, EndpointStats};
use crate::config::{ConfigError, Loaded, Origin};
use crate::shutdown::Coordinator;
use crate::sources::{Chunk, Context, Feeds, Position, SourceStats};
use crate::store::{self, StoreError, Writer};
use vesselwatch_ais::frontend::Counters;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::feedclock::ClockStats;
use vesselwatch_engine::movement::EngineStats;

/// Chunks waiting for the pipeline. A chunk is one read (64 KiB from a socket, a datagram, a
/// WebSocket message of at most 1 MiB) or a file's whole lines (at most 1 MiB + 64 KiB), so the
/// queue holds 16 MiB typically and under 300 MiB at the very worst. When full, sources wait.
const CHANNEL: usize = 256;
/// How long the pipeline gets, after shutdown begins, to commit what the sources sent: shutdown
/// is bounded even when the store cannot write.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// How long tasks other than the pipeline get to finish after shutdown begins.
const TASKS_GRACE: Duration = Duration::from_secs(5);

/// Options of `vesselwatch run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The configuration file.
    pub config: Option<PathBuf>,
    /// The database, overriding the config.
    pub db: Option<PathBuf>,
    /// The configuration, when the caller has loaded it already (`main` does, for its `[log]`):
    /// then `config` is only where SIGHUP reloads from, and the files are not read twice.
    pub loaded: Option<Loaded>,
}

/// Why the daemon could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened, or could not write everything at the end.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The webhook worker could not start.
    #[error("cannot start webhook delivery")]
    Delivery(#[from] crate::alerts::delivery::StartError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The pipeline ended by a panic: what it had not committed is lost, so the exit is an error.
    #[error("the pipeline failed")]
    Pipeline(#[source] tokio::task::JoinError),
    /// The pipeline ended before shutdown was asked for (its input closed): the daemon would
    /// otherwise run on without processing anything.
    #[error("the pipeline ended before shutdown was asked for")]
    PipelineEnded,
    /// The store's writer stopped, so the pipeline stopped; the writer's own error follows from
    /// `Writer::finish`.
    #[error("the pipeline stopped")]
    StoreStopped(#[source] crate::store::WriterStopped),
    /// A task other than the pipeline failed: it cannot do its job (a source's port, the HTTP
    /// endpoint's address), and running on without it would look alive while deaf.
    #[error("{task} failed")]
    Task {
        /// Which task.
        task: String,
        /// Why.
        source: TaskError,
    },
    /// A task other than the pipeline panicked: a bug; the daemon stops rather than run half-dead.
    #[error("a task panicked")]
    TaskPanicked(#[source] tokio::task::JoinError),
    /// The pipeline did not finish committing within the drain limit at shutdown (a store that
    /// cannot write): what it held is not written.
    #[error("the pipeline did not finish draining within {0:?}; what it held is not written")]
    DrainTimedOut(Duration),
}

/// The error a task ended with.
pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

/// The daemon's tasks other than the pipeline, each ending with its name and how it ended.
type Tasks = tokio::task::JoinSet<(String, Result<(), TaskError>)>;

/// Starts `task` in `tasks` under `name`, so that its end (or its error) is reported by name.
fn spawn_task<E: Into<TaskError>>(
    tasks: &mut Tasks,
    name: String,
    task: impl Future<Output = Result<(), E>> + Send + 'static,
) {
    tasks.spawn(async move { (name, task.await.map_err(Into::into)) });
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
    /// Wall-clock ms of the pipeline loop's last turn: the watchdog. `i64::MAX` where there is no
    /// pipeline (`serve`), which is then never stale.
    pub heartbeat: AtomicI64,
    /// True while the pipeline waits for the store (a full queue, a commit it must see): alive,
    /// but the store is stalled.
    pub waiting_on_store: std::sync::atomic::AtomicBool,
    /// The database.
    pub db: PathBuf,
    /// The store writer's counters: whether writes fail now, retries, reopens, restores.
    pub store: Arc<store::WriterStats>,
    /// The HTTP endpoint's connection counters.
    pub http: Arc<http::HttpStats>,
    /// Turns for database reads from HTTP requests ([`http::READERS`] at once).
    pub readers: Arc<tokio::sync::Semaphore>,
    /// The delivery worker's counters, per webhook.
    pub deliveries: Mutex<Vec<(String, Arc<EndpointStats>)>>,
    /// The watchlist in force, for the map's labels: replaced on SIGHUP.
    pub watchlist: Mutex<Arc<vesselwatch_engine::watchlist::Watchlist>>,
    /// What the map page is told at start: live or not, the tile layer.
    pub map: web::MapSettings,
}

/// The running delivery worker, if any webhooks are configured: behind a lock because SIGHUP may
/// replace it with one for the new webhooks.
pub(crate) type DeliverySlot = Arc<Mutex<Option<Delivery>>>;

/// The delivery worker's counters, sorted by webhook name, for [`Shared::deliveries`].
pub(crate) fn delivery_stats(d: &DeliverySlot) -> Vec<(String, Arc<EndpointStats>)> {
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

/// Starts a delivery worker for `loaded`'s webhooks (none without webhooks). Needs the runtime.
pub(crate) fn start_delivery(
    loaded: &Loaded,
    db: &std::path::Path,
    writer: &Arc<Writer>,
    previous: std::collections::HashMap<String, Arc<EndpointStats>>,
) -> Result<Option<Delivery>, DaemonError> {
    let endpoints = loaded.endpoints()?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    Ok(Some(Delivery::start_keeping(
        endpoints,
        db.to_path_buf(),
        Arc::clone(writer),
        previous,
    )?))
}

/// Runs the daemon until `shutdown` completes, then drains and returns.
pub fn run(
    opts: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let loaded = match &opts.loaded {
        Some(l) => l.clone(),
        None => Loaded::load(opts.config.as_deref())?,
    };
    let db = opts.db.clone().unwrap_or_else(|| loaded.db_path());
    let mut engine = loaded.engine();
    let writer = Arc::new(loaded.start_store(db.clone(), &mut engine)?);
    let checkpoints = store::load_checkpoints(&store::open_read_only(&db)?, &db)?;
    let runtime = runtime()?;
    let served = runtime.block_on(serve(
        loaded,
        opts.config.clone(),
        db,
        engine,
        Arc::clone(&writer),
        checkpoints,
        shutdown,
    ));
    runtime.shutdown_timeout(TASKS_GRACE);
    let flushed = match Arc::try_unwrap(writer) {
        Ok(w) => w.finish().map_err(DaemonError::from),
        Err(_) => {
            tracing::warn!(
                "The store writer is still referenced at exit; its queue was flushed by the pipeline."
            );
            Ok(())
        }
    };
    match (served, flushed) {
        // The writer's own account says why it stopped and what it could not write.
        (Err(DaemonError::StoreStopped(_)), Err(why)) => return Err(why),
        (Err(e), Err(also)) => {
            tracing::error!(error = %crate::error::Chain(&also), "The store could not write everything at the end either.");
            return Err(e);
        }
        (served, flushed) => served.and(flushed)?,
    }
    tracing::info!("Stopped.");
    Ok(())
}

async fn serve(
    loaded: Loaded,
    config_path: Option<PathBuf>,
    db: PathBuf,
    engine: vesselwatch_engine::Engine,
    writer: Arc<Writer>,
    mut checkpoints: std::collections::HashMap<String, store::Checkpoint>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let coordinator = Coordinator::default();
    // Every task but the pipeline, each ending with its name and how it ended: one that fails (a
    // port that cannot be bound, a key that cannot be read) or panics stops the daemon.
    let mut tasks = Tasks::new();
    let delivery: DeliverySlot = Arc::new(Mutex::new(start_delivery(
        &loaded,
        &db,
        &writer,
        Default::default(),
    )?));
    let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL);
    let feeds = Arc::new(Feeds::default());
    let sources = &loaded.config.sources;
    let shared = Arc::new(Shared {
        source_names: sources.iter().map(|s| s.name().to_string()).collect(),
        source_stats: sources.iter().map(|_| Arc::default()).collect(),
        snapshot: Mutex::new(Snapshot::default()),
        heartbeat: AtomicI64::new(crate::clock::now().0),
        waiting_on_store: Default::default(),
        db: db.clone(),
        store: writer.stats_handle(),
        http: Default::default(),
        readers: Arc::new(tokio::sync::Semaphore::new(http::READERS)),
        deliveries: Mutex::new(delivery_stats(&delivery)),
        watchlist: Mutex::new(Arc::new(vesselwatch_engine::watchlist::Watchlist::new(
            &loaded.config.watch,
        ))),
        map: web::MapSettings::from_config(&loaded.config.http, true),
    });
    let config_dir = match &loaded.origin {
        Origin::File(p) => p.parent().map(|d| d.to_path_buf()).unwrap_or_default(),
        Origin::Embedded => PathBuf::from("."),
    };
    let mut committed = Vec::with_capacity(sources.len());
    for (index, config) in sources.iter().enumerate() {
        let resume = checkpoints.remove(config.name()).map(|c| Position {
            offset: c.position,
            file_id: c.file_id,
        });
        let (done_tx, done_rx) = watch::channel(resume.clone());
        committed.push(done_tx);
        let ctx = Context {
            index,
            name: config.name().to_string(),
            tx: tx.clone(),
            stats: Arc::clone(&shared.source_stats[index]),
            feeds: Arc::clone(&feeds),
            shutdown: coordinator.token(),
            config_dir: config_dir.clone(),
            resume,
            committed: done_rx,
        };
        let name = format!("source {}", config.name());
        let source = config.clone();
        spawn_task(&mut tasks, name, async move { source.run(ctx).await });
    }
    let (reload_tx, reloads) = mpsc::channel(1);
    let reloader = reload::run(reload::Reloader {
        path: config_path,
        db: db.clone(),
        writer: Arc::clone(&writer),
        delivery: Arc::clone(&delivery),
        shared: Arc::clone(&shared),
        tx: reload_tx,
        shutdown: coordinator.token(),
    });
    spawn_task(&mut tasks, "SIGHUP reloader".into(), async move {
        reloader.await;
        Ok::<_, TaskError>(())
    });
    if let Some(every) = sd_notify::watchdog_enabled() {
        let dog = watchdog::run(Arc::clone(&shared), every / 2, coordinator.token());
        spawn_task(&mut tasks, "watchdog".into(), async move {
            dog.await;
            Ok::<_, TaskError>(())
        });
    }
    let ticker = pipeline::tick(tx, coordinator.token());
    spawn_task(&mut tasks, "pipeline ticker".into(), async move {
        ticker.await;
        Ok::<_, TaskError>(())
    });
    if !loaded.config.http.listen.is_empty() {
        let http = loaded.config.http.clone();
        let token = loaded.http_token()?;
        let serving = http::serve(http, token, Arc::clone(&shared), coordinator.token());
        spawn_task(&mut tasks, "HTTP endpoint".into(), serving);
    }
    let wake = {
        let delivery = Arc::clone(&delivery);
        move || {
            if let Some(d) = delivery.lock().expect("not poisoned").as_ref() {
                d.wake();
            }
        }
    };
    let pipeline = pipeline::Pipeline {
        engine,
        hooks: loaded.config.webhooks.clone(),
        shared: Arc::clone(&shared),
        writer: Arc::clone(&writer),
        feeds,
        committed,
        reloads,
        wake: Box::new(wake),
    };
    // A blocking task: the front end and the engine are CPU work and need no locks on one thread,
    // and the writer's back pressure blocks it when the disk is slow.
    let mut pipeline = tokio::task::spawn_blocking(move || pipeline.run(rx));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(sources = sources.len(), db = %db.display(), "vesselwatch running.");

    tokio::pin!(shutdown);
    let (ended_early, failed) = loop {
        tokio::select! {
            _ = &mut shutdown => break (None, None),
            r = &mut pipeline => break (Some(r), None),
            Some(done) = tasks.join_next() => match done {
                Ok((name, Ok(()))) => {
                    tracing::info!(task = %name, "A task has finished.");
                }
                Ok((name, Err(e))) => {
                    tracing::error!(task = %name, error = %crate::error::Chain(&*e), "A task failed; stopping.");
                    break (None, Some(DaemonError::Task { task: name, source: e }));
                }
                Err(e) => {
                    tracing::error!(error = %e, "A task panicked; stopping.");
                    break (None, Some(DaemonError::TaskPanicked(e)));
                }
            },
        }
    };
    tracing::info!("Shutting down: stopping sources, draining the pipeline, flushing the store.");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    coordinator.begin();
    // A store that keeps failing now gets a bounded time, so that stopping is bounded too.
    writer.closing();
    // The pipeline ends once every source has stopped sending, after committing what they sent.
    let drained = match ended_early {
        Some(Ok(Ok(()))) => Err(DaemonError::PipelineEnded),
        Some(Ok(Err(e))) => Err(DaemonError::StoreStopped(e)),
        Some(Err(e)) => Err(DaemonError::Pipeline(e)),
        None => match tokio::time::timeout(DRAIN_LIMIT, pipeline).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(DaemonError::StoreStopped(e)),
            Ok(Err(e)) => Err(DaemonError::Pipeline(e)),
            Err(_) => Err(DaemonError::DrainTimedOut(DRAIN_LIMIT)),
        },
    };
    let taken = delivery.lock().expect("not poisoned").take();
    if let Some(d) = taken {
        // In-flight requests finish within their timeout; queued alerts stay in the outbox.
        d.stop().await;
    }
    // The tasks end on the signal; what they say at the end is logged, not fatal (it is over).
    let _ = tokio::time::timeout(TASKS_GRACE, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok((name, Err(e))) = done {
                tracing::warn!(task = %name, error = %crate::error::Chain(&*e), "A task failed while stopping.");
            }
        }
    })
    .await;
    if !coordinator.wait(TASKS_GRACE).await {
        tracing::warn!(grace = ?TASKS_GRACE, "Some tasks had not finished when the grace time ended.");
    }
    match failed {
        Some(e) => Err(e),
        None => drained,
    }
}

/// `vesselwatch serve`: the HTTP endpoint alone, read-only, over any database (a replayed
/// history, a copy of a production database): the API and, later, the map, without sources, a
/// pipeline or a writer. Runs until `shutdown` completes.
pub fn serve_database(
    loaded: &Loaded,
    db: PathBuf,
    listen: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    // Refuses what the queries would: no such file, a newer schema, another application's file.
    if !db.exists() {
        return Err(DaemonError::Store(StoreError::Io {
            path: db,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such database"),
        }));
    }
    drop(store::open_read_only(&db)?);
    let runtime = runtime()?;
    let shared = Arc::new(Shared {
        source_names: Vec::new(),
        source_stats: Vec::new(),
        snapshot: Mutex::new(Snapshot::default()),
        heartbeat: AtomicI64::new(i64::MAX),
        waiting_on_store: Default::default(),
        db,
        store: Default::default(),
        http: Default::default(),
        readers: Arc::new(tokio::sync::Semaphore::new(http::READERS)),
        deliveries: Mutex::new(Vec::new()),
        watchlist: Mutex::new(Arc::new(vesselwatch_engine::watchlist::Watchlist::new(
            &loaded.config.watch,
        ))),
        map: web::MapSettings::from_config(&loaded.config.http, false),
    });
    // The config's token settings apply to `--listen` as to `[http] listen`.
    let config = http::HttpConfig {
        listen,
        ..loaded.config.http.clone()
    };
    config.validate().map_err(ConfigError::from)?;
    let token = loaded.http_token()?;
    let served = runtime.block_on(async move {
        let coordinator = Coordinator::default();
        let serving = http::serve(config, token, shared, coordinator.token());
        tokio::pin!(serving);
        tokio::pin!(shutdown);
        let result = tokio::select! {
            r = &mut serving => r,
            _ = &mut shutdown => {
                coordinator.begin();
                serving.await
            }
        };
        result.map_err(|e| DaemonError::Task {
            task: "HTTP endpoint".into(),
            source: Box::new(e),
        })
    });
    runtime.shutdown_timeout(TASKS_GRACE);
    served
}

/// The one runtime of `run` and `serve`: two workers (the machine's cores; the pipeline and the
/// database reads run on blocking threads beside them).
fn runtime() -> Result<tokio::runtime::Runtime, DaemonError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vesselwatch")
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)
}
