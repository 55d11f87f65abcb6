//! `vesselwatch events | visits | vessels | track`: read the store while the daemon writes.
//!
//! Owns the query commands' options, relative times (`7d`), and the output formats: an aligned
//! table that fits a terminal, JSON, JSON lines, CSV, and GeoJSON for tracks. The SQL is the store's
//! (`store::query`); this module only presents rows.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::config::ConfigError;
use crate::config::Loaded;
use crate::store::query::{self, Filter};
use crate::store::{self, StoreError};
use vesselwatch_ais::time::UnixMillis;

/// Output formats of the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned table with UTC RFC 3339 times.
    #[default]
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header.
    Csv,
    /// GeoJSON (tracks only).
    Geojson,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "table" => OutputFormat::Table,
            "json" => OutputFormat::Json,
            "jsonl" => OutputFormat::Jsonl,
            "csv" => OutputFormat::Csv,
            "geojson" => OutputFormat::Geojson,
            _ => {
                return Err(format!(
                    "`{s}` is not a format: use table, json, jsonl, csv (or geojson for track)"
                ));
            }
        })
    }
}

/// A point in time given on the command line: RFC 3339, or a duration back from now (`7d`, `12h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// An absolute time.
    At(UnixMillis),
    /// This long before now.
    Ago(i64),
}

impl std::str::FromStr for TimeArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(t) = UnixMillis::parse_rfc3339(s.as_bytes()) {
            return Ok(TimeArg::At(t));
        }
        humantime::parse_duration(s)
            .map(|d| TimeArg::Ago(d.as_millis() as i64))
            .map_err(|_| {
                format!(
                    "`{s}` is neither an RFC 3339 time (2025-01-25T00:00:00Z) nor a duration (7d)"
                )
            })
    }
}

impl TimeArg {
    fn resolve(self, now: UnixMillis) -> UnixMillis {
        match self {
            TimeArg::At(t) => t,
            TimeArg::Ago(ms) => UnixMillis(now.0 - ms),
        }
    }
}

/// What to query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// Events.
    Events,
    /// Visits.
    Visits,
    /// Vessels.
    Vessels,
    /// Positions.
    Track,
}

/// Options shared by the query commands.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// The database; default from the config as for `replay`.
    pub db: Option<PathBuf>,
    /// The config that names the database.
    pub config: Option<PathBuf>,
    /// `NAME|MMSI|IMO`.
    pub vessel: Option<String>,
    /// Fence name.
    pub fence: Option<String>,
    /// Event kind.
    pub kind: Option<String>,
    /// From.
    pub since: Option<TimeArg>,
    /// Until.
    pub until: Option<TimeArg>,
    /// Output format.
    pub format: OutputFormat,
}

/// Errors of the query commands.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The config naming the database is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A query failed.
    #[error("query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database file does not exist.
    #[error("{0}: no such database (run `vesselwatch replay` or the daemon first, or pass --db)")]
    NoDatabase(PathBuf),
    /// GeoJSON was asked of something that is not a track.
    #[error("--format geojson is only for `track`")]
    NotATrack,
    /// Output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs a query, writing to `out`.
