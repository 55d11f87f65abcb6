//! `vesselwatch events | visits | vessels | track`: read the store while the daemon writes.
//!
//! Owns the query commands' options, relative times (`7d`), and the output formats: a table for
//! people (`commands::table`), JSON, JSON lines, CSV with one column per field (the `csv` crate),
//! and for maps GeoJSON and KML (`commands::kml`) of tracks, events and vessels. The SQL is the store's (`store::query`); this module only presents rows.

use super::CommandError;
use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::table::{self, Field, Fit, Layout, Table};
use crate::config::Loaded;
use crate::store::SqliteError;
use crate::store::query::{self, Filter};
use crate::store::{self};
use vesselwatch_ais::time::UnixMillis;

/// Output formats of the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A table for people, sized to the terminal (see `commands::table`), UTC RFC 3339 times.
    #[default]
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header: one column per field, snake_case headers.
    Csv,
    /// GeoJSON: a track's line, events and vessels as points (not visits: no position).
    Geojson,
    /// KML 2.2, for Google Earth: the same placemarks as the GeoJSON (`commands::kml`).
    Kml,
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
            "kml" => OutputFormat::Kml,
            _ => {
                return Err(format!(
                    "`{s}` is not a format: use table, json, jsonl, csv, geojson or kml"
                ));
            }
        })
    }
}

/// The store's filter for `opts`, checked: vessels resolved, unknown names and filters that do
/// not apply refused. The CLI and the HTTP API both come here, so they accept and refuse alike.
pub fn filter(
    conn: &rusqlite::Connection,
    what: What,
    opts: &QueryOptions,
    now: UnixMillis,
) -> Result<Filter, CommandError> {
    let filter = Filter {
        mmsis: match &opts.vessel {
            Some(v) => Some(known_vessel(conn, v)?),
            None => None,
        },
        fence: opts.fence.clone(),
        kind: opts.kind.clone(),
        since: opts.since.map(|t| t.resolve(now)),
        until: opts.until.map(|t| t.resolve(now)),
        open: opts.open,
        limit: opts.limit,
        spread: None,
    };
    check_filters(conn, what, &filter)?;
    Ok(filter)
}

/// The MMSIs `text` names; an error when the database has never heard of it (a name, or a number
/// no vessel reported), instead of empty output and exit 0.
fn known_vessel(conn: &rusqlite::Connection, text: &str) -> Result<Vec<u32>, CommandError> {
    let mmsis =
        query::resolve_vessel(conn, text).map_err(|e| CommandError::Query(SqliteError(e)))?;
    let mut known = Vec::with_capacity(mmsis.len());
    for m in mmsis {
        if query::vessel_exists(conn, m).map_err(|e| CommandError::Query(SqliteError(e)))? {
            known.push(m);
        }
    }
    if known.is_empty() {
        return Err(CommandError::UnknownVessel(text.to_string()));
    }
    Ok(known)
}

