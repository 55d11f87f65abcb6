//! The store: SQLite, and the only module that writes SQL.
//!
//! Owns the schema (embedded, numbered migrations applied at open inside a transaction, here), fence
//! sync (`fences`), reading saved state and checkpoints back (`state`), the batch and its SQL
//! (`batch`), the single writer thread (`writer`), the alert outbox ([`outbox`]) and the read-only
//! queries ([`query`]).
//!
//! One writer, on its own thread, fed by a bounded channel: SQLite allows one writer at a time, and
//! a single owner makes batching (many rows per transaction), ordering and retry simple. An event,
//! the visit it opens or closes, and the engine state behind it travel in one [`Batch`] and are
//! committed in one transaction, so a crash never leaves one without the others. WAL mode lets
//! readers (the query commands) read while the writer writes.

mod batch;
pub mod config;
mod fences;
pub mod map;
pub mod outbox;
pub mod query;
mod state;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use config::StoreConfig;

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_positions.sql"),
    include_str!("../../migrations/0003_outbox.sql"),
    include_str!("../../migrations/0004_checkpoint_file.sql"),
    include_str!("../../migrations/0005_map.sql"),
    include_str!("../../migrations/0006_encounters.sql"),
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
    /// The file is a SQLite database of another application.
    #[error(
        "{path} is not a vesselwatch database (it holds {tables} table(s) of something else); pass --db with a new or vesselwatch file"
    )]
    NotOurs {
        /// The database file.
        path: PathBuf,
        /// How many tables it holds.
        tables: i64,
    },
    /// The writer stopped with batches it could not write.
    #[error("not written to {path}: {unwritten}")]
    Unwritten {
        /// The database file.
        path: PathBuf,
        /// What was left (boxed: errors travel through every command's `Result`).
        unwritten: Box<writer::Unwritten>,
        /// The last error.
        #[source]
        last_error: SqliteError,
    },
    /// Another file took the database's name while the daemon had it open: it is not ours to
    /// overwrite.
    #[error("{path} was replaced by another file while the daemon had it open; move it away")]
    Replaced {
        /// The database file.
        path: PathBuf,
    },
    /// A file operation on the database failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
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

/// Refuses a database at version 0 that already holds tables: another application's, not to be
/// filled with vesselwatch's tables beside its own (nor switched to WAL). Checked before anything
/// is written to the file.
fn refuse_foreign(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = sql_err(path);
    if schema_version(conn, path)? == 0 {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        if tables > 0 {
            return Err(StoreError::NotOurs {
                path: path.to_path_buf(),
                tables,
            });
        }
    }
    Ok(())
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
    refuse_foreign(&conn, path)?;
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

/// Opens the store at `db`, syncs its fences, restores the engine's saved state into `engine` (a
/// restart resumes exactly), turns on recording as `[store]` says, and starts the writer: what
/// `replay` and `run` both do before the first message.
pub fn start(
    db: PathBuf,
    settings: &StoreConfig,
    fences: &[FenceRecord],
    engine: &mut vesselwatch_engine::movement::Engine,
) -> Result<Writer, StoreError> {
    let mut conn = open(&db)?;
    sync_fences(&mut conn, &db, fences)?;
    let limits = engine.settings();
    let (snapshots, clock) = load_state(
        &conn,
        &db,
        Some(limits.forget_after_ms),
        Some(limits.max_vessels),
    )?;
    tracing::info!(db = %db.display(), vessels = snapshots.len(), "Store opened; engine state restored.");
    engine.restore(snapshots, clock);
    engine.enable_recording(settings.sample_positions.millis());
    let writer = Writer::spawn_with(
        conn,
        db.clone(),
        64,
        Some(settings.position_retention.millis()),
        settings.patience(),
    );
    engine.set_recall(Box::new(StoreRecall::open(&db, writer.stats_handle())?));
    Ok(writer)
}

pub use batch::{Ack, Batch, Checkpoint, delete_old_positions, write_batch};
pub use fences::{FenceRecord, sync_fences};
pub use state::{StoreRecall, load_checkpoints, load_state};
pub use writer::{Patience, Unwritten, Writer, WriterStats, WriterStopped};

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