pub fn run(
    what: What,
    opts: &QueryOptions,
    now: UnixMillis,
    out: &mut dyn Write,
) -> Result<usize, QueryError> {
    let db = match &opts.db {
        Some(d) => d.clone(),
        None => Loaded::load(opts.config.as_deref())?.db_path(),
    };
    if !db.exists() {
        return Err(QueryError::NoDatabase(db));
    }
    if opts.format == OutputFormat::Geojson && what != What::Track {
        return Err(QueryError::NotATrack);
    }
    let conn = store::open_read_only(&db)?;
    let filter = Filter {
        mmsis: match &opts.vessel {
            Some(v) => Some(query::resolve_vessel(&conn, v)?),
            None => None,
        },
        fence: opts.fence.clone(),
        kind: opts.kind.clone(),
        since: opts.since.map(|t| t.resolve(now)),
        until: opts.until.map(|t| t.resolve(now)),
    };
    let (table, json): (Table, Vec<Value>) = match what {
        What::Events => {
            let records = query::events(&conn, &filter)?;
            if opts.format == OutputFormat::Jsonl {
                // The stored record, byte for byte: the same line `replay --format jsonl` printed.
                for r in &records {
                    writeln!(out, "{r}")?;
                }
                return Ok(records.len());
            }
            let values: Vec<Value> = records
                .iter()
                .filter_map(|r| serde_json::from_str(r).ok())
                .collect();
            (events_table(&values), values)
        }
        What::Visits => {
            let rows = query::visits(&conn, &filter)?;
            let values = json_values(&rows);
            let table = Table {
                headers: vec![
                    "vessel",
                    "mmsi",
                    "fence",
                    "arrival",
                    "departure",
                    "duration",
                    "flags",
                ],
                rows: rows
                    .iter()
                    .map(|v| {
                        let mut flags = Vec::new();
                        if v.present_at_start {
                            flags.push("present at start");
                        }
                        if v.inferred {
                            flags.push("departure inferred");
                        }
                        vec![
                            v.name.clone().unwrap_or_default(),
                            v.mmsi.to_string(),
                            v.fence.clone(),
                            v.arrival
                                .map(|t| t.to_string())
                                .unwrap_or_else(|| "?".into()),
                            v.departure
                                .map(|t| t.to_string())
                                .unwrap_or_else(|| "(in port)".into()),
                            v.duration_s.map(duration).unwrap_or_default(),
                            flags.join(", "),
                        ]
                    })
                    .collect(),
            };
            (table, values)
        }
        What::Vessels => {
            let rows = query::vessels(&conn, &filter)?;
            let values = json_values(&rows);
            let table = Table {
                headers: vec![
                    "mmsi",
                    "imo",
                    "name",
                    "callsign",
                    "type",
                    "first seen",
                    "last seen",
                    "lat",
                    "lon",
                ],
                rows: rows
                    .iter()
                    .map(|v| {
                        vec![
                            v.mmsi.to_string(),
                            v.imo.map(|i| i.to_string()).unwrap_or_default(),
                            v.name.clone().unwrap_or_default(),
                            v.callsign.clone().unwrap_or_default(),
                            v.shiptype.map(|t| t.to_string()).unwrap_or_default(),
                            v.first_seen.to_string(),
                            v.last_seen.to_string(),
                            v.lat.map(|x| format!("{x:.5}")).unwrap_or_default(),
                            v.lon.map(|x| format!("{x:.5}")).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            };
            (table, values)
        }
        What::Track => {
            let points = query::track(&conn, &filter)?;
            if opts.format == OutputFormat::Geojson {
                writeln!(out, "{}", geojson(&points))?;
                return Ok(points.len());
            }
            let values = json_values(&points);
            let table = Table {
                headers: vec!["time", "mmsi", "lat", "lon", "sog"],
                rows: points
                    .iter()
                    .map(|p| {
                        vec![
                            p.time.to_string(),
                            p.mmsi.to_string(),
                            format!("{:.5}", p.lat),
                            format!("{:.5}", p.lon),
                            p.sog.map(|s| format!("{s:.1}")).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            };
            (table, values)
        }
    };
    let n = json.len();
    match opts.format {
        OutputFormat::Table => out.write_all(table.render(terminal_width()).as_bytes())?,
        OutputFormat::Csv => out.write_all(table.csv().as_bytes())?,
        OutputFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).expect("serialisable")
        )?,
        OutputFormat::Jsonl => {
            for v in &json {
                writeln!(out, "{v}")?;
            }
        }
        OutputFormat::Geojson => unreachable!("refused above for everything but tracks"),
    }
    Ok(n)
}

/// Rows as JSON values, for the json and jsonl formats.
fn json_values<T: serde::Serialize>(rows: &[T]) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::to_value(r).expect("rows serialise"))
        .collect()
}

fn events_table(values: &[Value]) -> Table {
    let s = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Table {
        headers: vec![
            "time", "kind", "vessel", "mmsi", "fence", "lat", "lon", "sog", "note",
        ],
        rows: values
            .iter()
            .map(|e| {
                let vessel = [&e["label"], &e["name"]]
                    .into_iter()
                    .map(s)
                    .find(|x| !x.is_empty())
                    .unwrap_or_default();
                let coord = |v: &Value| v.as_f64().map(|x| format!("{x:.4}")).unwrap_or_default();
                let mut note = Vec::new();
                if let Some(d) = e["direction"].as_str() {
                    note.push(d.to_string());
                }
                if e["inferred"] == true {
                    note.push("inferred".into());
                }
                if let (Some(a), Some(b)) = (e["window_start"].as_str(), e["window_end"].as_str()) {
                    note.push(format!("{a} .. {b}"));
                }
                vec![
                    s(&e["time"]),
                    s(&e["kind"]),
                    vessel,
                    s(&e["mmsi"]),
                    s(&e["fence"]),
                    coord(&e["lat"]),
                    coord(&e["lon"]),
                    e["sog"]
                        .as_f64()
                        .map(|x| format!("{x:.1}"))
                        .unwrap_or_default(),
                    note.join(" "),
                ]
            })
            .collect(),
    }
}

fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h:02}h{m:02}m")
    } else {
        format!("{h}h{m:02}m")
    }
}

fn geojson(points: &[query::TrackPoint]) -> Value {
    let mut by_vessel: std::collections::BTreeMap<u32, Vec<&query::TrackPoint>> =
        Default::default();
    for p in points {
        by_vessel.entry(p.mmsi).or_default().push(p);
    }
    let features: Vec<Value> = by_vessel
        .into_iter()
        .map(|(mmsi, pts)| {
            serde_json::json!({
                "type": "Feature",
                "properties": {
                    "mmsi": mmsi,
                    "times": pts.iter().map(|p| p.time.to_string()).collect::<Vec<_>>(),
                },
                "geometry": {
                    "type": "LineString",
                    "coordinates": pts.iter().map(|p| [p.lon, p.lat]).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features })
}

/// Terminal width from `COLUMNS`, else 160 (wide enough for the event table's times).
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w >= 40)
        .unwrap_or(160)
}

/// Rows of text under headers.
struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Aligned columns; when wider than `width`, the widest columns are cut with `…`.
    fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = (0..n)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain(std::iter::once(self.headers[i].len()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
        while total(&widths) > width {
            let (i, &w) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .expect("columns");
            if w <= 8 {
                break;
            }
            widths[i] = w - 1;
        }
        let fit = |s: &str, w: usize| {
            let count = s.chars().count();
            if count <= w {
                format!("{s:<w$}")
            } else {
                let cut: String = s.chars().take(w.saturating_sub(1)).collect();
                format!("{cut}…")
            }
        };
        let mut out = String::new();
        let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string() + "\n";
        out.push_str(&line(
            self.headers
                .iter()
                .zip(&widths)
                .map(|(h, w)| fit(h, *w))
                .collect(),
        ));
        for r in &self.rows {
            out.push_str(&line(
                r.iter().zip(&widths).map(|(c, w)| fit(c, *w)).collect(),
            ));
        }
        out
    }

    /// RFC 4180 CSV.
    fn csv(&self) -> String {
        let cell = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = self
            .headers
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        for r in &self.rows {
            out.push_str(&(r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",") + "\n"));
        }
        out
    }
}