/// Refuses a filter that names nothing in the database, that this command cannot apply, or a
/// period that ends before it starts: each filter either works or is refused, never ignored.
fn check_filters(conn: &rusqlite::Connection, what: What, f: &Filter) -> Result<(), CommandError> {
    let sql = |e| CommandError::Query(SqliteError(e));
    if let (Some(s), Some(u)) = (f.since, f.until)
        && s >= u
    {
        return Err(CommandError::Filter(format!(
            "--since {s} is not before --until {u}: the period is empty"
        )));
    }
    if let Some(fence) = &f.fence {
        let known = query::fence_names(conn).map_err(sql)?;
        if !known.contains(fence) {
            return Err(CommandError::Unknown {
                what: "fence",
                given: fence.clone(),
                known,
            });
        }
        if what == What::Track {
            return Err(CommandError::Filter(
                "--fence does not apply to `track` (positions are not kept by fence); use `visits --fence` for the times".into(),
            ));
        }
    }
    if let Some(kind) = &f.kind {
        let known: Vec<String> = vesselwatch_engine::EventKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        if !known.contains(kind) {
            return Err(CommandError::Unknown {
                what: "event kind",
                given: kind.clone(),
                known,
            });
        }
        if matches!(what, What::Track | What::Visits) {
            return Err(CommandError::Filter(format!(
                "--kind applies to `events` and `vessels`, not `{}`",
                if what == What::Track {
                    "track"
                } else {
                    "visits"
                }
            )));
        }
    }
    Ok(())
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
        if let Some(t) = UnixMillis::parse_rfc3339_strict(s) {
            return Ok(TimeArg::At(t));
        }
        // A plain date (what people type): its start, UTC.
        if s.len() == 10
            && let Some(t) = UnixMillis::parse_rfc3339_strict(&format!("{s}T00:00:00Z"))
        {
            return Ok(TimeArg::At(t));
        }
        let d = humantime::parse_duration(s).map_err(|_| {
            format!(
                "`{s}` is neither a date (2025-01-25, UTC), an RFC 3339 time with its offset \
                 (2025-01-25T00:00:00Z, 2025-01-25T03:00:00+03:00) nor a duration (7d)"
            )
        })?;
        // Back from now, not before 1970: a duration such as 300000000y is refused, not wrapped.
        i64::try_from(d.as_millis())
            .ok()
            .filter(|&ms| ms <= 60 * 365 * 86_400_000)
            .map(TimeArg::Ago)
            .ok_or_else(|| format!("`{s}` reaches back further than 1970"))
    }
}

