//! Reading back what the writer saved: the engine's state (every vessel's snapshot and the
//! engine clock) for an exact restart, and the sources' committed checkpoints for a resume.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::{Checkpoint, StoreError, sql_err};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::movement::VesselSnapshot;

/// The engine's saved state: every vessel's snapshot and the engine clock.
pub fn load_state(
    conn: &Connection,
    path: &Path,
) -> Result<(Vec<VesselSnapshot>, Option<UnixMillis>), StoreError> {
    let err = sql_err(path);
    let clock: Option<i64> = conn
        .query_row("SELECT clock FROM engine_clock WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(&err)?;
    let mut stmt = conn
        .prepare("SELECT mmsi, fence, state FROM engine_state ORDER BY mmsi, fence")
        .map_err(&err)?;
    let mut rows = stmt.query([]).map_err(&err)?;
    let mut out: Vec<VesselSnapshot> = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let (mmsi, fence, state): (u32, String, String) = (
            r.get(0).map_err(&err)?,
            r.get(1).map_err(&err)?,
            r.get(2).map_err(&err)?,
        );
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
    Ok((out, clock.map(UnixMillis)))
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
