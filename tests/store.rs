//! The store with the real binary and a real SQLite file: exact resume after a restart, a kill -9 in
//! the middle of a replay, queries against expected output in every format, and the writer riding
//! out a locked or full database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rusqlite::Connection;
use vesselwatch::store::{self, Batch, Writer};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::tracker::Fix;
mod util;
use util::root;

/// The binary with no `COLUMNS`: its output goes to a pipe, so tables take their widest layout,
/// nothing wrapped, as `fixtures/regenerate.sh` writes them.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vesselwatch"));
    c.env_remove("COLUMNS");
    c
}

fn feed() -> PathBuf {
    root().join("fixtures/tartus-2025-01/feed.nmea")
}

fn config() -> PathBuf {
    root().join("config/vesselwatch.toml")
}

/// Replays `feed` into `db`; returns what it printed (JSON lines).
fn replay(db: &Path, feed: &Path) -> String {
    let out = bin()
        .args(["replay", "--format", "jsonl", "--config"])
        .arg(config())
        .arg("--db")
        .arg(db)
        .arg(feed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The events table, as (id, record) in time order.
fn stored_events(db: &Path) -> Vec<(String, String)> {
    let c = Connection::open(db).unwrap();
    let mut s = c
        .prepare("SELECT id, record FROM events ORDER BY time, id")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A visit row: MMSI, fence, arrival, departure, inferred.
type VisitRow = (u32, String, Option<i64>, Option<i64>, bool);

fn stored_visits(db: &Path) -> Vec<VisitRow> {
    let c = Connection::open(db).unwrap();
    let mut s = c
        .prepare("SELECT mmsi, fence, arrival, departure, inferred FROM visits ORDER BY mmsi, fence, arrival")
        .unwrap();
    s.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn restart_resumes_exactly_and_a_second_replay_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.db");
    let all_printed = replay(&whole, &feed());

    // The first half of the feed, then (a restart) the whole feed again into the same database.
    let text = std::fs::read_to_string(feed()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = dir.path().join("half.nmea");
    std::fs::write(&half, lines[..lines.len() / 2].join("\n") + "\n").unwrap();
    let resumed = dir.path().join("resumed.db");
    let first = replay(&resumed, &half);
    let second = replay(&resumed, &feed());
    assert!(!first.is_empty() && !second.is_empty());
    // Together the two runs printed each event once: no repeated arrival, no lost departure.
    assert_eq!(first + &second, all_printed);
    assert_eq!(stored_events(&resumed), stored_events(&whole));
    assert_eq!(stored_visits(&resumed), stored_visits(&whole));

    // Replaying the whole feed a third time adds nothing.
    assert_eq!(replay(&resumed, &feed()), "");
    assert_eq!(stored_events(&resumed), stored_events(&whole));
    // The stored records are the replay's JSON lines, byte for byte.
    let expected =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    let mut records: Vec<String> = stored_events(&whole).into_iter().map(|(_, r)| r).collect();
    let mut lines: Vec<String> = expected.lines().map(str::to_string).collect();
    records.sort();
    lines.sort();
    assert_eq!(records, lines);
}

#[test]
fn kill_9_mid_replay_then_replay_all_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.db");
    replay(&whole, &feed());

    // 24 days of message time paced to about 8 s of wall time; killed after 3 s, by when the writer
    // has committed a few one-second batches.
    let crashed = dir.path().join("crashed.db");
    let mut child = bin()
        .args(["replay", "--speed", "260000", "--config"])
        .arg(config())
        .arg("--db")
        .arg(&crashed)
        .arg(feed())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = stored_events(&crashed);
    assert!(!partial.is_empty(), "nothing was committed before the kill");
    assert!(
        partial.len() < stored_events(&whole).len(),
        "the kill came after the end"
    );
    {
        let c = Connection::open(&crashed).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
    replay(&crashed, &feed());
    assert_eq!(stored_events(&crashed), stored_events(&whole));
    assert_eq!(stored_visits(&crashed), stored_visits(&whole));
}

#[test]
fn queries_match_the_expected_output_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    replay(&db, &feed());
    let expected_dir = root().join("fixtures/queries");
    for (name, args) in query_cases() {
        let out = bin().args(&args).arg("--db").arg(&db).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read_to_string(expected_dir.join(name)).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "{name}");
    }
}

/// The query cases, named by their expected-output file in `fixtures/queries/` (regenerated by
/// `fixtures/regenerate.sh` with the same arguments).
fn query_cases() -> Vec<(&'static str, Vec<&'static str>)> {
    let lines = std::fs::read_to_string(root().join("fixtures/queries/cases.txt")).unwrap();
    lines
        .leak()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, args) = l.split_once(':').expect("name: args");
            (name.trim(), args.split_whitespace().collect())
        })
        .collect()
}

fn batch(n: u32) -> Batch {
    Batch {
        positions: (0..n)
            .map(|i| {
                (
                    273_000_000 + i,
                    Fix {
                        time: UnixMillis(1_700_000_000_000 + i64::from(i)),
                        lat: 34.9,
                        lon: 35.8,
                        sog: Some(1.0),
                    },
                )
            })
            .collect(),
        ..Batch::default()
    }
}

#[test]
fn a_locked_database_is_retried_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let conn = store::open(&path).unwrap();
    conn.busy_timeout(Duration::from_millis(50)).unwrap();
    // Another process holds the write lock.
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let writer = Writer::spawn(conn, path.clone(), 4, None);
    writer.send(batch(100));
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        writer
            .stats()
            .retries
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        writer
            .stats()
            .pending
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    blocker.execute_batch("COMMIT").unwrap();
    writer.finish().unwrap();
    let n: i64 = blocker
        .query_row("SELECT count(*) FROM positions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 100);
}

#[test]
fn a_full_disk_is_a_retryable_error_that_writes_nothing_partially() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let mut conn = store::open(&path).unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "max_page_count", pages).unwrap();
    let e = store::write_batch(&mut conn, &batch(20_000)).unwrap_err();
    assert_eq!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull),
        "{e}"
    );
    let n: i64 = conn
        .query_row("SELECT count(*) FROM positions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "the transaction was rolled back whole");
}

#[test]
fn retention_deletes_only_positions_older_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store::open(&dir.path().join("r.db")).unwrap();
    store::write_batch(&mut conn, &batch(1000)).unwrap();
    // Keep the last 100 ms of the 1,000 ms the batch spans.
    let newest = UnixMillis(1_700_000_000_000 + 999);
    assert_eq!(
        store::delete_old_positions(&conn, newest, 100).unwrap(),
        899
    );
    let oldest: i64 = conn
        .query_row("SELECT min(time) FROM positions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(oldest, newest.0 - 100);
}
