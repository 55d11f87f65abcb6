//! The store: SQLite, and the only module that writes SQL.
//!
//! Owns the schema (embedded, numbered migrations applied at open inside a transaction), the single
//! writer, and reading the engine's state back for an exact restart. Queries live in [`query`].
//!
//! One writer, on its own thread, fed by a bounded channel: SQLite allows one writer at a time, and
//! a single owner makes batching (many rows per transaction), ordering and retry simple. An event,
//! the visit it opens or closes, and the engine state behind it travel in one [`Batch`] and are
//! committed in one transaction, so a crash never leaves one without the others. WAL mode lets
//! readers (the query commands) read while the writer writes.

pub mod config;
pub mod outbox;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::config::{FenceConfig, Loaded};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::movement::{MovementSnapshot, VesselSnapshot};
use vesselwatch_engine::tracker::Fix;
use vesselwatch_engine::{Event, EventKind};

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_positions.sql"),
    include_str!("../../migrations/0003_outbox.sql"),
    include_str!("../../migrations/0004_checkpoint_file.sql"),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("{path}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: SqliteError,
    },
    /// The database was written by a newer vesselwatch.
    #[error(
        "{path}: database schema version {found} is newer than this vesselwatch knows ({known}); upgrade vesselwatch"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this binary knows.
        known: u32,
    },
    /// The writer stopped with batches it could not write.
    #[error("{unwritten} batch(es) could not be written to {path}")]
    Unwritten {
        /// The database file.
        path: PathBuf,
        /// Batches left.
        unwritten: u64,
        /// The last error.
        #[source]
        last_error: SqliteError,
    },
    /// The writer thread panicked: a bug; what it held is not written.
    #[error("the store writer failed (a panic) with {unwritten} batch(es) not written")]
    WriterPanicked {
        /// Batches left.
        unwritten: u64,
    },
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: SqliteError(source),
    }
}

/// A rusqlite error, as a cause that is said once. rusqlite's `SqliteFailure` displays SQLite's
/// message and then gives, as its own source, the same code and message again (`file is not a
/// database: Error code 26: file is not a database`); this wrapper shows the message and ends the
/// chain there. The error itself stays available for its code.
#[derive(Debug)]
pub struct SqliteError(pub rusqlite::Error);

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqliteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            rusqlite::Error::SqliteFailure(..) => None,
            other => other.source(),
        }
    }
}

/// The database's schema version; a version newer than this binary knows is refused.
fn schema_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql_err(path))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Applies the migrations after the database's version up to `target`, each in its own transaction.
fn migrate(conn: &mut Connection, path: &Path, target: u32) -> Result<(), StoreError> {
    let err = sql_err(path);
    let found = schema_version(conn, path)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        let tx = conn.transaction().map_err(&err)?;
        tx.execute_batch(sql).map_err(&err)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::info!(path = %path.display(), version = i + 1, "Applied migration.");
    }
    Ok(())
}

/// Opens (creating if needed) and migrates the database for writing: WAL, foreign keys, a busy
/// timeout so that a reader's brief lock is waited out, not failed.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    open_to_version(path, SCHEMA_VERSION)
}

/// Opens and migrates up to `version` only: for tests of upgrades from older schemas.
pub fn open_to_version(path: &Path, version: u32) -> Result<Connection, StoreError> {
    let err = sql_err(path);
    let mut conn = Connection::open(path).map_err(&err)?;
    conn.pragma_update(None, "journal_mode", "wal")
        .map_err(&err)?;
    conn.pragma_update(None, "synchronous", "normal")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", "on")
        .map_err(&err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(&err)?;
    migrate(&mut conn, path, version)?;
    Ok(conn)
}

/// Opens an existing database read-only, for queries; refuses one newer than this binary.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let err = sql_err(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(&err)?;
    schema_version(&conn, path)?;
    Ok(conn)
}

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

/// Opens the store for `loaded`, syncs its fences, restores the engine's saved state into `engine`
/// (a restart resumes exactly), turns on recording, and starts the writer: what `replay` and `run`
/// both do before the first message.
pub fn start(
    loaded: &Loaded,
    db: PathBuf,
    engine: &mut vesselwatch_engine::movement::Engine,
) -> Result<Writer, StoreError> {
    let mut conn = open(&db)?;
    sync_fences(&mut conn, &db, loaded)?;
    let (snapshots, clock) = load_state(&conn, &db)?;
    tracing::info!(db = %db.display(), vessels = snapshots.len(), "Store opened; engine state restored.");
    engine.restore(snapshots, clock);
    engine.enable_recording(sampling(loaded));
    let sc = &loaded.config.store;
    Ok(Writer::spawn(
        conn,
        db,
        64,
        Some(sc.position_retention.millis()),
    ))
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

/// How often unwatched vessels' positions are kept (`[store] sample_positions`), as
/// [`Engine::enable_recording`](vesselwatch_engine::movement::Engine::enable_recording) takes it.
pub fn sampling(loaded: &Loaded) -> Option<i64> {
    loaded.config.store.sample_positions.millis()
}

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
pub struct Ack(Box<dyn FnOnce() + Send>);

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
    }

    fn absorb(&mut self, other: Batch) {
        self.events.extend(other.events);
        self.snapshots.extend(other.snapshots);
        self.positions.extend(other.positions);
        self.checkpoints.extend(other.checkpoints);
        self.clock = other.clock.or(self.clock);
        self.alerts.extend(other.alerts);
        self.alert_updates.extend(other.alert_updates);
        self.acks.extend(other.acks);
        self.history |= other.history;
    }
}

