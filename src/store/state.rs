//! Reading back what the writer saved: the engine's state (every vessel's snapshot and the
//! engine clock) for an exact restart, and the sources' committed checkpoints for a resume.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::{Checkpoint, StoreError, sql_err};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::movement::VesselSnapshot;

/// The engine's saved state and clock: the snapshots of at most `limit` vessels, the latest heard,
/// among those heard within `recent_ms` of the saved engine clock (`None`, `None`: every vessel).
/// The others stay in the store and are recalled when heard ([`StoreRecall`]): a start no longer
/// loads every MMSI ever heard (2M took 14 s and 1.7 GB).
pub fn load_state(
    conn: &Connection,
    path: &Path,
    recent_ms: Option<i64>,
    limit: Option<usize>,
) -> Result<(Vec<VesselSnapshot>, Option<UnixMillis>), StoreError> {
    let err = sql_err(path);
    let clock: Option<i64> = conn
        .query_row("SELECT clock FROM engine_clock WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(&err)?;
    let since = match (clock, recent_ms) {
        (Some(c), Some(r)) => c.saturating_sub(r),
        _ => i64::MIN,
    };
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    // A vessel the `vessels` table lacks (none should) is loaded, as before this filter.
    let mut stmt = conn
        .prepare(
            "SELECT mmsi, fence, state FROM engine_state WHERE mmsi NOT IN (SELECT mmsi FROM vessels) \
             OR mmsi IN (SELECT mmsi FROM vessels WHERE last_seen >= ?1 ORDER BY last_seen DESC LIMIT ?2) \
             ORDER BY mmsi, fence",
        )
        .map_err(&err)?;
    let rows = stmt.query(rusqlite::params![since, limit]).map_err(&err)?;
    Ok((assemble(rows).map_err(&err)?, clock.map(UnixMillis)))
}

/// Builds snapshots from `(mmsi, fence, state)` rows in MMSI order: the vessel's own row (empty
/// fence) first, then one per fence.
fn assemble(mut rows: rusqlite::Rows<'_>) -> rusqlite::Result<Vec<VesselSnapshot>> {
    let mut out: Vec<VesselSnapshot> = Vec::new();
    while let Some(r) = rows.next()? {
        let (mmsi, fence, state): (u32, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if fence.is_empty() {
            match serde_json::from_str::<VesselSnapshot>(&state) {
                Ok(s) => out.push(s),
                Err(e) => {
                    tracing::warn!(mmsi, error = %e, "Unreadable saved vessel state; starting that vessel afresh.")
                }
            }
        } else if let Some(last) = out.last_mut().filter(|s| s.mmsi == mmsi)
            && let Some(m) = last.movement.as_mut()
        {
            match serde_json::from_str(&state) {
                Ok(s) => m.fences.push((fence, s)),
                Err(e) => {
                    tracing::warn!(mmsi, %fence, error = %e, "Unreadable saved fence state; dropped.")
                }
            }
        }
    }
    Ok(out)
}

/// Finds a forgotten vessel's saved state for the engine, on a read-only connection of its own
/// (WAL: it never waits for the writer). A vessel is forgotten only after its last change was
/// handed to the writer, days of silence later, so what is read is its latest state.
pub struct StoreRecall {
    conn: Connection,
    path: std::path::PathBuf,
    /// The writer's counters: after it wrote the database anew (files deleted under it), this
    /// connection, open on the deleted file, is opened again on the new one.
    writer: std::sync::Arc<super::WriterStats>,
    restores: u64,
}

impl StoreRecall {
    /// Opens the database at `path` read-only for recalls, following `writer`'s restores.
    pub fn open(
        path: &Path,
        writer: std::sync::Arc<super::WriterStats>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            conn: super::open_read_only(path)?,
            path: path.to_path_buf(),
            restores: writer.restores.load(std::sync::atomic::Ordering::Relaxed),
            writer,
        })
    }
}

impl vesselwatch_engine::movement::Recall for StoreRecall {
    fn recall(&mut self, mmsi: u32) -> Option<VesselSnapshot> {
        let restores = self
            .writer
            .restores
            .load(std::sync::atomic::Ordering::Relaxed);
        if restores != self.restores {
            match super::open_read_only(&self.path) {
                Ok(c) => {
                    self.conn = c;
                    self.restores = restores;
                }
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %crate::error::Chain(&e), "Could not open the restored database for recalls yet.");
                }
            }
        }
        let found = self
            .conn
            .prepare_cached(
                "SELECT mmsi, fence, state FROM engine_state WHERE mmsi = ?1 ORDER BY fence",
            )
            .and_then(|mut stmt| assemble(stmt.query([mmsi])?));
        match found {
            Ok(mut v) => v.pop(),
            Err(e) => {
                // The vessel then starts afresh, as a new one would: logged, not fatal.
                tracing::warn!(mmsi, path = %self.path.display(), error = %e, "Could not read a forgotten vessel's state back.");
                None
            }
        }
    }
}

/// The committed checkpoints of every feed, by feed (source name or input path): where a
/// restarted source resumes.
pub fn load_checkpoints(
    conn: &Connection,
    path: &Path,
) -> Result<std::collections::HashMap<String, Checkpoint>, StoreError> {
    let err = sql_err(path);
    let mut stmt = conn
        .prepare("SELECT feed, position, file_id, message_time FROM checkpoints")
        .map_err(&err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Checkpoint {
                feed: r.get(0)?,
                position: r.get::<_, i64>(1)?.max(0) as u64,
                file_id: r.get(2)?,
                message_time: r.get::<_, Option<i64>>(3)?.map(UnixMillis),
            })
        })
        .map_err(&err)?;
    rows.map(|c| c.map(|c| (c.feed.clone(), c)))
        .collect::<rusqlite::Result<_>>()
        .map_err(&err)
}
