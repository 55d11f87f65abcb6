//! The file source against the real binary and a real file: where it starts, that a restart
//! resumes from the committed checkpoint (nothing skipped, nothing read twice), and rotation by
//! rename-and-create and by truncation.
//!
//! Oracles: the NMEA framing of the fixture (a message is complete at the line whose fragment
//! number equals its fragment count, so the messages in any run of lines are counted from the
//! lines themselves), the file's length in bytes for the checkpoint, and the fixture's expected
//! events for what the store holds.

mod util;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use util::{free_port, root, sorted_lines, stored_events, wait_until};

fn feed_lines() -> Vec<String> {
    std::fs::read_to_string(root().join("fixtures/tartus-2025-01/feed.nmea"))
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Messages the lines complete: those whose fragment number equals the fragment count.
fn messages(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| {
            let sentence = &l[l.find('!').unwrap()..];
            let f: Vec<&str> = sentence.split(',').collect();
            f[1] == f[2]
        })
        .count() as u64
}

/// An index near `at` where a message starts, so that no multi-part message is split.
fn message_boundary(lines: &[String], at: usize) -> usize {
    (at..lines.len())
        .find(|&i| {
            let s = &lines[i][lines[i].find('!').unwrap()..];
            s.split(',').nth(2) == Some("1")
        })
        .unwrap()
}

fn expected_events() -> Vec<String> {
    sorted_lines(&root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
}

struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    fn start(dir: &Path, source: &str) -> Self {
        let port = free_port();
        let cfg = dir.join("vesselwatch.toml");
        let shipped = std::fs::read_to_string(root().join("config/vesselwatch.toml")).unwrap();
        let fences_and_watch = shipped[shipped.find("[[fences]]").unwrap()..].replace(
            "geojson = \"fences/",
            &format!("geojson = \"{}/config/fences/", root().display()),
        );
        std::fs::write(
            &cfg,
            format!("[http]\nlisten = \"127.0.0.1:{port}\"\n{source}\n{fences_and_watch}"),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
            .args(["run", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(dir.join("live.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Daemon { child, port };
        assert!(
            wait_until(Duration::from_secs(20), || d
                .metric("vesselwatch_messages_total")
                .is_some()),
            "the daemon did not serve /metrics"
        );
        d
    }

    /// The value of the first sample named `name` in `/metrics`.
    fn metric(&self, name: &str) -> Option<u64> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).ok()?;
        out.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(20), || self
                .child
                .try_wait()
                .unwrap()
                .is_some()),
            "no exit 20 s after SIGTERM"
        );
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The committed checkpoint of `feed`: (offset, file identity).
fn checkpoint(db: &Path, feed: &str) -> Option<(u64, Option<String>)> {
    let c = rusqlite::Connection::open(db).ok()?;
    c.query_row(
        "SELECT position, file_id FROM checkpoints WHERE feed = ?1",
        [feed],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
    )
    .ok()
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(lines.concat().as_bytes()).unwrap();
}

fn source(path: &Path, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"rec\"\ntype = \"file\"\npath = \"{}\"\n{extra}\n",
        path.display()
    )
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn a_restart_resumes_at_the_committed_checkpoint_and_reads_what_was_appended_meanwhile() {
    let lines = feed_lines();
    let mid = message_boundary(&lines, lines.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let (file, db): (PathBuf, PathBuf) = (dir.path().join("feed.nmea"), dir.path().join("live.db"));
    append(&file, &lines[..mid]);

    let first = Daemon::start(dir.path(), &source(&file, ""));
    // No checkpoint yet: the whole file is read, from its start.
    assert!(
        wait_until(Duration::from_secs(30), || checkpoint(&db, "rec")
            .map(|c| c.0)
            == Some(size(&file))),
        "checkpoint {:?}, file {}",
        checkpoint(&db, "rec"),
        size(&file)
    );
    assert_eq!(
        first.metric("vesselwatch_messages_total"),
        Some(messages(&lines[..mid]))
    );
    first.stop();

    // Appended while the daemon was down.
    append(&file, &lines[mid..]);
    let second = Daemon::start(dir.path(), &source(&file, ""));
    assert!(wait_until(Duration::from_secs(30), || {
        checkpoint(&db, "rec").map(|c| c.0) == Some(size(&file))
    }));
    // Exactly the appended messages: nothing skipped, nothing read again.
    assert_eq!(
        second.metric("vesselwatch_messages_total"),
        Some(messages(&lines[mid..]))
    );
    second.stop();
    assert_eq!(stored_events(&db), expected_events());
}

#[test]
fn read_from_end_skips_what_is_there_and_reads_what_is_appended() {
    let lines = feed_lines();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.nmea");
    let split = message_boundary(&lines, 100);
    append(&file, &lines[..split]);
    let d = Daemon::start(dir.path(), &source(&file, "read_from = \"end\""));
    // The source has opened the file (it is up) before anything is appended.
    assert!(wait_until(Duration::from_secs(10), || d
        .metric("vesselwatch_source_up")
        == Some(1)));
    let tail = message_boundary(&lines, split + 50);
    append(&file, &lines[split..tail]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            d.metric("vesselwatch_messages_total") == Some(messages(&lines[split..tail]))
        }),
        "messages {:?}, appended {}",
        d.metric("vesselwatch_messages_total"),
        messages(&lines[split..tail])
    );
    d.stop();
}

#[test]
fn rotation_by_rename_and_create_then_by_truncation_loses_no_line() {
    let lines = feed_lines();
    let a = message_boundary(&lines, lines.len() / 3);
    let b = message_boundary(&lines, 2 * lines.len() / 3);
    let late = message_boundary(&lines, a + 20);
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (dir.path().join("feed.nmea"), dir.path().join("live.db"));
    append(&file, &lines[..a]);
    let d = Daemon::start(dir.path(), &source(&file, ""));
    assert!(wait_until(Duration::from_secs(30), || {
        d.metric("vesselwatch_messages_total") == Some(messages(&lines[..a]))
    }));

    // logrotate's default: rename, the writer still appends to the old file a moment, then a new
    // file appears at the path.
    let rotated = dir.path().join("feed.nmea.1");
    std::fs::rename(&file, &rotated).unwrap();
    append(&rotated, &lines[a..late]);
    std::thread::sleep(Duration::from_millis(600));
    append(&file, &lines[late..b]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            d.metric("vesselwatch_messages_total") == Some(messages(&lines[..b]))
        }),
        "after rename: {:?} of {}",
        d.metric("vesselwatch_messages_total"),
        messages(&lines[..b])
    );

    // copytruncate: the same file emptied, then written again.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    append(&file, &lines[b..]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            d.metric("vesselwatch_messages_total") == Some(messages(&lines))
        }),
        "after truncation: {:?} of {}",
        d.metric("vesselwatch_messages_total"),
        messages(&lines)
    );
    assert!(wait_until(Duration::from_secs(10), || checkpoint(
        &db, "rec"
    )
    .map(|c| c.0)
        == Some(size(&file))));
    d.stop();
    assert_eq!(stored_events(&db), expected_events());
}
