//! Read queries over the store: events, visits, vessels and tracks, with filters.
//!
//! Owns the SELECTs. Opens nothing itself and never writes: callers pass a read-only connection, so
//! a query never blocks the writer (WAL).

use rusqlite::{Connection, ToSql};
use serde::Serialize;

use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::watchlist::normalise;

/// Filters shared by the query commands; `None` means no filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Vessels, already resolved to MMSIs (see [`resolve_vessel`]).
    pub mmsis: Option<Vec<u32>>,
    /// A fence name.
    pub fence: Option<String>,
    /// An event kind.
    pub kind: Option<String>,
    /// From this time (inclusive).
    pub since: Option<UnixMillis>,
    /// Until this time (exclusive).
    pub until: Option<UnixMillis>,
    /// Visits only: those not yet ended (the vessel is inside now, as far as the store knows).
    pub open: bool,
    /// At most this many rows.
    pub limit: Option<usize>,
    /// Tracks only: at most about this many positions, spread over the period (the last of each
    /// equal slice of time), so that a month of a ship reporting every ten seconds draws as a
    /// line of the whole month, not its first day.
    pub spread: Option<usize>,
}

/// Resolves `NAME|MMSI|IMO` to MMSIs: nine digits are an MMSI, seven an IMO number (every MMSI that
/// reported it), anything else a name, compared normalised against current and past names.
pub fn resolve_vessel(conn: &Connection, text: &str) -> rusqlite::Result<Vec<u32>> {
    let t = text.trim();
    let mut out: Vec<u32> = Vec::new();
    if t.len() <= 9 && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = t.parse().unwrap_or(0);
        if t.len() == 7 {
            let mut stmt = conn.prepare("SELECT mmsi FROM vessels WHERE imo = ?1 ORDER BY mmsi")?;
            out.extend(
                stmt.query_map([n], |r| r.get::<_, u32>(0))?
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        if out.is_empty() {
            out.push(n);
        }
    } else {
        let name = normalise(t);
        let mut stmt = conn.prepare(
            "SELECT mmsi FROM vessels WHERE name = ?1 UNION SELECT mmsi FROM vessel_names WHERE name = ?1 ORDER BY 1",
        )?;
        out.extend(
            stmt.query_map([&name], |r| r.get::<_, u32>(0))?
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(out)
}

/// An SQL list of MMSIs (numbers only, so written inline); `NULL` matches nothing.
fn mmsi_list(m: &[u32]) -> String {
    if m.is_empty() {
        "NULL".to_string()
    } else {
        m.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

/// Builds `WHERE` clauses for the given column names.
struct Where {
    clauses: Vec<String>,
    args: Vec<Box<dyn ToSql>>,
}

impl Where {
    fn new(f: &Filter, mmsi: &str, fence: Option<&str>, kind: Option<&str>, time: &str) -> Self {
        let mut w = Where {
            clauses: Vec::new(),
            args: Vec::new(),
        };
        if let Some(m) = &f.mmsis {
            w.clauses.push(format!("{mmsi} IN ({})", mmsi_list(m)));
        }
        if let (Some(col), Some(v)) = (fence, &f.fence) {
            w.args.push(Box::new(v.clone()));
            w.clauses.push(format!("{col} = ?{}", w.args.len()));
        }
        if let (Some(col), Some(v)) = (kind, &f.kind) {
            w.args.push(Box::new(v.clone()));
            w.clauses.push(format!("{col} = ?{}", w.args.len()));
        }
        if let Some(s) = f.since {
            w.args.push(Box::new(s.0));
            w.clauses.push(format!("{time} >= ?{}", w.args.len()));
        }
        if let Some(u) = f.until {
            w.args.push(Box::new(u.0));
            w.clauses.push(format!("{time} < ?{}", w.args.len()));
        }
        w
    }

    /// The clauses for the events table: an encounter matches a vessel filter by either of its
    /// two vessels (the other through the `events_other_mmsi` index, schema 6).
    fn events(f: &Filter) -> Self {
        let mut w = Where::new(
            &Filter {
                mmsis: None,
                ..f.clone()
            },
            "mmsi",
            Some("fence"),
            Some("kind"),
            "time",
        );
        if let Some(m) = &f.mmsis {
            let list = mmsi_list(m);
            w.clauses.push(format!(
                "(mmsi IN ({list}) OR (kind IN ('encounter_started', 'encounter') \
                 AND json_extract(record, '$.encounter.other.mmsi') IN ({list})))"
            ));
        }
        w
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn params(&self) -> Vec<&dyn ToSql> {
        self.args.iter().map(|a| a.as_ref()).collect()
    }
}

/// Event records (the JSON `replay --format jsonl` prints), in time order.
pub fn events(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<String>> {
    let w = Where::events(f);
    let sql = format!(
        "SELECT record FROM events{} ORDER BY time, mmsi, fence, kind",
        w.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(w.params().as_slice(), |r| r.get(0))?
        .collect()
}

/// The SQL expression for the watchlist `field` (`label` or `group`) of the vessel `mmsi` names:
/// its latest event's (one index lookup: `events_mmsi_time`).
///
/// The watchlist lives in the config and the store keeps what it said only in the event records,
/// so visits and vessels read it from there, the same way over any database (a replayed history, a
/// copy, the API): the latest event's, the watchlist in force when the vessel last did something.
/// A vessel with no events has none.
fn watch_field(mmsi: &str, field: &str) -> String {
    format!(
        "(SELECT json_extract(e.record, '$.{field}') FROM events e WHERE e.mmsi = {mmsi} \
         ORDER BY e.time DESC LIMIT 1)"
    )
}

/// One visit: an arrival (or presence when first seen) and its departure, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number, when the vessel has reported one: how registers and port calls name a ship.
    pub imo: Option<u32>,
    /// The AIS name the vessel reports now, when known.
    pub name: Option<String>,
    /// The watchlist label, the name the operator gave: its latest event's (see `watch_field`).
    pub label: Option<String>,
    /// The watchlist group, found the same way as the label.
    pub group: Option<String>,
    /// Fence.
    pub fence: String,
    /// Start (crossing time, or first seen when already inside).
    #[serde(serialize_with = "ms_opt")]
    pub arrival: Option<UnixMillis>,
    /// End; `None` while in port.
    #[serde(serialize_with = "ms_opt")]
    pub departure: Option<UnixMillis>,
    /// Length in seconds, for a closed visit with a known start.
    pub duration_s: Option<i64>,
    /// Already inside when first seen.
    pub present_at_start: bool,
    /// Departure inferred across an AIS gap.
    pub inferred: bool,
}

fn ms_opt<S: serde::Serializer>(t: &Option<UnixMillis>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// Visits overlapping the time filter, in arrival order.
pub fn visits(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<Visit>> {
    let mut w = Where::new(
        &Filter {
            since: None,
            until: None,
            ..f.clone()
        },
        "v.mmsi",
        Some("v.fence"),
        None,
        "v.arrival",
    );
    // A visit overlaps [since, until) when it ends after `since` and starts before `until`.
    if let Some(s) = f.since {
        w.args.push(Box::new(s.0));
        w.clauses.push(format!(
            "coalesce(v.departure, 9223372036854775807) >= ?{}",
            w.args.len()
        ));
    }
    if let Some(u) = f.until {
        w.args.push(Box::new(u.0));
        w.clauses
            .push(format!("coalesce(v.arrival, 0) < ?{}", w.args.len()));
    }
    if f.open {
        w.clauses.push("v.departure IS NULL".into());
    }
    let limit = f.limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    let sql = format!(
        "SELECT v.mmsi, s.name, v.fence, v.arrival, v.departure, v.present_at_start, v.inferred,
                s.imo, {label}, {group}
         FROM visits v LEFT JOIN vessels s ON s.mmsi = v.mmsi{}
         ORDER BY coalesce(v.arrival, v.departure), v.mmsi, v.fence{limit}",
        w.sql(),
        label = watch_field("v.mmsi", "label"),
        group = watch_field("v.mmsi", "group"),
    );
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(w.params().as_slice(), |r| {
        let arrival: Option<i64> = r.get(3)?;
        let departure: Option<i64> = r.get(4)?;
        Ok(Visit {
            mmsi: r.get(0)?,
            imo: r.get(7)?,
            name: r.get(1)?,
            label: r.get(8)?,
            group: r.get(9)?,
            fence: r.get(2)?,
            arrival: arrival.map(UnixMillis),
            departure: departure.map(UnixMillis),
            duration_s: arrival.zip(departure).map(|(a, d)| (d - a) / 1000),
            present_at_start: r.get(5)?,
            inferred: r.get(6)?,
        })
    })?
    .collect()
}

/// A vessel as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselRow {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number.
    pub imo: Option<u32>,
    /// The AIS name it reports now.
    pub name: Option<String>,
    /// The watchlist label, the name the operator gave: its latest event's (see `watch_field`).
    pub label: Option<String>,
    /// The watchlist group, found the same way as the label.
    pub group: Option<String>,
    /// Call sign.
    pub callsign: Option<String>,
    /// The flag in words, from the MMSI's Maritime Identification Digits
    /// (`vesselwatch_ais::mid`): whose ship it is, at a glance. None without an allocated MID.
    pub flag: Option<&'static str>,
    /// The flag's ISO 3166-1 alpha-2 code, for maps and joins with other data.
    pub flag_code: Option<&'static str>,
    /// Ship type code.
    pub shiptype: Option<u8>,
    /// The ship type in words (ITU-R M.1371 Table 53): what people read.
    pub shiptype_text: Option<String>,
    /// First message time.
    #[serde(serialize_with = "ms")]
    pub first_seen: UnixMillis,
    /// Last message time.
    #[serde(serialize_with = "ms")]
    pub last_seen: UnixMillis,
    /// Last latitude.
    pub lat: Option<f64>,
    /// Last longitude.
    pub lon: Option<f64>,
    /// Every name it has reported, the current one included, oldest first: a renamed ship is
    /// still found by its old name.
    pub names: Vec<String>,
}

fn ms<S: serde::Serializer>(t: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Vessels seen in the time filter, by MMSI.
pub fn vessels(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<VesselRow>> {
    vessels_page(conn, f, None, None)
}

/// At most `limit` vessels of [`vessels`] with an MMSI above `after`: a page of the HTTP API.
/// Two statements whatever the page size (the vessels, then every name of theirs), not one per
/// vessel: three calls on a 2M-vessel database held a reader for 15 s that way.
pub fn vessels_page(
    conn: &Connection,
    f: &Filter,
    after: Option<u32>,
    limit: Option<usize>,
) -> rusqlite::Result<Vec<VesselRow>> {
    let mut w = Where::new(
        &Filter {
            since: None,
            until: None,
            ..f.clone()
        },
        "mmsi",
        None,
        None,
        "last_seen",
    );
    if let Some(s) = f.since {
        w.args.push(Box::new(s.0));
        w.clauses.push(format!("last_seen >= ?{}", w.args.len()));
    }
    if let Some(u) = f.until {
        w.args.push(Box::new(u.0));
        w.clauses.push(format!("first_seen < ?{}", w.args.len()));
    }
    // A vessel is "at" a fence, or "of" a kind, by its events there.
    if let Some(fence) = &f.fence {
        w.args.push(Box::new(fence.clone()));
        w.clauses.push(format!(
            "mmsi IN (SELECT mmsi FROM events WHERE fence = ?{})",
            w.args.len()
        ));
    }
    if let Some(kind) = &f.kind {
        w.args.push(Box::new(kind.clone()));
        w.clauses.push(format!(
            "mmsi IN (SELECT mmsi FROM events WHERE kind = ?{})",
            w.args.len()
        ));
    }
    if let Some(a) = after {
        w.args.push(Box::new(a));
        w.clauses.push(format!("mmsi > ?{}", w.args.len()));
    }
    let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    let sql = format!(
        "SELECT mmsi, imo, name, callsign, shiptype, first_seen, last_seen, lat, lon, {label}, {group} \
         FROM vessels{} ORDER BY mmsi{limit}",
        w.sql(),
        label = watch_field("vessels.mmsi", "label"),
        group = watch_field("vessels.mmsi", "group"),
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows: Vec<VesselRow> = stmt
        .query_map(w.params().as_slice(), |r| {
            let mmsi: u32 = r.get(0)?;
            let flag = vesselwatch_ais::mid::flag(mmsi);
            Ok(VesselRow {
                mmsi,
                imo: r.get(1)?,
                name: r.get(2)?,
                label: r.get(9)?,
                group: r.get(10)?,
                callsign: r.get(3)?,
                flag: flag.map(|f| f.country),
                flag_code: flag.map(|f| f.code),
                shiptype: r.get(4)?,
                shiptype_text: r
                    .get::<_, Option<u8>>(4)?
                    .map(vesselwatch_ais::decode::ship_type_words),
                first_seen: UnixMillis(r.get(5)?),
                last_seen: UnixMillis(r.get(6)?),
                lat: r.get(7)?,
                lon: r.get(8)?,
                names: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    attach_names(conn, &mut rows)?;
    Ok(rows)
}

/// Fills every row's `names` from one query over the rows' MMSIs (in MMSI order, as the rows).
fn attach_names(conn: &Connection, rows: &mut [VesselRow]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(&rows.iter().map(|v| v.mmsi).collect::<Vec<_>>())
        .expect("a list of numbers serialises");
    let mut stmt = conn.prepare(
        "SELECT mmsi, name FROM vessel_names WHERE mmsi IN (SELECT value FROM json_each(?1)) \
         ORDER BY mmsi, first_seen, name",
    )?;
    let mut names = stmt.query_map([list], |r| {
        Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut next = names.next().transpose()?;
    for row in rows.iter_mut() {
        while let Some((mmsi, name)) = next.take() {
            if mmsi < row.mmsi {
                next = names.next().transpose()?;
            } else if mmsi == row.mmsi {
                row.names.push(name);
                next = names.next().transpose()?;
            } else {
                next = Some((mmsi, name));
                break;
            }
        }
    }
    Ok(())
}

/// At most `limit` events of [`events`] after the `(time, id)` cursor, with their cursors: a page
/// of the HTTP API, in `(time, id)` order (the id breaks ties stably, across restarts and
/// vacuums).
pub fn events_page(
    conn: &Connection,
    f: &Filter,
    after: Option<(UnixMillis, String)>,
    limit: usize,
) -> rusqlite::Result<Vec<(UnixMillis, String, String)>> {
    let mut w = Where::events(f);
    if let Some((t, id)) = after {
        w.args.push(Box::new(t.0));
        w.args.push(Box::new(id));
        w.clauses.push(format!(
            "(time, id) > (?{}, ?{})",
            w.args.len() - 1,
            w.args.len()
        ));
    }
    let sql = format!(
        "SELECT time, id, record FROM events{} ORDER BY time, id LIMIT {limit}",
        w.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(w.params().as_slice(), |r| {
        Ok((UnixMillis(r.get(0)?), r.get(1)?, r.get(2)?))
    })?
    .collect()
}

/// One stored position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrackPoint {
    /// MMSI.
    pub mmsi: u32,
    /// Message time.
    #[serde(serialize_with = "ms")]
    pub time: UnixMillis,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Speed over ground.
    pub sog: Option<f64>,
}

/// Positions of the filtered vessels, in time order.
pub fn track(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<TrackPoint>> {
    let w = Where::new(f, "mmsi", None, None, "time");
    let limit = f.limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    let sql = match f.spread {
        None => format!(
            "SELECT mmsi, time, lat, lon, sog FROM positions{} ORDER BY time, mmsi{limit}",
            w.sql()
        ),
        Some(n) => {
            // The period's ends: as given, else the vessel's first and last positions.
            let (lo, hi): (Option<i64>, Option<i64>) = conn.query_row(
                &format!("SELECT min(time), max(time) FROM positions{}", w.sql()),
                w.params().as_slice(),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let lo = f.since.map(|t| t.0).or(lo).unwrap_or(0);
            let hi = f.until.map(|t| t.0).or(hi.map(|t| t + 1)).unwrap_or(lo);
            let slice = (hi.saturating_sub(lo) / n.max(1) as i64).max(1);
            // SQLite takes the bare columns of a `max()` aggregate from the row with the
            // maximum (lang_select.html, "bare columns"): the last position of each slice.
            format!(
                "SELECT mmsi, max(time), lat, lon, sog FROM positions{}
                 GROUP BY mmsi, time / {slice} ORDER BY 2, 1{limit}",
                w.sql()
            )
        }
    };
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(w.params().as_slice(), |r| {
        Ok(TrackPoint {
            mmsi: r.get(0)?,
            time: UnixMillis(r.get(1)?),
            lat: r.get(2)?,
            lon: r.get(3)?,
            // Stored from an f32 (0.2 became 0.20000000298023224); AIS gives it in tenths of a
            // knot, so that is what is shown.
            sog: r
                .get::<_, Option<f64>>(4)?
                .map(|s| (s * 10.0).round() / 10.0),
        })
    })?
    .collect()
}

/// Whether an event with this id is stored: a replay of history prints only the events it adds.
pub fn event_exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM events WHERE id = ?1", [id], |_| Ok(()))
        .map(|()| true)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(false),
            e => Err(e),
        })
}

/// Whether the store knows a vessel with this MMSI.
pub fn vessel_exists(conn: &Connection, mmsi: u32) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM vessels WHERE mmsi = ?1", [mmsi], |_| Ok(()))
        .map(|()| true)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(false),
            e => Err(e),
        })
}

/// The names of the fences the store has recorded, sorted.
pub fn fence_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM fences ORDER BY name")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// The fences the store has recorded, as a GeoJSON FeatureCollection for a map: polygons as
/// configured, a circle as a 64-sided polygon, a gate as its line; `name`, `kind` and the
/// margins as properties. From the database, so that any database (a replayed history, a copy)
/// shows its own fences.
pub fn fences_geojson(conn: &Connection) -> rusqlite::Result<serde_json::Value> {
    use geo::{Destination, Haversine, Point};
    use serde_json::json;
    let mut stmt = conn.prepare("SELECT name, kind, definition FROM fences ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut features = Vec::new();
    for row in rows {
        let (name, kind, definition) = row?;
        let Ok(d) = serde_json::from_str::<serde_json::Value>(&definition) else {
            continue;
        };
        let geometries: Vec<serde_json::Value> = if let Some(text) = d["geojson"].as_str() {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(g) if g["type"] == "FeatureCollection" => g["features"]
                    .as_array()
                    .map(|f| f.iter().map(|f| f["geometry"].clone()).collect())
                    .unwrap_or_default(),
                Ok(g) if g["type"] == "Feature" => vec![g["geometry"].clone()],
                Ok(g) => vec![g],
                Err(_) => vec![],
            }
        } else if let (Some((lat, lon)), Some(r)) = (lat_lon(&d["center"]), d["radius_km"].as_f64())
        {
            let c = Point::new(lon, lat);
            let ring: Vec<[f64; 2]> = (0..=64)
                .map(|i| {
                    let p = Haversine.destination(c, f64::from(i) * 360.0 / 64.0, r * 1000.0);
                    [p.x(), p.y()]
                })
                .collect();
            vec![json!({ "type": "Polygon", "coordinates": [ring] })]
        } else if let Some(line) = d["line"].as_array() {
            let coords: Vec<[f64; 2]> = line
                .iter()
                .filter_map(|p| lat_lon(p).map(|(lat, lon)| [lon, lat]))
                .collect();
            vec![json!({ "type": "LineString", "coordinates": coords })]
        } else {
            vec![]
        };
        for geometry in geometries {
            features.push(json!({
                "type": "Feature",
                "properties": {
                    "name": name,
                    "kind": kind,
                    "exit_margin_km": d["exit_margin_km"],
                    "approach_km": d["approach_km"],
                },
                "geometry": geometry,
            }));
        }
    }
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}

/// A point of a stored fence definition: `[lat, lon]` as the store writes it, or
/// `{ "lat": .., "lon": .. }` as the config spells it.
fn lat_lon(v: &serde_json::Value) -> Option<(f64, f64)> {
    match v {
        serde_json::Value::Array(a) => Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?)),
        _ => Some((v["lat"].as_f64()?, v["lon"].as_f64()?)),
    }
}
