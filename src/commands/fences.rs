//! `vesselwatch fences`: the configured fences with their kind and size, and the vessels inside
//! each now (the store's open visits): "who is in Tartus now" in one command.

use std::io::Write;
use std::path::PathBuf;

use geo::{ChamberlainDuquetteArea, Distance, Haversine};
use serde::Serialize;

use super::CommandError;
use super::table::{self, Field, Fit, Layout, Table};
use crate::config::Loaded;
use crate::store::{self, SqliteError, query};
use vesselwatch_engine::geofence::Shape;

/// One fence as `fences` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceRow {
    /// Its name.
    pub name: String,
    /// port, anchorage, area or gate.
    pub kind: String,
    /// Its size in words: radius, area and vertices, or length.
    pub size: String,
    /// Vessels inside now (open visits), by MMSI.
    pub inside: Vec<Inside>,
}

/// A vessel inside a fence now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inside {
    /// MMSI.
    pub mmsi: u32,
    /// Its AIS name, when known.
    pub name: Option<String>,
    /// Its watchlist label, when it has one (as visits carry it: `store::query::Visit::label`).
    pub label: Option<String>,
}

fn size(shape: &Shape, vertices: usize) -> String {
    match shape {
        Shape::Circle { radius_m, .. } => format!("circle, radius {:.1} km", radius_m / 1000.0),
        Shape::Polygons(mp) => format!(
            "polygon, {:.1} km², {vertices} vertices",
            mp.chamberlain_duquette_unsigned_area() / 1e6
        ),
        Shape::Gate(line) => format!(
            "gate, {:.1} km",
            Haversine.distance(line.start_point(), line.end_point()) / 1000.0
        ),
    }
}

/// Lists the fences of the configuration with the vessels inside each now, from the database if
/// there is one (a fresh install has none: then nobody is inside).
pub fn list(
    config: Option<&std::path::Path>,
    db: Option<PathBuf>,
    json: bool,
    out: &mut dyn Write,
) -> Result<usize, CommandError> {
    let loaded = Loaded::load(config)?;
    let db = db.unwrap_or_else(|| loaded.db_path());
    let open = if db.exists() {
        let conn = store::open_read_only(&db)?;
        let filter = query::Filter {
            open: true,
            ..query::Filter::default()
        };
        query::visits(&conn, &filter).map_err(|e| CommandError::Query(SqliteError(e)))?
    } else {
        Vec::new()
    };
    let rows: Vec<FenceRow> = loaded
        .fences
        .fences()
        .iter()
        .map(|f| FenceRow {
            name: f.name.clone(),
            kind: f.kind.to_string(),
            size: size(f.shape(), f.vertex_count()),
            inside: open
                .iter()
                .filter(|v| v.fence == f.name)
                .map(|v| Inside {
                    mmsi: v.mmsi,
                    name: v.name.clone(),
                    label: v.label.clone(),
                })
                .collect(),
        })
        .collect();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&rows).expect("rows serialise")
        )?;
        return Ok(rows.len());
    }
    const FIELDS: &[Field] = &[
        Field {
            name: "fence",
            fit: Fit::Whole,
        },
        Field {
            name: "kind",
            fit: Fit::Whole,
        },
        Field {
            name: "size",
            fit: Fit::Text,
        },
        Field {
            name: "inside now",
            fit: Fit::Text,
        },
    ];
    const LAYOUTS: &[Layout] = &[
        &[&["fence"], &["kind"], &["size"], &["inside now"]],
        &[&["fence", "kind"], &["size"], &["inside now"]],
    ];
    let mut table = Table::new(FIELDS, LAYOUTS);
    for r in &rows {
        let inside: Vec<String> = r
            .inside
            .iter()
            // The label, else the AIS name: as the query tables name a vessel.
            .map(|v| match v.label.as_ref().or(v.name.as_ref()) {
                Some(n) => format!("{n} ({})", v.mmsi),
                None => v.mmsi.to_string(),
            })
            .collect();
        table.push(vec![
            r.name.clone(),
            r.kind.clone(),
            r.size.clone(),
            if inside.is_empty() {
                "-".into()
            } else {
                inside.join(", ")
            },
        ]);
    }
    out.write_all(table.render(table::output_width()).as_bytes())?;
    Ok(rows.len())
}