impl TimeArg {
    /// The time meant, a duration being counted back from `now`.
    pub fn resolve(self, now: UnixMillis) -> UnixMillis {
        match self {
            TimeArg::At(t) => t,
            TimeArg::Ago(ms) => UnixMillis(now.0.saturating_sub(ms).max(0)),
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
    /// Visits only: those not ended (who is inside now).
    pub open: bool,
    /// Visits only: at most this many.
    pub limit: Option<usize>,
}

/// Runs a query, writing to `out`; returns how many rows it wrote.
///
/// Every format is a view of one record per row: the row's JSON form (for events, the stored
/// record). The table and the CSV are made from that JSON, never from the database separately, so
/// they cannot disagree with `--format json`.
pub fn run(
    what: What,
    opts: &QueryOptions,
    now: UnixMillis,
    out: &mut dyn Write,
) -> Result<usize, CommandError> {
    let db = match &opts.db {
        Some(d) => d.clone(),
        None => Loaded::load(opts.config.as_deref())?.db_path(),
    };
    if !db.exists() {
        return Err(CommandError::NoDatabase(db));
    }
    if what == What::Visits {
        match opts.format {
            OutputFormat::Geojson => return Err(CommandError::NoPosition("geojson")),
            OutputFormat::Kml => return Err(CommandError::NoPosition("kml")),
            _ => {}
        }
    }
    let conn = store::open_read_only(&db)?;
    let filter = filter(&conn, what, opts, now)?;
    let json: Vec<Value> = match what {
        What::Events => {
            let records = query::events(&conn, &filter)?;
            if opts.format == OutputFormat::Jsonl {
                // The stored record, byte for byte: the same line `replay --format jsonl` printed.
                for r in &records {
                    writeln!(out, "{r}")?;
                }
                return Ok(records.len());
            }
            records
                .iter()
                .filter_map(|r| serde_json::from_str(r).ok())
                .collect()
        }
        What::Visits => json_values(&query::visits(&conn, &filter)?),
        What::Vessels => json_values(&query::vessels(&conn, &filter)?),
        What::Track => {
            let points = query::track(&conn, &filter)?;
            // A track is one line per vessel on a map, not a point per row.
            match opts.format {
                OutputFormat::Geojson => {
                    writeln!(out, "{}", geojson(&points))?;
                    return Ok(points.len());
                }
                OutputFormat::Kml => {
                    super::kml::track(out, &points)?;
                    return Ok(points.len());
                }
                _ => json_values(&points),
            }
        }
    };
    write_rows(what, opts.format, &json, out)
}

/// Writes `json`, the rows of a `what` query, in `format`; returns how many rows it wrote.
fn write_rows(
    what: What,
    format: OutputFormat,
    json: &[Value],
    out: &mut dyn Write,
) -> Result<usize, CommandError> {
    match format {
        OutputFormat::Table => {
            let table = match what {
                What::Events => events_table(json),
                What::Visits => visits_table(json),
                What::Vessels => vessels_table(json),
                What::Track => track_table(json),
            };
            out.write_all(table.render(table::output_width()).as_bytes())?;
        }
        OutputFormat::Csv => {
            let columns = match what {
                What::Events => EVENT_CSV,
                What::Visits => VISIT_CSV,
                What::Vessels => VESSEL_CSV,
                What::Track => TRACK_CSV,
            };
            write_csv(out, columns, json).map_err(std::io::Error::from)?;
        }
        OutputFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(json).expect("serialisable")
        )?,
        OutputFormat::Jsonl => {
            for v in json {
                writeln!(out, "{v}")?;
            }
        }
        // Events at their fix, vessels at their last position; the record is the properties.
        OutputFormat::Geojson => writeln!(out, "{}", points_geojson(json))?,
        OutputFormat::Kml => points_kml(what, json, out)?,
    }
    Ok(json.len())
}

/// Records with a position as KML placemarks, as `points_geojson` does: events at their fix with
/// their time, vessels at their last position when last seen; every CSV column that has a value
/// as `ExtendedData`, so the KML holds what the CSV does.
fn points_kml(what: What, records: &[Value], out: &mut dyn Write) -> std::io::Result<()> {
    use super::kml::{Mark, When, cell};
    let (title, columns, time) = match what {
        What::Events => ("vesselwatch events", EVENT_CSV, "/time"),
        What::Vessels => ("vesselwatch vessels", VESSEL_CSV, "/last_seen"),
        // Refused before the query (no position), and tracks have their own.
        What::Visits | What::Track => unreachable!("points_kml for {what:?}"),
    };
    let marks: Vec<Mark<'_>> = records
        .iter()
        .filter_map(|r| {
            let (lat, lon) = (r["lat"].as_f64()?, r["lon"].as_f64()?);
            let vessel = vessel_cell(r);
            let (name, description) = match what {
                What::Events => (
                    format!("{} {vessel}", text(&r["kind"])),
                    format!(
                        "{} of {vessel} (MMSI {}) at {}, {}",
                        text(&r["kind"]),
                        text(&r["mmsi"]),
                        text(&r["fence"]),
                        text(&r["time"])
                    ),
                ),
                _ => (
                    vessel.clone(),
                    format!(
                        "{vessel} (MMSI {}), last seen {}",
                        text(&r["mmsi"]),
                        text(&r["last_seen"])
                    ),
                ),
            };
            Some(Mark {
                name,
                description,
                when: r
                    .pointer(time)
                    .and_then(Value::as_str)
                    .map_or(When::Unknown, When::Stamp),
                data: columns.iter().map(|(h, at)| (*h, cell(r, at))).collect(),
                coordinates: vec![(lon, lat)],
            })
        })
        .collect();
    super::kml::write(out, title, &marks)
}

/// Who a row is about, for people: the watchlist label, else the AIS name, else the MMSI. The
/// same rule in every table and placemark, since events, visits and vessels all carry both.
fn vessel_cell(r: &Value) -> String {
    [&r["label"], &r["name"], &r["mmsi"]]
        .into_iter()
        .map(text)
        .find(|x| !x.is_empty())
        .unwrap_or_default()
}

/// Records with a position (`lat`, `lon`) as a FeatureCollection of Points, each record whole as
/// its properties; records without one are left out (a vessel never placed).
fn points_geojson(records: &[Value]) -> Value {
    let features: Vec<Value> = records
        .iter()
        .filter_map(|r| {
            let (lat, lon) = (r["lat"].as_f64()?, r["lon"].as_f64()?);
            Some(serde_json::json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [lon, lat] },
                "properties": r,
            }))
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features })
}

