//! Read queries for the map: every vessel's latest report as a marker, what changed since the
//! stream last looked, the fleet as of a past time, and the newest events.
//!
//! Owns the map's SELECTs, as `query` owns the CLI's. Never writes, so it runs on the read-only
//! connections of the HTTP endpoint, in the daemon and in `serve` alike: both read the same file,
//! and a `serve` beside a live daemon sees what the daemon commits.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use vesselwatch_ais::time::UnixMillis;

/// One vessel as the map draws it: where, which way, and who.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dot {
    /// MMSI.
    pub mmsi: u32,
    /// Latitude of the latest accepted fix (to a micro-degree, 0.1 m: finer than AIS carries,
    /// and a third shorter on the stream than every digit of an `f64`).
    #[serde(serialize_with = "micro")]
    pub lat: f64,
    /// Longitude of the latest accepted fix.
    #[serde(serialize_with = "micro")]
    pub lon: f64,
    /// Where the bow points, in degrees from north: the heading when reported, else the course
    /// over ground (as of a past time: the bearing from the position before). `None` draws a
    /// vessel with no direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course: Option<f64>,
    /// Speed over ground, knots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sog: Option<f64>,
    /// Name, normalised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// IMO number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imo: Option<u32>,
    /// Call sign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callsign: Option<String>,
    /// Ship type code (ITU-R M.1371): the map colours by its tens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shiptype: Option<u8>,
    /// Message time of the fix, RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    pub time: UnixMillis,
    /// The watchlist's label, when the vessel is watched (filled in by the caller, which holds
    /// the watchlist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The watchlist's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

fn micro<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((x * 1e6).round() / 1e6)
}

fn rfc3339<S: serde::Serializer>(t: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Where a reader of the vessels table has got to: the last row it has, in the order of
/// `(changed, mmsi)`. Every batch numbers the rows it writes above all stored ones, so what is
/// past the cursor is exactly what was written since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// The batch number (`vessels.changed`).
    pub changed: i64,
    /// The MMSI within that batch.
    pub mmsi: u32,
}

/// The columns of a [`Dot`] in `vessels`, for databases written before the map's columns (schema
/// 4) too: `serve` reads such a file without migrating it.
fn columns(conn: &Connection) -> rusqlite::Result<&'static str> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(if version >= 5 {
        "mmsi, lat, lon, coalesce(heading, cog), sog, name, imo, callsign, shiptype,
         coalesce(fix_time, last_seen), coalesce(changed, 0)"
    } else {
        "mmsi, lat, lon, NULL, NULL, name, imo, callsign, shiptype, last_seen, 0"
    })
}

fn dot(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Dot, Cursor)> {
    let mmsi: u32 = r.get(0)?;
    let course: Option<f64> = r.get(3)?;
    Ok((
        Dot {
            mmsi,
            lat: r.get(1)?,
            lon: r.get(2)?,
            // 511 is "not available" for heading, 360 for course (ITU-R M.1371).
            course: course.filter(|c| (0.0..360.0).contains(c)),
            sog: r.get(4)?,
            name: r.get(5)?,
            imo: r.get(6)?,
            callsign: r.get(7)?,
            shiptype: r.get(8)?,
            time: UnixMillis(r.get(9)?),
            label: None,
            group: None,
        },
        Cursor {
            changed: r.get(10)?,
            mmsi,
        },
    ))
}

