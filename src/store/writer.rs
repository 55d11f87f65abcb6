//! The single writer: one thread, fed by a bounded channel, that owns the write connection.
//!
//! SQLite allows one writer at a time; a single owner makes batching (queued batches coalesced
//! into one transaction), ordering and retry simple. A full channel blocks the sender: a slow disk
//! slows the pipeline, it never grows memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::batch::{RETENTION_SWEEP_EVERY, delete_old_positions, write_batch};
use super::{Ack, Batch, SqliteError, StoreError};
use vesselwatch_ais::time::UnixMillis;

/// The writer's counters, readable while it runs (metrics, `/readyz` and logs).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Transactions committed (several queued batches may share one).
    pub transactions: AtomicU64,
    /// Rows written (roughly).
    pub rows: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
    /// Batches waiting in the channel or being retried.
    pub pending: AtomicU64,
    /// Wall-clock ms of the first failure of the current run of failures; 0 while writes succeed.
    /// A store that cannot write is not ready, however alive the pipeline is.
    pub failing_since_ms: AtomicI64,
    /// Times the connection was opened again after a failure a fresh connection may not have
    /// (read-only, cannot open, I/O error).
    pub reopens: AtomicU64,
    /// Times the database file was found deleted or its write-ahead log gone, and was written
    /// anew from the open connection.
    pub restores: AtomicU64,
    /// Set when the daemon is stopping: the writer then retries for [`Patience::at_shutdown`]
    /// at most.
    pub closing: AtomicBool,
}

/// How long the writer goes on retrying a write that fails with an error time may fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    /// A run of failures longer than this stops the writer, and with it the daemon (non-zero, saying
    /// what was not written): a store down for this long needs a person, and a supervisor's
    /// restart is the honest signal.
    pub give_up_after: Duration,
    /// Once the daemon is stopping, retries last this long at most, so that shutdown is bounded
    /// whatever the store does.
    pub at_shutdown: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Self {
            give_up_after: Duration::from_secs(600),
            at_shutdown: Duration::from_secs(30),
        }
    }
}

/// What a writer that stopped had not written: the batch it was retrying and those still queued.
/// Checkpoints were not advanced past them, so a file source reads them again at the next start;
/// what came from a live network source is gone, and this says how much.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unwritten {
    /// Batches.
    pub batches: u64,
    /// Movement events.
    pub events: u64,
    /// Positions.
    pub positions: u64,
    /// Webhook alerts to queue.
    pub alerts: u64,
    /// Vessel states.
    pub vessels: u64,
    /// The earliest and latest message time among them.
    pub span: Option<(UnixMillis, UnixMillis)>,
}

impl Unwritten {
    fn add(&mut self, b: &Batch, batches: u64) {
        self.batches += batches;
        self.events += b.events.len() as u64;
        self.positions += b.positions.len() as u64;
        self.alerts += b.alerts.len() as u64;
        self.vessels += b.snapshots.len() as u64;
        let times =
            (b.events.iter().map(|e| e.time)).chain(b.positions.iter().map(|(_, f)| f.time));
        for t in times {
            self.span = Some(match self.span {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
    }
}

impl std::fmt::Display for Unwritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} batch(es): {} event(s), {} position(s), {} alert(s), {} vessel state(s)",
            self.batches, self.events, self.positions, self.alerts, self.vessels
        )?;
        if let Some((lo, hi)) = self.span {
            write!(f, ", message times {lo} to {hi}")?;
        }
        Ok(())
    }
}

/// The writer thread has stopped (a write failed for good, or it panicked): nothing more can be
/// stored, and whoever hands it batches must stop rather than drop them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store writer has stopped; nothing more can be written")]
pub struct WriterStopped;

/// The single writer thread and the bounded channel to it.
#[derive(Debug)]
pub struct Writer {
    /// Held while a batch is put in the channel; `true` once the writer has stopped. The writer
    /// takes it to stop, so that a batch is either counted in what it reports unwritten or
    /// refused to its sender, never accepted and then dropped.
    gate: Arc<std::sync::Mutex<bool>>,
    tx: Option<SyncSender<Batch>>,
    handle: Option<JoinHandle<Result<(), StoreError>>>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer on `conn` with the default [`Patience`]. At most `capacity` batches wait;
    /// a full channel blocks the sender (back pressure: a slow disk slows the pipeline, it never
    /// grows memory).
    pub fn spawn(
        conn: Connection,
        path: PathBuf,
        capacity: usize,
        retention_ms: Option<i64>,
    ) -> Self {
        Self::spawn_with(conn, path, capacity, retention_ms, Patience::default())
    }

