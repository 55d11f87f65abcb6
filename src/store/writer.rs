//! The single writer: one thread, fed by a bounded channel, that owns the write connection.
//!
//! SQLite allows one writer at a time; a single owner makes batching (queued batches coalesced
//! into one transaction), ordering and retry simple. A full channel blocks the sender: a slow disk
//! slows the pipeline, it never grows memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::batch::{RETENTION_SWEEP_EVERY, delete_old_positions, write_batch};
use super::{Ack, Batch, SqliteError, StoreError};
use vesselwatch_ais::time::UnixMillis;

/// The writer's counters, readable while it runs (metrics and logs).
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
}

/// The writer thread has stopped (a write failed for good, or it panicked): nothing more can be
/// stored, and whoever hands it batches must stop rather than drop them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store writer has stopped; nothing more can be written")]
pub struct WriterStopped;

/// The single writer thread and the bounded channel to it.
#[derive(Debug)]
pub struct Writer {
    tx: Option<SyncSender<Batch>>,
    handle: Option<JoinHandle<Result<(), StoreError>>>,
    stats: Arc<WriterStats>,
}

/// How long the writer keeps retrying at shutdown before giving up and reporting what is left.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(30);

impl Writer {
    /// Starts the writer on `conn`. At most `capacity` batches wait; a full channel blocks the
    /// sender (back pressure: a slow disk slows the pipeline, it never grows memory).
    pub fn spawn(
        conn: Connection,
        path: PathBuf,
        capacity: usize,
        retention_ms: Option<i64>,
    ) -> Self {
        let (tx, rx) = sync_channel(capacity);
        let stats = Arc::new(WriterStats::default());
        let s = Arc::clone(&stats);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, path, rx, s, retention_ms))
            .expect("spawn the store writer");
        Self {
            tx: Some(tx),
            handle: Some(handle),
            stats,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
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
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        match &self.tx {
            Some(tx) if tx.send(batch).is_ok() => Ok(()),
            _ => {
                self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                Err(WriterStopped)
            }
        }
    }

    /// Closes the channel and waits until everything queued is written (or the writer gives up).
    pub fn finish(mut self) -> Result<(), StoreError> {
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
        drop(self.tx.take());
        if let Some(h) = self.handle.take()
            && let Ok(Err(e)) = h.join()
        {
            tracing::error!(error = %crate::error::Chain(&e), "The store writer stopped with an error.");
        }
    }
}

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

fn writer_loop(
    mut conn: Connection,
    path: PathBuf,
    rx: Receiver<Batch>,
    stats: Arc<WriterStats>,
    retention_ms: Option<i64>,
) -> Result<(), StoreError> {
    let mut closed_at: Option<Instant> = None;
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
        let mut delays =
            crate::backoff::delays(Duration::from_millis(100), Duration::from_secs(30));
        loop {
            match write_batch(&mut conn, &batch) {
                Ok(()) => {
                    tracing::trace!(rows = batch.rows(), checkpoints = ?batch.checkpoints.iter().map(|c| c.position).collect::<Vec<_>>(), "Batch committed.");
                    newest = newest.max(batch.positions.iter().map(|(_, f)| f.time).max());
                    if let (Some(keep), Some(newest)) = (retention_ms, newest)
                        && last_sweep.is_none_or(|t| t.elapsed() >= RETENTION_SWEEP_EVERY)
                    {
                        last_sweep = Some(Instant::now());
                        match delete_old_positions(&conn, newest, keep) {
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
                    stats.batches.fetch_add(count, Ordering::Relaxed);
                    stats.transactions.fetch_add(1, Ordering::Relaxed);
                    stats.rows.fetch_add(batch.rows() as u64, Ordering::Relaxed);
                    stats.pending.fetch_sub(count, Ordering::Relaxed);
                    break;
                }
                Err(e) if retryable(&e) => {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = delays.next().unwrap_or(Duration::from_secs(30));
                    let pending = stats.pending.load(Ordering::Relaxed);
                    tracing::warn!(path = %path.display(), error = %e, pending, retry_in_ms = wait.as_millis() as u64,
                        "Store write failed; the batch stays queued and will be retried.");
                    // Once the pipeline has finished, keep trying only for a while, then report.
                    let done =
                        rx.try_recv().err() == Some(std::sync::mpsc::TryRecvError::Disconnected);
                    let since = *closed_at.get_or_insert_with(Instant::now);
                    if done && since.elapsed() > SHUTDOWN_PATIENCE {
                        drop(rx);
                        return Err(StoreError::Unwritten {
                            path,
                            unwritten: pending,
                            last_error: SqliteError(e),
                        });
                    }
                    if !done {
                        closed_at = None;
                    }
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    // Not a condition that time fixes (a bug or a corrupt file): say so and stop.
                    tracing::error!(path = %path.display(), error = %e, "Store write failed permanently.");
                    // Close the channel before the failed batch (and the acks its senders wait
                    // on) is dropped: whoever learns of the failure must find later sends refused.
                    drop(rx);
                    return Err(StoreError::Unwritten {
                        path,
                        unwritten: stats.pending.load(Ordering::Relaxed),
                        last_error: SqliteError(e),
                    });
                }
            }
        }
    }
    Ok(())
}
