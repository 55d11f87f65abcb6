//! The batch: everything the pipeline decided since the last one (events, alerts, vessel state,
//! positions, checkpoints) and the SQL that writes it in one transaction, so that a crash never
//! leaves an event without its visit, its alerts or the state behind it.

use std::time::Duration;

use rusqlite::{Connection, Transaction, params};

use super::outbox;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::movement::{MovementSnapshot, VesselSnapshot};
use vesselwatch_engine::tracker::Fix;
use vesselwatch_engine::{Event, EventKind};

/// A feed's progress, recorded with each batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The source name or input path.
    pub feed: String,
    /// Bytes read: the offset in a file, or bytes received on a stream.
    pub position: u64,
    /// The file the offset is in (device:inode), for file sources.
    pub file_id: Option<String>,
    /// Latest message time.
    pub message_time: Option<UnixMillis>,
}

/// An acknowledgement: what to do once a batch is committed (tell a source its checkpoint is
/// durable, wake a caller waiting for its events). Never called for a batch that was not written.
pub struct Ack(pub(super) Box<dyn FnOnce() + Send>);

impl Ack {
    /// Runs `f` on commit.
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self(Box::new(f))
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

/// Everything decided since the last batch, written in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events, in order.
    pub events: Vec<Event>,
    /// States of the vessels changed.
    pub snapshots: Vec<VesselSnapshot>,
    /// Positions to keep.
    pub positions: Vec<(u32, Fix)>,
    /// Feed progress.
    pub checkpoints: Vec<Checkpoint>,
    /// The engine clock.
    pub clock: Option<UnixMillis>,
    /// Alerts to queue: (event id, webhook name), only for events this batch stores first.
    pub alerts: Vec<(String, String)>,
    /// Outcomes of delivery attempts.
    pub alert_updates: Vec<outbox::AlertUpdate>,
    /// Called once this batch is committed: acknowledgements to whoever produced it.
    pub acks: Vec<Ack>,
    /// A reloaded configuration's fences, recorded with this batch (SIGHUP): the `fences` table
    /// follows the configuration in force, not the one the daemon started with.
    pub fences: Option<Vec<super::FenceRecord>>,
    /// From a replay of history older than the database's state: its events and positions are
    /// recorded, but the engine state and clock stay the later ones, and vessels' identities are
    /// only filled in where unknown.
    pub history: bool,
}

impl Batch {
    /// Everything the engine decided since the last batch: `events` with the `alerts` routed for
    /// them, the engine's changed vessels and positions, its clock, and the feeds' progress. What
    /// `replay` and `run` hand to the writer.
    pub fn decided(
        engine: &mut vesselwatch_engine::movement::Engine,
        events: Vec<Event>,
        alerts: Vec<(String, String)>,
        checkpoints: Vec<Checkpoint>,
    ) -> Self {
        Batch {
            events,
            alerts,
            snapshots: engine.take_snapshots(),
            positions: engine.take_positions(),
            checkpoints,
            clock: engine.clock(),
            ..Batch::default()
        }
    }

    /// Rows this batch writes (roughly): what the batching thresholds count.
    pub fn rows(&self) -> usize {
        self.events.len()
            + self.snapshots.len()
            + self.positions.len()
            + self.checkpoints.len()
            + self.alerts.len()
            + self.alert_updates.len()
            + self.fences.as_ref().map_or(0, Vec::len)
    }

    pub(super) fn absorb(&mut self, other: Batch) {
        self.events.extend(other.events);
        self.snapshots.extend(other.snapshots);
        self.positions.extend(other.positions);
        self.checkpoints.extend(other.checkpoints);
        self.clock = other.clock.or(self.clock);
        self.alerts.extend(other.alerts);
        self.alert_updates.extend(other.alert_updates);
        self.acks.extend(other.acks);
        self.history |= other.history;
        if other.fences.is_some() {
            self.fences = other.fences;
        }
    }
}

