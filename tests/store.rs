//! The store with the real binary and a real SQLite file: exact resume after a restart, a kill -9 in
//! the middle of a replay, queries against expected output in every format, CSV and tables checked
//! against the JSON of the same query, and the writer riding out a locked or full database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;
use vesselwatch::store::{self, Batch, Writer};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::tracker::Fix;
mod util;
use util::{root, run_ok};

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

/// Runs a query against `db` with `extra` arguments; returns standard output.
fn query(db: &Path, args: &[&str], extra: &[&str]) -> String {
    let out = run_ok(bin().args(args).args(extra).arg("--db").arg(db));
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON array a query prints with `--format json`.
fn query_json(db: &Path, args: &[&str]) -> Vec<Value> {
    serde_json::from_str(&query(db, args, &["--format", "json"])).unwrap()
}

/// A row's JSON flattened as the README describes the CSV: a nested object's fields under
/// `parent_field`, everything else under its own key.
fn flatten(row: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in row.as_object().expect("rows are objects") {
        match v {
            Value::Object(inner) => out.extend(
                inner
                    .iter()
                    .map(|(ik, iv)| (format!("{k}_{ik}"), iv.clone())),
            ),
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// Whether a CSV field says what a JSON value says: empty for null, `true`/`false`, integers
/// exactly, other numbers as the same f64, strings unchanged, a list joined by `|`.
fn same(csv: &str, json: &Value) -> bool {
    match json {
        Value::Null => csv.is_empty(),
        Value::Bool(b) => csv == b.to_string(),
        Value::Number(n) if n.is_f64() => csv.parse::<f64>().ok() == n.as_f64(),
        Value::Number(n) => csv == n.to_string(),
        Value::String(s) => csv == s,
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().map(|i| i.as_str().unwrap()).collect();
            csv == parts.join("|")
        }
        Value::Object(_) => false,
    }
}

/// Parses a query's CSV with the `csv` crate and requires, row by row, that every column is a field
/// of the same query's JSON with the same value, and that every JSON field has its column (a null
/// object's fields are empty columns). Returns the parsed rows with their headers.
fn csv_matches_json(db: &Path, args: &[&str]) -> Vec<std::collections::BTreeMap<String, String>> {
    let json = query_json(db, args);
    let text = query(db, args, &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for h in &headers {
        assert!(
            h.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{args:?}: header {h:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), json.len(), "{args:?}: one CSV row per JSON row");
    let mut parsed = Vec::new();
    for (record, row) in rows.iter().zip(&json) {
        let fields = flatten(row);
        let csv_row: std::collections::BTreeMap<String, String> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(String::from))
            .collect();
        for (key, value) in &fields {
            match csv_row.get(key) {
                Some(cell) => assert!(
                    same(cell, value),
                    "{args:?}: {key}: CSV {cell:?}, JSON {value}"
                ),
                None => {
                    // A null object (an event's `other_side`): its fields are there, empty.
                    assert!(value.is_null(), "{args:?}: no column for {key}");
                    let prefix = format!("{key}_");
                    let columns: Vec<&String> =
                        headers.iter().filter(|h| h.starts_with(&prefix)).collect();
                    assert!(!columns.is_empty(), "{args:?}: no column for {key}");
                    assert!(
                        columns.iter().all(|h| csv_row[*h].is_empty()),
                        "{args:?}: {key}"
                    );
                }
            }
        }
        for h in &headers {
            assert!(
                fields
                    .iter()
                    .any(|(k, _)| k == h || h.starts_with(&format!("{k}_"))),
                "{args:?}: column {h} is no JSON field"
            );
        }
        parsed.push(csv_row);
    }
    parsed
}

#[test]
fn csv_has_one_column_per_json_field_with_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("csv.db");
    replay(&db, &feed());
    let events = csv_matches_json(&db, &["events"]);
    // The fixture's expected events (the replay's own output, an independent copy of the records).
    let expected =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    assert_eq!(events.len(), expected.lines().count());
    for line in expected.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let row = events
            .iter()
            .find(|r| r["id"] == e["id"].as_str().unwrap())
            .expect("every expected event is a CSV row");
        assert_eq!(
            row["window_start"],
            e["window_start"].as_str().unwrap_or("")
        );
        assert_eq!(row["window_end"], e["window_end"].as_str().unwrap_or(""));
        assert_eq!(row["inferred"], e["inferred"].to_string());
    }
    csv_matches_json(&db, &["events", "--kind", "departure"]);
    let visits = csv_matches_json(&db, &["visits"]);
    assert!(!visits.is_empty());
    for v in &visits {
        // Whole seconds between the two times, as the times themselves say.
        let t = |s: &str| UnixMillis::parse_rfc3339(s.as_bytes()).unwrap().0;
        let seconds = (t(&v["departure"]) - t(&v["arrival"])) / 1000;
        assert_eq!(v["duration_s"], seconds.to_string());
    }
    assert!(!csv_matches_json(&db, &["vessels"]).is_empty());
    assert!(
        !csv_matches_json(
            &db,
            &["track", "273000202", "--since", "2025-02-04T00:00:00Z"]
        )
        .is_empty()
    );
}

/// A scenario whose one vessel, named with a comma and quotes (both in AIS's six-bit alphabet),
/// sails into Tartus port, and a config watching it under a label with a comma, quotes and a line
/// break; replayed into `dir/q.db`. Returns the database, the name and the label.
fn awkward_names(dir: &Path) -> (PathBuf, &'static str, &'static str) {
    let name = r#"ANNA, "B""#;
    let label = "Anna \"B\", the\nsecond";
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "awkward"
seed = 1
start = "2025-06-01T00:00:00Z"
end = "2025-06-01T04:00:00Z"
interval = "1m"
[[vessels]]
mmsi = 273000301
imo = 9000301
name = {name:?}
waypoints = [
  {{ lat = 34.9300, lon = 35.6500 }},
  {{ lat = 34.8870, lon = 35.8620, speed_kn = 12, wait = "2h" }},
]
"#
        ),
    )
    .unwrap();
    let feed = dir.join("feed.nmea");
    run_ok(bin().arg("simulate").arg(&scenario).arg("-o").arg(&feed));
    let config = dir.join("config.toml");
    let geojson = root().join("config/fences/tartus-port.geojson");
    std::fs::write(
        &config,
        format!(
            "[[fences]]\nname = \"tartus-port\"\nkind = \"port\"\ngeojson = {:?}\n\n\
             [[watch]]\nlabel = {label:?}\nmmsi = 273000301\n",
            geojson.to_str().unwrap()
        ),
    )
    .unwrap();
    let db = dir.join("q.db");
    run_ok(
        bin()
            .arg("replay")
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .arg(&feed),
    );
    (db, name, label)
}