/// Writes one batch in one transaction.
pub fn write_batch(conn: &mut Connection, b: &Batch) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
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
const RETENTION_SWEEP_EVERY: Duration = Duration::from_secs(600);

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
        "INSERT INTO vessels (mmsi, imo, name, callsign, shiptype, first_seen, last_seen, lat, lon)
         VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8)
         ON CONFLICT (mmsi) DO UPDATE SET
           imo = coalesce(imo, ?2), name = coalesce(name, ?3), callsign = coalesce(callsign, ?4),
           shiptype = coalesce(shiptype, ?5), last_seen = max(last_seen, ?6),
           first_seen = min(first_seen, ?9), lat = coalesce(lat, ?7), lon = coalesce(lon, ?8)"
    } else {
        "INSERT INTO vessels (mmsi, imo, name, callsign, shiptype, first_seen, last_seen, lat, lon)
         VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8)
         ON CONFLICT (mmsi) DO UPDATE SET
           imo = coalesce(?2, imo), name = coalesce(?3, name), callsign = coalesce(?4, callsign),
           shiptype = coalesce(?5, shiptype), last_seen = max(last_seen, ?6),
           first_seen = min(first_seen, ?9), lat = coalesce(?7, lat), lon = coalesce(?8, lon)"
    })?;
    let mut name = tx.prepare_cached(
        "INSERT INTO vessel_names (mmsi, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (mmsi, name) DO UPDATE SET last_seen = max(last_seen, ?3)",
    )?;
    for s in snapshots {
        if history {
            write_vessel(&mut vessel, &mut name, s)?;
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
        write_vessel(&mut vessel, &mut name, s)?;
    }
    Ok(())
}

/// The vessel's row and its name history.
fn write_vessel(
    vessel: &mut rusqlite::CachedStatement<'_>,
    name: &mut rusqlite::CachedStatement<'_>,
    s: &VesselSnapshot,
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
        s.first_seen.map_or(seen, |t| t.0)
    ])?;
    if let Some(n) = &s.statics.name {
        name.execute(params![s.mmsi, n, seen])?;
    }
    Ok(())
}

/// The writer's counters, readable while it runs (metrics and logs).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Transactions committed (several queued batches may share one).
    pub transactions: AtomicU64,
    /// Rows written (roughly).
    pub rows: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
    /// Batches waiting in the channel or being retried.
    pub pending: AtomicU64,
}

/// The single writer thread and the bounded channel to it.
#[derive(Debug)]
pub struct Writer {
    tx: Option<SyncSender<Batch>>,
    handle: Option<JoinHandle<Result<(), StoreError>>>,
    stats: Arc<WriterStats>,
}

/// How long the writer keeps retrying at shutdown before giving up and reporting what is left.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(30);