    /// [`Writer::spawn`] with a chosen patience (`[store] give_up_after`).
    pub fn spawn_with(
        conn: Connection,
        path: PathBuf,
        capacity: usize,
        retention_ms: Option<i64>,
        patience: Patience,
    ) -> Self {
        let (tx, rx) = sync_channel(capacity);
        let stats = Arc::new(WriterStats::default());
        let gate = Arc::new(std::sync::Mutex::new(false));
        let g = Arc::clone(&gate);
        let s = Arc::clone(&stats);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                Loop {
                    file: FileIds::read(&path),
                    conn,
                    detached: false,
                    closing_at: None,
                    gate: g,
                    path,
                    stats: s,
                    retention_ms,
                    patience,
                }
                .run(rx)
            })
            .expect("spawn the store writer");
        Self {
            tx: Some(tx),
            handle: Some(handle),
            stats,
            gate,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// The counters, to keep after the writer is gone (the HTTP endpoint reads them).
    pub fn stats_handle(&self) -> Arc<WriterStats> {
        Arc::clone(&self.stats)
    }

    /// The daemon is stopping: from now on a failing write is retried for
    /// [`Patience::at_shutdown`] at most.
    pub fn closing(&self) {
        self.stats.closing.store(true, Ordering::Relaxed);
    }

    /// Queues a batch and waits until it is committed. `Err` when the writer has stopped before
    /// committing it: the batch is not written, and [`Writer::finish`] says why.
    pub fn send_and_wait(&self, mut batch: Batch) -> Result<(), WriterStopped> {
        let (tx, rx) = sync_channel(1);
        batch.acks.push(Ack::new(move || {
            let _ = tx.send(());
        }));
        self.send(batch)?;
        rx.recv().map_err(|_| WriterStopped)
    }

    /// Queues a batch, waiting while the channel is full. `Err` when the writer has stopped: the
    /// batch is not written, and [`Writer::finish`] says why.
    pub fn send(&self, batch: Batch) -> Result<(), WriterStopped> {
        if batch.rows() == 0 && batch.clock.is_none() && batch.acks.is_empty() {
            return Ok(());
        }
        let Some(tx) = &self.tx else {
            return Err(WriterStopped);
        };
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        let mut batch = batch;
        let refused = || {
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
            Err(WriterStopped)
        };
        loop {
            let stopped = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            if *stopped {
                return refused();
            }
            match tx.try_send(batch) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::TrySendError::Full(b)) => batch = b,
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return refused(),
            }
            drop(stopped);
            // Full: wait for the writer (back pressure), without holding the gate it needs to
            // stop.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Closes the channel and waits until everything queued is written (or the writer gives up).
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.closing();
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(StoreError::WriterPanicked {
                unwritten: self.stats.pending.load(Ordering::Relaxed),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    /// A writer dropped without `finish` still writes what is queued before it goes: nothing
    /// accepted is lost because a caller forgot to finish.
    fn drop(&mut self) {
        self.closing();
        drop(self.tx.take());
        if let Some(h) = self.handle.take()
            && let Ok(Err(e)) = h.join()
        {
            tracing::error!(error = %crate::error::Chain(&e), "The store writer stopped with an error.");
        }
    }
}

/// Errors that waiting (and perhaps a new connection) may cure: a lock, a full disk, permissions
/// or a device being fixed. Anything else (a corrupt page, a schema that is not ours) is final.
fn retryable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DatabaseBusy
                | DatabaseLocked
                | DiskFull
                | ReadOnly
                | SystemIoFailure
                | CannotOpen
                | OutOfMemory
        )
    )
}

/// Errors after which the open connection itself may be the problem: it stays read-only, or its
/// file handle broken, after the cause is fixed. Locks and a full disk need no new connection.
fn reopen_helps(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(ReadOnly | SystemIoFailure | CannotOpen)
    )
}

/// Which files the open connection writes, by device and inode: the database and, once it exists,
/// its write-ahead log. SQLite goes on writing to files that were deleted under it, where no
/// reader (and no restart) will find what it wrote; comparing identities before each write is how
/// the writer notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIds {
    db: Option<(u64, u64)>,
    wal: Option<(u64, u64)>,
}

fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn wal_path(path: &std::path::Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

impl FileIds {
    fn read(path: &std::path::Path) -> Self {
        Self {
            db: file_id(path),
            wal: file_id(&wal_path(path)),
        }
    }
}

/// Why a write did not happen.
enum Failure {
    /// SQLite refused.
    Sqlite(rusqlite::Error),
    /// The database file, or its log, is not the one the connection has open.
    Gone(&'static str),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Sqlite(e) => e.fmt(f),
            Failure::Gone(why) => f.write_str(why),
        }
    }
}

/// The writer thread's state.
struct Loop {
    conn: Connection,
    /// Set between closing the old connection and opening the restored file: `conn` is then a
    /// placeholder with no file behind it, and must never be copied from.
    detached: bool,
    /// When the writer first saw the daemon stopping.
    closing_at: Option<Instant>,
    /// Refuses sends once the writer has stopped (see [`Writer::send`]).
    gate: Arc<std::sync::Mutex<bool>>,
    path: PathBuf,
    file: FileIds,
    stats: Arc<WriterStats>,
    retention_ms: Option<i64>,
    patience: Patience,
}