/// Rows as JSON values, for the json and jsonl formats.
fn json_values<T: serde::Serialize>(rows: &[T]) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::to_value(r).expect("rows serialise"))
        .collect()
}

/// A CSV column: its header (snake_case, the JSON key where there is one) and where its value is
/// in the row's JSON form, as a JSON pointer. Nested values get a column each (`other_side_time`).
pub(crate) type CsvColumn = (&'static str, &'static str);

/// Every field of an event (`vesselwatch_engine::event::Event`), one column each.
const EVENT_CSV: &[CsvColumn] = &[
    ("id", "/id"),
    ("time", "/time"),
    ("kind", "/kind"),
    ("mmsi", "/mmsi"),
    ("imo", "/imo"),
    ("name", "/name"),
    ("callsign", "/callsign"),
    ("label", "/label"),
    ("group", "/group"),
    ("fence", "/fence"),
    ("lat", "/lat"),
    ("lon", "/lon"),
    ("sog", "/sog"),
    ("direction", "/direction"),
    ("inferred", "/inferred"),
    ("crossing_time", "/crossing_time"),
    ("window_start", "/window_start"),
    ("window_end", "/window_end"),
    ("visit_start", "/visit_start"),
    ("other_side_time", "/other_side/time"),
    ("other_side_lat", "/other_side/lat"),
    ("other_side_lon", "/other_side/lon"),
];

/// Every field of a visit (`store::query::Visit`); the duration in whole seconds.
const VISIT_CSV: &[CsvColumn] = &[
    ("mmsi", "/mmsi"),
    ("imo", "/imo"),
    ("name", "/name"),
    ("label", "/label"),
    ("group", "/group"),
    ("fence", "/fence"),
    ("arrival", "/arrival"),
    ("departure", "/departure"),
    ("duration_s", "/duration_s"),
    ("present_at_start", "/present_at_start"),
    ("inferred", "/inferred"),
];

/// Every field of a vessel (`store::query::VesselRow`); `names`, every name it has reported, joined
/// by `|`, a character AIS text cannot hold.
const VESSEL_CSV: &[CsvColumn] = &[
    ("mmsi", "/mmsi"),
    ("imo", "/imo"),
    ("name", "/name"),
    ("label", "/label"),
    ("group", "/group"),
    ("callsign", "/callsign"),
    ("flag", "/flag"),
    ("flag_code", "/flag_code"),
    ("shiptype", "/shiptype"),
    ("shiptype_text", "/shiptype_text"),
    ("first_seen", "/first_seen"),
    ("last_seen", "/last_seen"),
    ("lat", "/lat"),
    ("lon", "/lon"),
    ("names", "/names"),
];

/// Every field of a position (`store::query::TrackPoint`).
const TRACK_CSV: &[CsvColumn] = &[
    ("time", "/time"),
    ("mmsi", "/mmsi"),
    ("lat", "/lat"),
    ("lon", "/lon"),
    ("sog", "/sog"),
];

/// CSV with a header row, quoted by the `csv` crate wherever a value holds a comma, a quote or a
/// line break. Values are the JSON's: numbers as JSON writes them, `true`/`false`, times in RFC 3339
/// UTC, and an empty field for null.
fn write_csv(out: &mut dyn Write, columns: &[CsvColumn], rows: &[Value]) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(columns.iter().map(|(header, _)| header))?;
    for row in rows {
        w.write_record(columns.iter().map(|(_, at)| csv_cell(row.pointer(at))))?;
    }
    w.flush()?;
    Ok(())
}

/// One CSV field: a missing or null value is empty, a list is joined by `|`.
pub(crate) fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| csv_cell(Some(i)))
            .collect::<Vec<_>>()
            .join("|"),
        Some(other) => other.to_string(),
    }
}

/// A JSON value as table text: strings as they are, null as nothing.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON number with `decimals` places, or nothing.
fn fixed(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.decimals$}"))
        .unwrap_or_default()
}