impl Writer {
    /// Starts the writer on `conn`. At most `capacity` batches wait; a full channel blocks the
    /// sender (back pressure: a slow disk slows the pipeline, it never grows memory).
    pub fn spawn(
        conn: Connection,
        path: PathBuf,
        capacity: usize,
        retention_ms: Option<i64>,
    ) -> Self {
        let (tx, rx) = sync_channel(capacity);
        let stats = Arc::new(WriterStats::default());
        let s = Arc::clone(&stats);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, path, rx, s, retention_ms))
            .expect("spawn the store writer");
        Self {
            tx: Some(tx),
            handle: Some(handle),
            stats,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues a batch and waits until it is committed (or the writer has stopped).
    pub fn send_and_wait(&self, mut batch: Batch) {
        let (tx, rx) = sync_channel(1);
        batch.acks.push(Ack::new(move || {
            let _ = tx.send(());
        }));
        self.send(batch);
        let _ = rx.recv();
    }

    /// Queues a batch, waiting while the channel is full.
    pub fn send(&self, batch: Batch) {
        if batch.rows() == 0 && batch.clock.is_none() && batch.acks.is_empty() {
            return;
        }
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        if let Some(tx) = &self.tx
            && tx.send(batch).is_err()
        {
            // The writer thread has ended; `finish` reports why.
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes the channel and waits until everything queued is written (or the writer gives up).
    pub fn finish(mut self) -> Result<(), StoreError> {
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(StoreError::WriterPanicked {
                unwritten: self.stats.pending.load(Ordering::Relaxed),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    /// A writer dropped without `finish` still writes what is queued before it goes: nothing
    /// accepted is lost because a caller forgot to finish.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take()
            && let Ok(Err(e)) = h.join()
        {
            tracing::error!(error = %crate::error::Chain(&e), "The store writer stopped with an error.");
        }
    }
}

fn retryable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DatabaseBusy
                | DatabaseLocked
                | DiskFull
                | ReadOnly
                | SystemIoFailure
                | CannotOpen
                | OutOfMemory
        )
    )
}

fn writer_loop(
    mut conn: Connection,
    path: PathBuf,
    rx: Receiver<Batch>,
    stats: Arc<WriterStats>,
    retention_ms: Option<i64>,
) -> Result<(), StoreError> {
    let mut closed_at: Option<Instant> = None;
    let mut newest: Option<UnixMillis> = None;
    let mut last_sweep: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        // Coalesce what is already queued into one transaction: fewer commits when busy.
        let mut batch = first;
        let mut count = 1u64;
        while batch.rows() < 50_000 {
            match rx.try_recv() {
                Ok(b) => {
                    batch.absorb(b);
                    count += 1;
                }
                Err(_) => break,
            }
        }
        let mut delays =
            crate::backoff::delays(Duration::from_millis(100), Duration::from_secs(30));
        loop {
            match write_batch(&mut conn, &batch) {
                Ok(()) => {
                    newest = newest.max(batch.positions.iter().map(|(_, f)| f.time).max());
                    if let (Some(keep), Some(newest)) = (retention_ms, newest)
                        && last_sweep.is_none_or(|t| t.elapsed() >= RETENTION_SWEEP_EVERY)
                    {
                        last_sweep = Some(Instant::now());
                        match delete_old_positions(&conn, newest, keep) {
                            Ok(n) if n > 0 => {
                                tracing::info!(deleted = n, "Deleted positions past retention.")
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "Retention sweep failed; will try again later.")
                            }
                        }
                    }
                    for ack in batch.acks.drain(..) {
                        (ack.0)();
                    }
                    stats.batches.fetch_add(count, Ordering::Relaxed);
                    stats.transactions.fetch_add(1, Ordering::Relaxed);
                    stats.rows.fetch_add(batch.rows() as u64, Ordering::Relaxed);
                    stats.pending.fetch_sub(count, Ordering::Relaxed);
                    break;
                }
                Err(e) if retryable(&e) => {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = delays.next().unwrap_or(Duration::from_secs(30));
                    let pending = stats.pending.load(Ordering::Relaxed);
                    tracing::warn!(path = %path.display(), error = %e, pending, retry_in_ms = wait.as_millis() as u64,
                        "Store write failed; the batch stays queued and will be retried.");
                    // Once the pipeline has finished, keep trying only for a while, then report.
                    let done =
                        rx.try_recv().err() == Some(std::sync::mpsc::TryRecvError::Disconnected);
                    let since = *closed_at.get_or_insert_with(Instant::now);
                    if done && since.elapsed() > SHUTDOWN_PATIENCE {
                        return Err(StoreError::Unwritten {
                            path,
                            unwritten: pending,
                            last_error: SqliteError(e),
                        });
                    }
                    if !done {
                        closed_at = None;
                    }
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    // Not a condition that time fixes (a bug or a corrupt file): say so and stop.
                    tracing::error!(path = %path.display(), error = %e, "Store write failed permanently.");
                    return Err(StoreError::Unwritten {
                        path,
                        unwritten: stats.pending.load(Ordering::Relaxed),
                        last_error: SqliteError(e),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_has_the_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("a.db")).unwrap();
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM positions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn upgrade_from_the_first_schema_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = open_to_version(&path, 1).unwrap();
            conn.execute(
                "INSERT INTO events (id, kind, time, mmsi, fence, record) VALUES ('x', 'arrival', 1, 2, 'f', '{}')",
                [],
            )
            .unwrap();
            assert!(
                conn.prepare("SELECT * FROM positions").is_err(),
                "no positions table in version 1"
            );
        }
        let conn = open(&path).unwrap();
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let id: String = conn
            .query_row("SELECT id FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, "x");
        conn.execute(
            "INSERT INTO positions (mmsi, time, lat, lon) VALUES (1, 2, 3, 4)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        {
            let conn = open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let e = open(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "schema version 99 is newer than this vesselwatch knows ({SCHEMA_VERSION})"
            )),
            "{e}"
        );
        assert!(open_read_only(&path).is_err());
    }
}