#[test]
fn csv_round_trips_a_name_with_a_comma_and_quotes_and_a_label_with_a_line_break() {
    let dir = tempfile::tempdir().unwrap();
    let (db, name, label) = awkward_names(dir.path());
    let events = csv_matches_json(&db, &["events"]);
    assert!(
        events.iter().any(|e| e["kind"] == "arrival"),
        "the scenario's arrival: {events:?}"
    );
    for e in &events {
        assert_eq!(e["name"], name);
        assert_eq!(e["label"], label);
    }
    let vessels = csv_matches_json(&db, &["vessels"]);
    assert_eq!(vessels.len(), 1);
    assert_eq!(vessels[0]["name"], name);
    let visits = csv_matches_json(&db, &["visits"]);
    assert_eq!(visits[0]["name"], name);
}

/// Every MMSI and time a table is meant to show, taken from the JSON of the same query. The events
/// table shows an event's time and window; its crossing time, visit start and other side are in
/// the JSON and CSV only.
fn shown_values(what: &str, row: &Value) -> Vec<String> {
    let keys: &[&str] = match what {
        "events" => &["mmsi", "time", "window_start", "window_end"],
        "visits" => &["mmsi", "arrival", "departure"],
        "vessels" => &["mmsi", "imo", "first_seen", "last_seen"],
        "track" => &["mmsi", "time"],
        _ => unreachable!(),
    };
    keys.iter()
        .filter(|k| !row[**k].is_null())
        .map(|k| match &row[*k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn tables_fit_80_columns_with_every_mmsi_and_time_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    replay(&db, &feed());
    let cases: [(&str, &[&str]); 4] = [
        ("events", &["events"]),
        ("visits", &["visits"]),
        ("vessels", &["vessels"]),
        (
            "track",
            &["track", "SPARTA", "--since", "2025-02-04T00:00:00Z"],
        ),
    ];
    for (what, args) in cases {
        let json = query_json(&db, args);
        assert!(!json.is_empty(), "{what}");
        let out = run_ok(bin().env("COLUMNS", "80").args(args).arg("--db").arg(&db));
        let table = String::from_utf8(out.stdout).unwrap();
        for line in table.lines() {
            assert!(
                line.chars().count() <= 80,
                "{what}: {} chars: {line:?}",
                line.chars().count()
            );
        }
        for row in &json {
            for value in shown_values(what, row) {
                assert!(
                    table.contains(&value),
                    "{what}: {value} is not whole in\n{table}"
                );
            }
        }
        // Wrapped, the vessel (its label, else its name) loses no word.
        for row in &json {
            let vessel = row["label"].as_str().or(row["name"].as_str()).unwrap_or("");
            for word in vessel.split_whitespace() {
                assert!(table.contains(word), "{what}: {word} in\n{table}");
            }
        }
    }
    // The awkward label wraps at its line break and its spaces, its MMSI whole.
    let awkward = dir.path().join("awkward");
    std::fs::create_dir(&awkward).unwrap();
    let (db, _, label) = awkward_names(&awkward);
    let out = run_ok(
        bin()
            .env("COLUMNS", "80")
            .arg("events")
            .arg("--db")
            .arg(&db),
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    assert!(table.contains("273000301"), "{table}");
    for word in label.split_whitespace() {
        assert!(table.contains(word), "{word} in\n{table}");
    }
}

// Regression (issue 10): shells do not export COLUMNS, so the table was 146 columns wide in an
// 80-column terminal; the terminal's own width must be used.
#[test]
fn a_terminal_without_columns_gets_a_table_of_its_width() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tty.db");
    replay(&db, &feed());
    let piped = query(&db, &["visits"], &[]);
    assert!(
        piped.lines().any(|l| l.chars().count() > 80),
        "a pipe gets the wide layout:\n{piped}"
    );
    // `script` (util-linux) runs the command on a pseudo-terminal of the size `stty` sets.
    let on_tty = |cols: u32| {
        let command = format!(
            "stty cols {cols} rows 50; exec {} visits --db {}",
            env!("CARGO_BIN_EXE_vesselwatch"),
            db.display()
        );
        let out = run_ok(
            Command::new("script")
                .args(["-qec", &command, "/dev/null"])
                .env_remove("COLUMNS"),
        );
        String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
    };
    let narrow = on_tty(80);
    assert!(
        narrow.lines().all(|l| l.chars().count() <= 80),
        "an 80-column terminal:\n{narrow}"
    );
    for row in query_json(&db, &["visits"]) {
        for value in shown_values("visits", &row) {
            assert!(narrow.contains(&value), "{value} whole in\n{narrow}");
        }
    }
    assert_eq!(
        on_tty(200),
        piped,
        "a terminal wide enough gets the pipe's layout"
    );
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
    writer.send(batch(100)).unwrap();
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

/// Regression: after the writer stopped on an error that time does not fix, later batches were
/// dropped in silence (the pipeline went on reading). Now every later send is refused, so the
/// caller stops, and `finish` names the cause once.
#[test]
fn a_writer_stopped_for_good_refuses_every_later_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    let conn = store::open(&path).unwrap();
    // Not a condition that retrying fixes: the table is gone.
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE positions")
        .unwrap();
    let writer = Writer::spawn(conn, path.clone(), 4, None);
    assert_eq!(
        writer.send_and_wait(batch(10)),
        Err(store::WriterStopped),
        "the batch that failed is not reported committed"
    );
    assert_eq!(writer.send(batch(10)), Err(store::WriterStopped));
    let e = format!("{:#}", anyhow::Error::new(writer.finish().unwrap_err()));
    assert!(e.contains("no such table: positions"), "{e}");
    assert_eq!(e.matches("no such table").count(), 1, "{e}");
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

/// Issue 11, item 3: a connection that has become read-only stays so after the cause is fixed;
/// the writer opens the file again and the batch is written.
#[test]
fn a_read_only_connection_is_opened_again_and_the_batch_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    drop(store::open(&path).unwrap());
    let ro =
        Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let writer = Writer::spawn(ro, path.clone(), 4, None);
    writer.send_and_wait(batch(25)).unwrap();
    assert_eq!(writer.stats().reopens.load(Relaxed), 1);
    assert_eq!(writer.stats().retries.load(Relaxed), 1);
    assert_eq!(writer.stats().failing_since_ms.load(Relaxed), 0);
    writer.finish().unwrap();
    assert_eq!(count(&path, "positions"), 25);
}

/// Issue 11, item 3: the database files deleted under the running writer. SQLite would go on
/// writing into the deleted inodes, where nobody finds it; the writer notices and writes the
/// database anew from its open connection, so what was committed before and after is all there.
#[test]
fn database_files_deleted_mid_run_are_written_anew_with_everything() {
    for (case, deleted) in [
        ("all", &["", "-wal", "-shm"][..]),
        ("database", &[""][..]),
        ("log", &["-wal"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.db");
        let writer = Writer::spawn(store::open(&path).unwrap(), path.clone(), 4, None);
        writer.send_and_wait(batch(30)).unwrap();
        for suffix in deleted {
            std::fs::remove_file(format!("{}{suffix}", path.display())).unwrap();
        }
        let mut second = batch(70);
        for (i, (mmsi, fix)) in second.positions.iter_mut().enumerate() {
            *mmsi = 200_000_000 + i as u32;
            fix.time.0 += 1_000_000;
        }
        writer.send_and_wait(second).unwrap();
        assert_eq!(writer.stats().restores.load(Relaxed), 1, "{case}");
        writer.finish().unwrap();
        assert_eq!(count(&path, "positions"), 100, "{case}");
        let strays: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".restoring"))
            .collect();
        assert!(strays.is_empty(), "{case}: {strays:?}");
    }
}

/// Issue 11, item 3: a store that does not recover within the configured time stops the writer,
/// and the error says exactly what was not written: the batch being retried and those queued.
#[test]
fn a_store_that_does_not_recover_in_time_says_what_was_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.db");
    let conn = store::open(&path).unwrap();
    conn.busy_timeout(Duration::from_millis(20)).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let patience = store::Patience {
        give_up_after: Duration::from_millis(800),
        at_shutdown: Duration::from_secs(30),
    };
    let writer = Writer::spawn_with(conn, path.clone(), 4, None, patience);
    let t = Instant::now();
    assert_eq!(writer.send_and_wait(batch(40)), Err(store::WriterStopped));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let e = writer.finish().unwrap_err();
    match &e {
        store::StoreError::Unwritten { unwritten, .. } => {
            assert_eq!(unwritten.batches, 1);
            assert_eq!(unwritten.positions, 40);
            assert_eq!(unwritten.events, 0);
            assert_eq!(
                unwritten.span,
                Some((UnixMillis(1_700_000_000_000), UnixMillis(1_700_000_000_039)))
            );
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{:#}", anyhow::Error::new(e));
    assert!(text.contains("40 position(s)"), "{text}");
    assert!(text.contains("locked"), "{text}");
}

/// Issue 11, item 3: shutdown is bounded whatever the store does. Once closing, a store that keeps
/// failing gets `at_shutdown`, not the (long) give-up time, and even a 30 s backoff sleep is cut.
#[test]
fn finishing_with_a_store_that_keeps_failing_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stuck.db");
    let conn = store::open(&path).unwrap();
    conn.busy_timeout(Duration::from_millis(20)).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let patience = store::Patience {
        give_up_after: Duration::from_secs(3_600),
        at_shutdown: Duration::from_millis(700),
    };
    let writer = Writer::spawn_with(conn, path.clone(), 4, None, patience);
    writer.send(batch(5)).unwrap();
    writer.send(batch(6)).unwrap();
    // Long enough for the backoff to have grown past the shutdown patience.
    std::thread::sleep(Duration::from_millis(1_500));
    let t = Instant::now();
    let e = writer.finish().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    match e {
        store::StoreError::Unwritten { unwritten, .. } => {
            assert_eq!((unwritten.batches, unwritten.positions), (2, 11));
        }
        other => panic!("{other:?}"),
    }
}

fn count(path: &std::path::Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Issue 12: `--db` pointed at another application's SQLite file silently added vesselwatch's
/// tables to it. Now it is refused, and the file is left as it was.
#[test]
fn another_applications_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .unwrap();
    let out = util::bin()
        .args(["replay", "--config"])
        .arg(root().join("config/vesselwatch.toml"))
        .arg("--db")
        .arg(&path)
        .arg(util::fixture("tartus-2025-01/feed.nmea"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a vesselwatch database (it holds 1 table(s)"),
        "{stderr}"
    );
    let tables: Vec<String> = Connection::open(&path)
        .unwrap()
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["invoices"]);
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "not switched to WAL");
}

/// Issue 12: a circle fence reaches a map as a polygon whose every vertex is the radius from its
/// centre (haversine, computed here), closed.
#[test]
fn a_circle_fence_is_a_closed_polygon_at_its_radius() {
    let loaded = vesselwatch::config::Loaded::from_str(
        "[[fences]]\nname = \"c\"\nkind = \"port\"\ncenter = { lat = 34.9, lon = 35.87 }\nradius_km = 2.5\n",
        vesselwatch::config::Origin::Embedded,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut conn = store::open(&path).unwrap();
    store::sync_fences(&mut conn, &path, &loaded.fence_records()).unwrap();
    let fc = store::query::fences_geojson(&conn).unwrap();
    let ring = fc["features"][0]["geometry"]["coordinates"][0]
        .as_array()
        .unwrap();
    assert_eq!(fc["features"][0]["geometry"]["type"], "Polygon");
    assert_eq!(ring.len(), 65);
    assert_eq!(ring[0], ring[64]);
    for p in ring {
        let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        let (p1, p2) = (34.9f64.to_radians(), lat.to_radians());
        let (dp, dl) = ((lat - 34.9).to_radians(), (lon - 35.87).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        let km = 2.0 * 6_371.008_8 * a.sqrt().asin();
        assert!((km - 2.5).abs() < 0.001, "{km}");
    }
}