/// Writes one batch in one transaction.
pub fn write_batch(conn: &mut Connection, b: &Batch) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    if let Some(fences) = &b.fences {
        super::fences::record_fences(&tx, fences)?;
    }
    let new_events = write_events(&tx, &b.events)?;
    outbox::queue(&tx, &b.alerts, &new_events)?;
    outbox::apply(&tx, &b.alert_updates)?;
    write_snapshots(&tx, &b.snapshots, b.history)?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO positions (mmsi, time, lat, lon, sog) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // In key order: consecutive inserts land on the same B-tree pages (2–3× faster than the
        // interleaved order in which vessels report).
        let mut order: Vec<&(u32, Fix)> = b.positions.iter().collect();
        order.sort_unstable_by_key(|(mmsi, f)| (*mmsi, f.time));
        for (mmsi, f) in order {
            ins.execute(params![mmsi, f.time.0, f.lat, f.lon, f.sog.map(f64::from)])?;
        }
    }
    for c in &b.checkpoints {
        tx.execute(
            "INSERT INTO checkpoints (feed, position, message_time, updated, file_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (feed) DO UPDATE SET position = ?2, message_time = ?3, updated = ?4, file_id = ?5",
            params![
                c.feed,
                c.position as i64,
                c.message_time.map(|t| t.0),
                crate::clock::now().0,
                c.file_id
            ],
        )?;
    }
    if let Some(clock) = b.clock.filter(|_| !b.history) {
        tx.execute(
            "INSERT INTO engine_clock (id, clock) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET clock = max(clock, ?1)",
            [clock.0],
        )?;
    }
    tx.commit()
}

/// How often the writer deletes positions past retention: a full scan of the table (it has no time
/// index, which would halve insert speed), so rarely.
pub(super) const RETENTION_SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Deletes positions older than `keep_ms` before `newest` (message time).
pub fn delete_old_positions(
    conn: &Connection,
    newest: UnixMillis,
    keep_ms: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM positions WHERE time < ?1",
        [newest.0 - keep_ms],
    )
}

