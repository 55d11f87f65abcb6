//! Fence sync: the `fences` table follows the configuration, each definition hashed (its config
//! and, for GeoJSON fences, the file's content) so that an edit is noticed and dated.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, sql_err};
use crate::config::{FenceConfig, Loaded};

/// Records the configured fences, noticing edits by a hash of each definition (its config and, for
/// GeoJSON fences, the file's content).
pub fn sync_fences(
    conn: &mut Connection,
    path: &Path,
    loaded: &Loaded,
) -> Result<usize, StoreError> {
    let err = sql_err(path);
    let now = crate::clock::now();
    let mut changed = 0;
    // One transaction for all: a config with a thousand fences opens in milliseconds.
    let conn = conn.transaction().map_err(&err)?;
    for f in &loaded.config.fences {
        let definition = fence_definition(f, loaded);
        let hash = format!(
            "{:016x}",
            vesselwatch_engine::event::fnv1a(&[definition.as_bytes()])
        );
        let old: Option<String> = conn
            .query_row("SELECT hash FROM fences WHERE name = ?1", [&f.name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(&err)?;
        if old.as_deref() != Some(hash.as_str()) {
            if old.is_some() {
                tracing::info!(fence = %f.name, "Fence definition changed since the database last saw it.");
            }
            conn.execute(
                "INSERT INTO fences (name, kind, definition, hash, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET kind = ?2, definition = ?3, hash = ?4, updated = ?5",
                params![f.name, format!("{:?}", f.kind).to_lowercase(), definition, hash, now.0],
            )
            .map_err(&err)?;
            changed += 1;
        }
    }
    conn.commit().map_err(&err)?;
    Ok(changed)
}

fn fence_definition(f: &FenceConfig, loaded: &Loaded) -> String {
    let geojson = f
        .geojson
        .as_ref()
        .and_then(|p| loaded.read_relative(p).ok());
    serde_json::json!({
        "kind": format!("{:?}", f.kind).to_lowercase(),
        "center": f.center.map(|c| [c.lat, c.lon]),
        "radius_km": f.radius_km,
        "line": f.line.as_ref().map(|l| l.iter().map(|p| [p.lat, p.lon]).collect::<Vec<_>>()),
        "geojson": geojson,
        "exit_margin_km": f.exit_margin_km,
        "approach_km": f.approach_km,
        "min_dwell_ms": f.min_dwell.map(|d| d.millis()),
    })
    .to_string()
}