/// The newest cursor: where a stream that has just read the whole fleet goes on from.
pub fn newest(conn: &Connection) -> rusqlite::Result<Cursor> {
    if conn.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))? < 5 {
        return Ok(Cursor::default());
    }
    Ok(conn
        .query_row(
            "SELECT changed, mmsi FROM vessels WHERE changed IS NOT NULL
             ORDER BY changed DESC, mmsi DESC LIMIT 1",
            [],
            |r| {
                Ok(Cursor {
                    changed: r.get(0)?,
                    mmsi: r.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// The message time of the newest fix stored (`None` for an empty database): the fleet window
/// ends there.
pub fn newest_fix(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let sql = if version >= 5 {
        "SELECT max(coalesce(fix_time, last_seen)) FROM vessels"
    } else {
        "SELECT max(last_seen) FROM vessels"
    };
    conn.query_row(sql, [], |r| r.get(0))
}

/// At most `limit` vessels with a position and an MMSI above `after`, whose fix is no older than
/// `since`: a page of the fleet as it is now.
pub fn fleet_page(
    conn: &Connection,
    since: UnixMillis,
    after: u32,
    limit: usize,
) -> rusqlite::Result<Vec<Dot>> {
    let sql = format!(
        "SELECT {} FROM vessels WHERE mmsi > ?1 AND lat IS NOT NULL
         AND coalesce(fix_time, last_seen) >= ?2 ORDER BY mmsi LIMIT ?3",
        columns(conn)?
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map(params![after, since.0, limit as i64], dot)?
        .map(|r| r.map(|(d, _)| d))
        .collect()
}

/// At most `limit` vessels written after `cursor` (those with a position: one heard but never
/// placed has nothing to draw), in write order, and the
/// cursor of the last: what the live stream sends each second.
pub fn changed_since(
    conn: &Connection,
    cursor: Cursor,
    limit: usize,
) -> rusqlite::Result<(Vec<Dot>, Cursor)> {
    if conn.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))? < 5 {
        return Ok((Vec::new(), cursor));
    }
    let sql = format!(
        "SELECT {} FROM vessels INDEXED BY vessels_changed
         WHERE (changed, mmsi) > (?1, ?2) AND lat IS NOT NULL ORDER BY changed, mmsi LIMIT ?3",
        columns(conn)?
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut last = cursor;
    let mut out = Vec::new();
    for row in stmt.query_map(params![cursor.changed, cursor.mmsi, limit as i64], dot)? {
        let (d, c) = row?;
        last = c;
        out.push(d);
    }
    Ok((out, last))
}

/// The fleet as of `at`: each vessel's last recorded position in `[at - window, at]`, pointing
/// along its way from the position before (unless it was stopped). Only vessels heard across the
/// window are looked at: on a database of years, most rows are passed without a look at their
/// positions. Only recorded positions count, so vessels whose
/// positions `[store]` does not keep (unwatched, unsampled) are not there.
pub fn fleet_at(conn: &Connection, at: UnixMillis, window_ms: i64) -> rusqlite::Result<Vec<Dot>> {
    let from = at.0.saturating_sub(window_ms);
    let mut stmt = conn.prepare_cached(
        "SELECT v.mmsi, p.lat, p.lon, p.sog, v.name, v.imo, v.callsign, v.shiptype, p.time
         FROM vessels v JOIN positions p ON p.mmsi = v.mmsi AND p.time = (
             SELECT max(time) FROM positions WHERE mmsi = v.mmsi AND time BETWEEN ?1 AND ?2)
         WHERE v.last_seen >= ?1 AND v.first_seen <= ?2
         ORDER BY v.mmsi",
    )?;
    let mut before = conn.prepare_cached(
        "SELECT lat, lon FROM positions WHERE mmsi = ?1 AND time < ?2 AND time >= ?3
         ORDER BY time DESC LIMIT 1",
    )?;
    let rows = stmt
        .query_map(params![from, at.0], |r| {
            Ok(Dot {
                mmsi: r.get(0)?,
                lat: r.get(1)?,
                lon: r.get(2)?,
                course: None,
                sog: r.get(3)?,
                name: r.get(4)?,
                imo: r.get(5)?,
                callsign: r.get(6)?,
                shiptype: r.get(7)?,
                time: UnixMillis(r.get(8)?),
                label: None,
                group: None,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for mut d in rows {
        let prev: Option<(f64, f64)> = before
            .query_row(params![d.mmsi, d.time.0, from], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        // Stopped (under half a knot), two fixes differ by GPS noise: no way to point.
        let stopped = d.sog.is_some_and(|s| s < 0.5);
        d.course = prev
            .filter(|_| !stopped)
            .and_then(|(lat, lon)| bearing((lat, lon), (d.lat, d.lon)));
        d.sog = d.sog.map(|s| (s * 10.0).round() / 10.0);
        out.push(d);
    }
    Ok(out)
}

/// The initial bearing from `a` to `b` (degrees from north), or `None` when they are less than
/// ten metres apart: a ship at anchor has no way to point.
fn bearing(a: (f64, f64), b: (f64, f64)) -> Option<f64> {
    use geo::{Bearing, Distance, Haversine, Point};
    let (pa, pb) = (Point::new(a.1, a.0), Point::new(b.1, b.0));
    if Haversine.distance(pa, pb) < 10.0 {
        return None;
    }
    let deg = Haversine.bearing(pa, pb);
    Some(((deg.rem_euclid(360.0)) * 10.0).round() / 10.0 % 360.0)
}

/// The newest `limit` events before `until` (all when `None`), newest first, with the rowid the
/// stream counts events by: the list beside the map.
pub fn newest_events(
    conn: &Connection,
    until: Option<UnixMillis>,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, record FROM events WHERE time < ?1 ORDER BY time DESC, rowid DESC LIMIT ?2",
    )?;
    stmt.query_map(
        params![until.map_or(i64::MAX, |t| t.0), limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .collect()
}

/// The rowid of the newest stored event (0 when there is none): where the stream's events start.
pub fn last_event(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(rowid), 0) FROM events", [], |r| {
        r.get(0)
    })
}

/// At most `limit` events stored after rowid `after`, in the order they were stored.
pub fn events_since(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, record FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    )?;
    stmt.query_map(params![after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The span of message times the database holds (the first and last time a vessel was seen), for
/// the map's time slider; `None` for an empty database.
pub fn span(conn: &Connection) -> rusqlite::Result<Option<(UnixMillis, UnixMillis)>> {
    let (a, b): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT min(first_seen), max(last_seen) FROM vessels",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(a.zip(b).map(|(a, b)| (UnixMillis(a), UnixMillis(b))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearings_are_those_of_the_compass() {
        // Due north and due east along a meridian and the equator: exact by geometry.
        assert_eq!(bearing((0.0, 0.0), (1.0, 0.0)), Some(0.0));
        assert_eq!(bearing((0.0, 0.0), (0.0, 1.0)), Some(90.0));
        assert_eq!(bearing((1.0, 0.0), (0.0, 0.0)), Some(180.0));
        assert_eq!(bearing((0.0, 1.0), (0.0, 0.0)), Some(270.0));
        // 5 m apart: no direction.
        assert_eq!(bearing((34.9, 35.87), (34.900045, 35.87)), None);
    }
}