/// Stores events; returns the ids (with their times) of those stored for the first time.
fn write_events(
    tx: &Transaction<'_>,
    events: &[Event],
) -> rusqlite::Result<std::collections::HashMap<String, UnixMillis>> {
    let mut new = std::collections::HashMap::new();
    let mut touched = std::collections::BTreeSet::new();
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO events (id, kind, time, mmsi, fence, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in events {
        // An event already stored (a replay of the same feed) changes nothing, visits included.
        if ins.execute(params![
            e.id,
            e.kind.as_str(),
            e.time.0,
            e.mmsi,
            e.fence,
            e.to_json()
        ])? == 0
        {
            continue;
        }
        new.insert(e.id.clone(), e.time);
        if matches!(
            e.kind,
            EventKind::Present | EventKind::Arrival | EventKind::Departure
        ) {
            touched.insert((e.mmsi, e.fence.clone()));
        }
    }
    for (mmsi, fence) in touched {
        rebuild_visits(tx, mmsi, &fence)?;
    }
    Ok(new)
}

/// Rebuilds the visits of one vessel at one fence from its stored events, in time order: a
/// `present` or `arrival` opens a visit when none is open, a `departure` closes the open one (or
/// stands alone when its arrival was never seen). Derived rather than updated in place, so that
/// recordings replayed in any order (last month after this month) leave the same visits as one
/// replay in time order would.
fn rebuild_visits(tx: &Transaction<'_>, mmsi: u32, fence: &str) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM visits WHERE mmsi = ?1 AND fence = ?2",
        params![mmsi, fence],
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT id, kind, time, record FROM events
         WHERE mmsi = ?1 AND fence = ?2 AND kind IN ('present', 'arrival', 'departure')
         ORDER BY time, rowid",
    )?;
    let rows = stmt.query_map(params![mmsi, fence], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO visits (mmsi, fence, arrival, arrival_event, present_at_start, departure, departure_event, inferred)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    // A visit: (arrival time, arrival event, present at start), and how it ended (departure
    // time, departure event, inferred) when it has.
    type Opened = (Option<i64>, Option<String>, bool);
    let mut insert = |(arrival, arrival_event, present): Opened,
                      end: Option<(i64, String, bool)>|
     -> rusqlite::Result<usize> {
        let (departure, departure_event, inferred) = match end {
            Some((at, id, inferred)) => (Some(at), Some(id), inferred),
            None => (None, None, false),
        };
        ins.execute(params![
            mmsi,
            fence,
            arrival,
            arrival_event,
            present,
            departure,
            departure_event,
            inferred
        ])
    };
    let mut open: Option<Opened> = None;
    for row in rows {
        let (id, kind, time, record) = row?;
        let rec: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
        let field = |k: &str| {
            rec.get(k)
                .and_then(|v| v.as_str())
                .and_then(|t| UnixMillis::parse_rfc3339(t.as_bytes()))
                .map(|t| t.0)
        };
        let at = field("crossing_time").unwrap_or(time);
        if kind == "departure" {
            let visit = open.take().unwrap_or((field("visit_start"), None, false));
            let inferred = rec
                .get("inferred")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            insert(visit, Some((at, id, inferred)))?;
        } else if open.is_none() {
            open = Some((Some(at), Some(id), kind == "present"));
        }
    }
    if let Some(visit) = open {
        insert(visit, None)?;
    }
    Ok(())
}

fn write_snapshots(
    tx: &Transaction<'_>,
    snapshots: &[VesselSnapshot],
    history: bool,
) -> rusqlite::Result<()> {
    let mut del = tx.prepare_cached("DELETE FROM engine_state WHERE mmsi = ?1")?;
    let mut ins =
        tx.prepare_cached("INSERT INTO engine_state (mmsi, fence, state) VALUES (?1, ?2, ?3)")?;
    let mut vessel = tx.prepare_cached(if history {
        // Older than what is stored: fills gaps, never replaces newer identity or position.
        "INSERT INTO vessels (mmsi, imo, name, callsign, shiptype, first_seen, last_seen, lat, lon,
                              cog, heading, sog, status, fix_time, changed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (mmsi) DO UPDATE SET
           imo = coalesce(imo, ?2), name = coalesce(name, ?3), callsign = coalesce(callsign, ?4),
           shiptype = coalesce(shiptype, ?5), last_seen = max(last_seen, ?6),
           first_seen = min(first_seen, ?9), lat = coalesce(lat, ?7), lon = coalesce(lon, ?8),
           cog = iif(lat IS NULL, ?10, cog), heading = iif(lat IS NULL, ?11, heading),
           sog = iif(lat IS NULL, ?12, sog), status = coalesce(status, ?13),
           fix_time = coalesce(fix_time, ?14), changed = ?15"
    } else {
        "INSERT INTO vessels (mmsi, imo, name, callsign, shiptype, first_seen, last_seen, lat, lon,
                              cog, heading, sog, status, fix_time, changed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (mmsi) DO UPDATE SET
           imo = coalesce(?2, imo), name = coalesce(?3, name), callsign = coalesce(?4, callsign),
           shiptype = coalesce(?5, shiptype), last_seen = max(last_seen, ?6),
           first_seen = min(first_seen, ?9), lat = coalesce(?7, lat), lon = coalesce(?8, lon),
           cog = ?10, heading = ?11, sog = ?12, status = coalesce(?13, status),
           fix_time = coalesce(?14, fix_time), changed = ?15"
    })?;
    let mut name = tx.prepare_cached(
        "INSERT INTO vessel_names (mmsi, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (mmsi, name) DO UPDATE SET last_seen = max(last_seen, ?3)",
    )?;
    // The map's change counter: one number per batch, above every stored one (the writer is the
    // only one writing, so batches number in commit order).
    let changed: i64 = if snapshots.is_empty() {
        0
    } else {
        tx.query_row(
            "SELECT coalesce(max(changed), 0) + 1 FROM vessels",
            [],
            |r| r.get(0),
        )?
    };
    for s in snapshots {
        if history {
            write_vessel(&mut vessel, &mut name, s, changed)?;
            continue;
        }
        del.execute([s.mmsi])?;
        let mut whole = s.clone();
        let fences = whole
            .movement
            .as_mut()
            .map(|m: &mut MovementSnapshot| std::mem::take(&mut m.fences));
        ins.execute(params![
            s.mmsi,
            "",
            serde_json::to_string(&whole).expect("serialisable")
        ])?;
        for (fence, state) in fences.into_iter().flatten() {
            ins.execute(params![
                s.mmsi,
                fence,
                serde_json::to_string(&state).expect("serialisable")
            ])?;
        }
        write_vessel(&mut vessel, &mut name, s, changed)?;
    }
    Ok(())
}

/// A course or speed as AIS carries it, in tenths: an `f32` widened to `f64` would store float
/// noise (0.2 kn as 0.20000000298).
fn tenths(x: f32) -> f64 {
    (f64::from(x) * 10.0).round() / 10.0
}

/// The vessel's row and its name history.
fn write_vessel(
    vessel: &mut rusqlite::CachedStatement<'_>,
    name: &mut rusqlite::CachedStatement<'_>,
    s: &VesselSnapshot,
    changed: i64,
) -> rusqlite::Result<()> {
    let seen = s.last_seen.or(s.fix.map(|f| f.time)).map_or(0, |t| t.0);
    vessel.execute(params![
        s.mmsi,
        s.statics.imo,
        s.statics.name,
        s.statics.callsign,
        s.statics.shiptype,
        seen,
        s.fix.map(|f| f.lat),
        s.fix.map(|f| f.lon),
        s.first_seen.map_or(seen, |t| t.0),
        s.cog.map(tenths),
        s.heading,
        s.fix.and_then(|f| f.sog).map(tenths),
        s.status,
        s.fix.map(|f| f.time.0),
        changed
    ])?;
    if let Some(n) = &s.statics.name {
        name.execute(params![s.mmsi, n, seen])?;
    }
    Ok(())
}