/// A table field that never wraps (see `Fit::Whole`).
const fn whole(name: &'static str) -> Field {
    Field {
        name,
        fit: Fit::Whole,
    }
}

/// A table field of free text, wrapped at spaces (see `Fit::Text`).
const fn free(name: &'static str) -> Field {
    Field {
        name,
        fit: Fit::Text,
    }
}

/// The events table: the vessel as `vessel_cell` names it; the note holds the
/// direction of a transit, `inferred`, and the window an event covers.
fn events_table(values: &[Value]) -> Table {
    const FIELDS: &[Field] = &[
        whole("time"),
        whole("kind"),
        whole("mmsi"),
        free("vessel"),
        whole("fence"),
        whole("lat"),
        whole("lon"),
        whole("sog"),
        free("note"),
    ];
    const LAYOUTS: &[Layout] = &[
        &[
            &["time"],
            &["kind"],
            &["mmsi"],
            &["vessel"],
            &["fence"],
            &["lat"],
            &["lon"],
            &["sog"],
            &["note"],
        ],
        &[
            &["time"],
            &["kind"],
            &["mmsi"],
            &["vessel"],
            &["fence"],
            &["note"],
        ],
        &[
            &["time", "kind"],
            &["mmsi", "vessel"],
            &["fence"],
            &["note"],
        ],
    ];
    let mut table = Table::new(FIELDS, LAYOUTS);
    for e in values {
        let vessel = vessel_cell(e);
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
        table.push(vec![
            text(&e["time"]),
            text(&e["kind"]),
            text(&e["mmsi"]),
            vessel,
            text(&e["fence"]),
            fixed(&e["lat"], 4),
            fixed(&e["lon"], 4),
            fixed(&e["sog"], 1),
            note.join(" "),
        ]);
    }
    table
}

/// The visits table: the vessel as `vessel_cell` names it (as in the events table); a departure
/// not yet seen is `(in port)`; the duration for people (`4d 23h58m`; the CSV has seconds).
fn visits_table(values: &[Value]) -> Table {
    const FIELDS: &[Field] = &[
        whole("mmsi"),
        free("vessel"),
        whole("fence"),
        whole("arrival"),
        whole("departure"),
        whole("duration"),
        free("flags"),
    ];
    const LAYOUTS: &[Layout] = &[
        &[
            &["mmsi"],
            &["vessel"],
            &["fence"],
            &["arrival"],
            &["departure"],
            &["duration"],
            &["flags"],
        ],
        &[
            &["mmsi", "vessel"],
            &["fence"],
            &["arrival", "departure"],
            &["duration"],
            &["flags"],
        ],
    ];
    let mut table = Table::new(FIELDS, LAYOUTS);
    for v in values {
        let mut flags = Vec::new();
        if v["present_at_start"] == true {
            flags.push("present at start");
        }
        if v["inferred"] == true {
            flags.push("departure inferred");
        }
        let or = |v: &Value, missing: &str| v.as_str().unwrap_or(missing).to_string();
        table.push(vec![
            text(&v["mmsi"]),
            vessel_cell(v),
            text(&v["fence"]),
            or(&v["arrival"], "?"),
            or(&v["departure"], "(in port)"),
            v["duration_s"].as_i64().map(duration).unwrap_or_default(),
            flags.join(", "),
        ]);
    }
    table
}

