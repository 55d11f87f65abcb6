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
    log: PathBuf,
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
        // Each run's log beside the database, shown when an assertion fails (`Daemon::log`).
        let runs = std::fs::read_dir(dir).unwrap().count();
        let log = dir.join(format!("daemon-{runs}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
            .args(["run", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(dir.join("live.db"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let d = Daemon { child, port, log };
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
        util::metric(self.port, name)
    }

    /// What the daemon has logged so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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

/// Waits until the committed checkpoint is the file's end; on failure, says where it is and shows
/// the daemon's log.
fn wait_for_checkpoint_at_end(db: &Path, file: &Path, d: &Daemon) {
    assert!(
        wait_until(Duration::from_secs(30), || checkpoint(db, "rec")
            .map(|c| c.0)
            == Some(size(file))),
        "checkpoint {:?}, file {}\n{}",
        checkpoint(db, "rec"),
        size(file),
        d.log()
    );
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

/// Also a regression test: the feed and the database share a folder here, and looking for a rotated
/// file once opened every file in it; closing the database's descriptor dropped SQLite's POSIX locks,
/// and a reader then deleted the live write-ahead log (the daemon wrote on into a deleted file).
#[test]
fn a_restart_resumes_at_the_committed_checkpoint_and_reads_what_was_appended_meanwhile() {
    let lines = feed_lines();
    let mid = message_boundary(&lines, lines.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let (file, db): (PathBuf, PathBuf) = (dir.path().join("feed.nmea"), dir.path().join("live.db"));
    append(&file, &lines[..mid]);

    let first = Daemon::start(dir.path(), &source(&file, ""));
    // No checkpoint yet: the whole file is read, from its start.
    wait_for_checkpoint_at_end(&db, &file, &first);
    assert_eq!(
        first.metric("vesselwatch_messages_total"),
        Some(messages(&lines[..mid]))
    );
    first.stop();

    // Appended while the daemon was down.
    append(&file, &lines[mid..]);
    let second = Daemon::start(dir.path(), &source(&file, ""));
    wait_for_checkpoint_at_end(&db, &file, &second);
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
    wait_for_checkpoint_at_end(&db, &file, &d);
    d.stop();
    assert_eq!(stored_events(&db), expected_events());
}

/// A file ending between the two fragments of a message: the checkpoint stays at or before the
/// first fragment (at the end of an earlier read, on a line boundary), so the next run reads it
/// again and the message is whole; what it reads again is exactly the lines after the checkpoint.
#[test]
fn a_checkpoint_never_falls_between_the_fragments_of_a_message() {
    let lines = feed_lines();
    // The first line of a two-fragment message past the middle.
    let first = (lines.len() / 2..lines.len())
        .find(|&i| lines[i][lines[i].find('!').unwrap()..].starts_with("!AIVDM,2,1,"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (dir.path().join("feed.nmea"), dir.path().join("live.db"));
    append(&file, &lines[..=first]);
    let before_fragment = size(&file) - lines[first].len() as u64;
    let d = Daemon::start(dir.path(), &source(&file, ""));
    assert!(wait_until(Duration::from_secs(30), || {
        d.metric("vesselwatch_messages_total") == Some(messages(&lines[..=first]))
    }));
    // Given time for a few batches, the checkpoint is still not past the lone first fragment.
    std::thread::sleep(Duration::from_millis(2500));
    let at = checkpoint(&db, "rec").unwrap().0;
    assert!(
        at <= before_fragment,
        "checkpoint {at} is past the fragment at {before_fragment}"
    );
    // On a line boundary: the index of the first line after it.
    let mut offset = 0u64;
    let resume_line = (0..=lines.len())
        .find(|&k| {
            let hit = offset == at;
            offset += lines.get(k).map_or(0, |l| l.len() as u64);
            hit
        })
        .expect("the checkpoint is on a line boundary");
    d.stop();
    append(&file, &lines[first + 1..]);
    let d = Daemon::start(dir.path(), &source(&file, ""));
    wait_for_checkpoint_at_end(&db, &file, &d);
    assert_eq!(
        d.metric("vesselwatch_messages_total"),
        Some(messages(&lines[resume_line..])),
        "everything after the checkpoint, the message cut by the restart whole"
    );
    d.stop();
    assert_eq!(stored_events(&db), expected_events());
}

/// Rotated while the daemon was down (renamed, a new file created, both written): the old file's
/// unread rest is read first, then the new file from its start.
#[test]
fn a_file_rotated_while_the_daemon_was_down_is_finished_before_the_new_one() {
    let lines = feed_lines();
    let a = message_boundary(&lines, lines.len() / 3);
    let b = message_boundary(&lines, 2 * lines.len() / 3);
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (dir.path().join("feed.nmea"), dir.path().join("live.db"));
    append(&file, &lines[..a]);
    let d = Daemon::start(dir.path(), &source(&file, ""));
    wait_for_checkpoint_at_end(&db, &file, &d);
    d.stop();
    let rotated = dir.path().join("feed.nmea.1");
    std::fs::rename(&file, &rotated).unwrap();
    append(&rotated, &lines[a..b]);
    append(&file, &lines[b..]);
    let d = Daemon::start(dir.path(), &source(&file, ""));
    wait_for_checkpoint_at_end(&db, &file, &d);
    assert_eq!(
        d.metric("vesselwatch_messages_total"),
        Some(messages(&lines[a..])),
        "the rotated file's rest and the new file, each once\n{}",
        d.log()
    );
    d.stop();
    assert_eq!(stored_events(&db), expected_events());
}
