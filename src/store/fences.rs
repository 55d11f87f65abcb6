//! Fence sync: the `fences` table follows the configuration, each definition hashed (its config
//! and, for GeoJSON fences, the file's content) so that an edit is noticed and dated.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, sql_err};

/// A configured fence as the `fences` table records it: the configuration turns each fence into
/// one (its definition includes the GeoJSON text, read when the configuration was loaded).
#[derive(Debug, Clone, PartialEq)]
pub struct FenceRecord {
    /// The fence's name, its key.
    pub name: String,
    /// `port`, `anchorage`, `area` or `gate`.
    pub kind: String,
    /// The whole definition as JSON, hashed to notice edits.
    pub definition: String,
}

/// Records the configured fences, noticing edits by a hash of each definition (its config and, for
/// GeoJSON fences, the file's content).
pub fn sync_fences(
    conn: &mut Connection,
    path: &Path,
    fences: &[FenceRecord],
) -> Result<usize, StoreError> {
    let err = sql_err(path);
    // One transaction for all: a config with a thousand fences opens in milliseconds.
    let tx = conn.transaction().map_err(&err)?;
    let changed = record_fences(&tx, fences).map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(changed)
}

/// Records `fences` in an open transaction; how many were new or changed. The writer uses it for a
/// reloaded configuration, in the batch that carries it.
pub(super) fn record_fences(
    tx: &rusqlite::Transaction<'_>,
    fences: &[FenceRecord],
) -> rusqlite::Result<usize> {
    let now = crate::clock::now();
    let mut changed = 0;
    for f in fences {
        let definition = &f.definition;
        let hash = format!(
            "{:016x}",
            vesselwatch_engine::event::fnv1a(&[definition.as_bytes()])
        );
        let old: Option<String> = tx
            .query_row("SELECT hash FROM fences WHERE name = ?1", [&f.name], |r| {
                r.get(0)
            })
            .optional()?;
        if old.as_deref() != Some(hash.as_str()) {
            if old.is_some() {
                tracing::info!(fence = %f.name, "Fence definition changed since the database last saw it.");
            }
            tx.execute(
                "INSERT INTO fences (name, kind, definition, hash, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET kind = ?2, definition = ?3, hash = ?4, updated = ?5",
                params![f.name, f.kind, definition, hash, now.0],
            )?;
            changed += 1;
        }
    }
    Ok(changed)
}