/// The vessels table, with the watchlist label beside the AIS name, the flag, and the last known
/// position.
fn vessels_table(values: &[Value]) -> Table {
    const FIELDS: &[Field] = &[
        whole("mmsi"),
        whole("imo"),
        free("name"),
        free("label"),
        whole("callsign"),
        free("flag"),
        free("type"),
        whole("first seen"),
        whole("last seen"),
        whole("lat"),
        whole("lon"),
    ];
    const LAYOUTS: &[Layout] = &[
        &[
            &["mmsi"],
            &["imo"],
            &["name"],
            &["label"],
            &["callsign"],
            &["flag"],
            &["type"],
            &["first seen"],
            &["last seen"],
            &["lat"],
            &["lon"],
        ],
        &[
            &["mmsi"],
            &["imo"],
            &["name"],
            &["label"],
            &["callsign"],
            &["flag"],
            &["type"],
            &["first seen"],
            &["last seen"],
        ],
        &[
            &["mmsi", "imo"],
            &["name", "label"],
            &["callsign", "flag"],
            &["type"],
            &["first seen", "last seen"],
            &["lat", "lon"],
        ],
    ];
    let mut table = Table::new(FIELDS, LAYOUTS);
    for v in values {
        table.push(vec![
            text(&v["mmsi"]),
            text(&v["imo"]),
            text(&v["name"]),
            text(&v["label"]),
            text(&v["callsign"]),
            text(&v["flag"]),
            text(&v["shiptype_text"]),
            text(&v["first_seen"]),
            text(&v["last_seen"]),
            fixed(&v["lat"], 5),
            fixed(&v["lon"], 5),
        ]);
    }
    table
}

/// The track table: one position per line.
fn track_table(values: &[Value]) -> Table {
    const FIELDS: &[Field] = &[
        whole("time"),
        whole("mmsi"),
        whole("lat"),
        whole("lon"),
        whole("sog"),
    ];
    const LAYOUTS: &[Layout] = &[&[&["time"], &["mmsi"], &["lat"], &["lon"], &["sog"]]];
    let mut table = Table::new(FIELDS, LAYOUTS);
    for p in values {
        table.push(vec![
            text(&p["time"]),
            text(&p["mmsi"]),
            fixed(&p["lat"], 5),
            fixed(&p["lon"], 5),
            fixed(&p["sog"], 1),
        ]);
    }
    table
}

fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h:02}h{m:02}m")
    } else {
        format!("{h}h{m:02}m")
    }
}