impl Loop {
    fn run(mut self, rx: Receiver<Batch>) -> Result<(), StoreError> {
        let mut newest: Option<UnixMillis> = None;
        let mut last_sweep: Option<Instant> = None;
        while let Ok(first) = rx.recv() {
            // Coalesce what is already queued into one transaction: fewer commits when busy.
            let mut batch = first;
            let mut count = 1u64;
            while batch.rows() < 50_000 {
                match rx.try_recv() {
                    Ok(b) => {
                        batch.absorb(b);
                        count += 1;
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.commit(&batch, count) {
                return Err(self.stop(e, &batch, count, rx));
            }
            tracing::trace!(rows = batch.rows(), checkpoints = ?batch.checkpoints.iter().map(|c| c.position).collect::<Vec<_>>(), "Batch committed.");
            newest = newest.max(batch.positions.iter().map(|(_, f)| f.time).max());
            if let (Some(keep), Some(newest)) = (self.retention_ms, newest)
                && last_sweep.is_none_or(|t| t.elapsed() >= RETENTION_SWEEP_EVERY)
            {
                last_sweep = Some(Instant::now());
                match delete_old_positions(&self.conn, newest, keep) {
                    Ok(n) if n > 0 => {
                        tracing::info!(deleted = n, "Deleted positions past retention.")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "Retention sweep failed; will try again later.")
                    }
                }
            }
            for ack in batch.acks.drain(..) {
                (ack.0)();
            }
            let stats = &self.stats;
            stats.batches.fetch_add(count, Ordering::Relaxed);
            stats.transactions.fetch_add(1, Ordering::Relaxed);
            stats.rows.fetch_add(batch.rows() as u64, Ordering::Relaxed);
            stats.pending.fetch_sub(count, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Writes `batch`, retrying what time may fix until the patience runs out. `Err` is the
    /// failure that ends the writer.
    fn commit(&mut self, batch: &Batch, count: u64) -> Result<(), rusqlite::Error> {
        let mut delays =
            crate::backoff::delays(Duration::from_millis(100), Duration::from_secs(30));
        let mut failing: Option<Instant> = None;
        loop {
            // A failure counts from the start of the attempt: SQLite itself waits out a lock
            // (its busy timeout) before it reports one.
            let attempt = (Instant::now(), crate::clock::now().0);
            let result = match self.check_files() {
                Ok(()) => write_batch(&mut self.conn, batch).map_err(Failure::Sqlite),
                Err(gone) => Err(gone),
            };
            let failure = match result {
                Ok(()) => {
                    if let Some(t) = failing {
                        tracing::info!(path = %self.path.display(), after_ms = t.elapsed().as_millis() as u64,
                            "Store writes succeed again.");
                    }
                    self.stats.failing_since_ms.store(0, Ordering::Relaxed);
                    // The log exists now if it did not at open.
                    self.file.wal = self.file.wal.or_else(|| file_id(&wal_path(&self.path)));
                    return Ok(());
                }
                Err(Failure::Sqlite(e)) if !retryable(&e) => return Err(e),
                Err(f) => f,
            };
            let started = *failing.get_or_insert(attempt.0);
            let _ = self.stats.failing_since_ms.compare_exchange(
                0,
                attempt.1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = delays.next().unwrap_or(Duration::from_secs(30));
            let pending = self.stats.pending.load(Ordering::Relaxed);
            tracing::warn!(path = %self.path.display(), error = %failure, pending, batches = count,
                retry_in_ms = wait.as_millis() as u64, failing_for_s = started.elapsed().as_secs(),
                give_up_after_s = self.patience.give_up_after.as_secs(),
                "Store write failed; the batch stays queued and intake waits until it is written.");
            let deadline = self.deadline(started);
            if Instant::now() >= deadline {
                return Err(match failure {
                    Failure::Sqlite(e) => e,
                    Failure::Gone(why) => gone_error(why),
                });
            }
            self.sleep_until((Instant::now() + wait).min(deadline), started);
            self.recover(&failure);
        }
    }

    /// When to give up: the configured patience, or the shutdown patience once closing.
    /// (Since the daemon began stopping, whichever batch is being retried: the shutdown
    /// patience is one budget for all of them.)
    fn deadline(&mut self, failing: Instant) -> Instant {
        let mut d = failing + self.patience.give_up_after;
        if self.stats.closing.load(Ordering::Relaxed) {
            d = d
                .min(*self.closing_at.get_or_insert_with(Instant::now) + self.patience.at_shutdown);
        }
        d
    }

    /// Sleeps until `until`, waking early when the daemon starts stopping (a backoff of 30 s must
    /// not stretch shutdown past its bound).
    fn sleep_until(&mut self, until: Instant, failing: Instant) {
        loop {
            let now = Instant::now();
            let until = until.min(self.deadline(failing));
            if now >= until {
                return;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    /// Before a retry: write the database anew if its files are gone, or open a new connection if
    /// the old one may be what fails.
    fn recover(&mut self, failure: &Failure) {
        match failure {
            Failure::Gone(why) => match self.restore() {
                Ok(()) => {
                    self.stats.restores.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(path = %self.path.display(), why,
                        "The database was written anew from the open connection; nothing committed was lost.");
                }
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), why, error = %e,
                        "The database could not be written anew yet; will retry.")
                }
            },
            Failure::Sqlite(e) if reopen_helps(e) => {
                // Only the very file the connection had: a new empty one would hide what was written.
                if FileIds::read(&self.path).db != self.file.db {
                    return;
                }
                match super::open(&self.path) {
                    Ok(conn) => {
                        self.conn = conn;
                        self.file = FileIds::read(&self.path);
                        self.stats.reopens.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(path = %self.path.display(), "Store connection opened again.");
                    }
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), error = %crate::error::Chain(&e),
                            "Store connection could not be opened again; will retry.")
                    }
                }
            }
            Failure::Sqlite(_) => {}
        }
    }

    /// `Err` when the database file, or its write-ahead log, was deleted or replaced under the
    /// connection.
    fn check_files(&self) -> Result<(), Failure> {
        if self.detached {
            return Err(Failure::Gone(
                "the database is being written anew after its files were deleted",
            ));
        }
        let now = FileIds::read(&self.path);
        if now.db != self.file.db {
            return Err(Failure::Gone(if now.db.is_none() {
                "the database file was deleted under the running daemon"
            } else {
                "the database file was replaced under the running daemon"
            }));
        }
        if self.file.wal.is_some() && now.wal != self.file.wal {
            return Err(Failure::Gone(
                "the database's write-ahead log was deleted or replaced under the running daemon",
            ));
        }
        Ok(())
    }

    /// Writes everything the open connection sees (the old files stay readable through it) to a
    /// new database at the path, then opens that. A file someone else put at the path is never
    /// overwritten: that is theirs, and the writer keeps failing until it is moved away.
    fn restore(&mut self) -> Result<(), StoreError> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".restoring");
        let tmp = PathBuf::from(tmp);
        if !self.detached {
            let err = super::sql_err(&self.path);
            let _ = std::fs::remove_file(&tmp);
            self.conn
                .execute("VACUUM INTO ?1", [tmp.to_string_lossy()])
                .map_err(&err)?;
            let replaced = FileIds::read(&self.path).db;
            if replaced.is_some() && replaced != self.file.db {
                let _ = std::fs::remove_file(&tmp);
                return Err(StoreError::Replaced {
                    path: self.path.clone(),
                });
            }
            // Close the old connection before the new file takes the name: closing checkpoints
            // into the old (deleted) file and removes a `-wal` by name, which must not be the new
            // one's. From here the copy at `tmp` is the database.
            let placeholder = Connection::open_in_memory().map_err(&err)?;
            drop(std::mem::replace(&mut self.conn, placeholder));
            self.detached = true;
        }
        if tmp.exists() {
            std::fs::rename(&tmp, &self.path).map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        } else if !self.path.exists() {
            // Neither the copy nor the renamed file: opening would create an empty database and
            // hide that everything before was lost.
            return Err(StoreError::Io {
                path: tmp,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the restored copy of the database is gone",
                ),
            });
        }
        self.conn = super::open(&self.path)?;
        self.detached = false;
        self.file = FileIds::read(&self.path);
        Ok(())
    }

    /// Ends the writer on `e`: closes the channel first (a caller told of the failure must find
    /// later sends refused), then counts what it leaves unwritten.
    fn stop(
        &self,
        e: rusqlite::Error,
        batch: &Batch,
        count: u64,
        rx: Receiver<Batch>,
    ) -> StoreError {
        let mut lost = Unwritten::default();
        lost.add(batch, count);
        let mut stopped = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        *stopped = true;
        while let Ok(b) = rx.try_recv() {
            lost.add(&b, 1);
        }
        drop(rx);
        drop(stopped);
        tracing::error!(path = %self.path.display(), error = %e, unwritten = %lost,
            "Store writes failed for good; the writer stops, and the daemon with it.");
        StoreError::Unwritten {
            path: self.path.clone(),
            unwritten: Box::new(lost),
            last_error: SqliteError(e),
        }
    }
}

/// A "files gone" failure at the end of the patience, as the SQLite error a caller reports.
fn gone_error(why: &'static str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
        Some(why.to_string()),
    )
}