/// A track as GeoJSON: a LineString per vessel (a Point for one fix), with the times.
pub fn geojson(points: &[query::TrackPoint]) -> Value {
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
                // A LineString needs two positions (RFC 7946 3.1.4): one fix is a Point.
                "geometry": match pts.as_slice() {
                    [p] => serde_json::json!({ "type": "Point", "coordinates": [p.lon, p.lat] }),
                    _ => serde_json::json!({
                        "type": "LineString",
                        "coordinates": pts.iter().map(|p| [p.lon, p.lat]).collect::<Vec<_>>(),
                    }),
                },
            })
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use vesselwatch_engine::event::{Event, FixRecord};
    use vesselwatch_engine::vocab::{Direction, EventKind};

    /// The JSON pointers of every value in `v` that is not an object (arrays count as one value).
    fn leaves(v: &Value, at: String, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    leaves(x, format!("{at}/{k}"), out);
                }
            }
            _ => {
                out.insert(at);
            }
        }
    }

    /// Every field of `example` (every optional field set) has exactly one column, and every
    /// column a field; headers are snake_case.
    fn one_column_per_field(columns: &[CsvColumn], example: impl serde::Serialize) {
        let mut fields = BTreeSet::new();
        leaves(
            &serde_json::to_value(example).unwrap(),
            String::new(),
            &mut fields,
        );
        let pointers: BTreeSet<String> = columns.iter().map(|c| c.1.to_string()).collect();
        assert_eq!(pointers.len(), columns.len(), "a field in two columns");
        assert_eq!(fields, pointers);
        let headers: BTreeSet<&str> = columns.iter().map(|c| c.0).collect();
        assert_eq!(headers.len(), columns.len(), "two columns with one header");
        for h in headers {
            assert!(
                h.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{h:?} is not snake_case"
            );
        }
    }

    #[test]
    fn every_event_field_has_a_csv_column() {
        let t = UnixMillis(1_737_000_000_000);
        one_column_per_field(
            EVENT_CSV,
            Event {
                id: "0123456789abcdef".into(),
                kind: EventKind::Transit,
                time: t,
                mmsi: 273_000_201,
                imo: Some(9_268_710),
                name: Some("SPARTA".into()),
                callsign: Some("UBXS".into()),
                label: Some("Sparta".into()),
                group: Some("g".into()),
                fence: "gibraltar".into(),
                lat: Some(36.0),
                lon: Some(-5.5),
                sog: Some(12.0),
                inferred: true,
                crossing_time: Some(t),
                window_start: Some(t),
                window_end: Some(t),
                other_side: Some(FixRecord {
                    time: t,
                    lat: 36.0,
                    lon: -5.6,
                }),
                direction: Some(Direction::Westbound),
                visit_start: Some(t),
                change: None,
                encounter: None,
                pattern: None,
            },
        );
    }

    #[test]
    fn every_visit_vessel_and_track_field_has_a_csv_column() {
        let t = UnixMillis(1_737_000_000_000);
        one_column_per_field(
            VISIT_CSV,
            query::Visit {
                mmsi: 1,
                imo: Some(2),
                name: Some("A".into()),
                label: Some("L".into()),
                group: Some("G".into()),
                fence: "f".into(),
                arrival: Some(t),
                departure: Some(t),
                duration_s: Some(0),
                present_at_start: true,
                inferred: true,
            },
        );
        one_column_per_field(
            VESSEL_CSV,
            query::VesselRow {
                mmsi: 1,
                imo: Some(2),
                name: Some("A".into()),
                label: Some("L".into()),
                group: Some("G".into()),
                callsign: Some("C".into()),
                flag: Some("Russian Federation"),
                flag_code: Some("RU"),
                shiptype: Some(70),
                shiptype_text: Some("cargo".into()),
                first_seen: t,
                last_seen: t,
                lat: Some(1.0),
                lon: Some(2.0),
                names: vec!["A".into(), "B".into()],
            },
        );
        one_column_per_field(
            TRACK_CSV,
            query::TrackPoint {
                mmsi: 1,
                time: t,
                lat: 1.0,
                lon: 2.0,
                sog: Some(3.0),
            },
        );
    }

    #[test]
    fn csv_cells_are_the_json_values() {
        let row = serde_json::json!({"s": "a, \"b\"", "n": 34.5, "b": false, "z": null,
            "l": ["OLD NAME", "NEW NAME"]});
        let mut out = Vec::new();
        write_csv(
            &mut out,
            &[
                ("s", "/s"),
                ("n", "/n"),
                ("b", "/b"),
                ("z", "/z"),
                ("l", "/l"),
            ],
            &[row],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "s,n,b,z,l\n\"a, \"\"b\"\"\",34.5,false,,OLD NAME|NEW NAME\n"
        );
    }

    #[test]
    fn durations_read_as_days_hours_minutes() {
        assert_eq!(duration(431_932), "4d 23h58m");
        assert_eq!(duration(3_599), "0h59m");
    }
}

#[cfg(test)]
mod time_arg_tests {
    use super::*;

    /// Regression (issue 11, items 10 and 11): `--since 300000000y` overflowed, `...Zjunk` was
    /// accepted and a time without an offset was taken as UTC.
    #[test]
    fn since_and_until_are_strict_and_never_overflow() {
        assert_eq!("7d".parse::<TimeArg>(), Ok(TimeArg::Ago(7 * 86_400_000)));
        assert!("300000000y".parse::<TimeArg>().is_err());
        assert!("2025-01-25T00:00:00Zjunk".parse::<TimeArg>().is_err());
        assert!("2025-01-25T00:00:00".parse::<TimeArg>().is_err());
        let syria = "2025-01-25T03:00:00+03:00".parse::<TimeArg>().unwrap();
        assert_eq!(
            syria.resolve(UnixMillis(0)).to_string(),
            "2025-01-25T00:00:00Z"
        );
        // 59 years back from 2000 is before 1970: the start of time, not a wrapped value.
        let far = "59y".parse::<TimeArg>().unwrap();
        assert_eq!(far.resolve(UnixMillis(946_684_800_000)), UnixMillis(0));
    }
}
