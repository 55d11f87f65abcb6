//! The one test helper (as ripgrep's `tests/util.rs`): the checkout's paths, the real binary run
//! with its command and output printed when it fails, free loopback ports and polling. Tests and
//! benches include it (`mod util;`, or `#[path]` from `benches/`) instead of copying helpers.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The repository root (fixtures, config, systemd unit).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    root().join("fixtures").join(path)
}

/// The built `vesselwatch` binary, ready for arguments.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
}

/// Runs `cmd` and requires success; on failure the panic shows the command, its status and both
/// output streams, so a red test says what was run and what it printed.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} exited {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` with `input` on its standard input and waits for it; its output, whatever the status.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// A port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 100 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// The event records stored in the database at `db`, sorted (the order of rows is not part of
/// what is compared).
pub fn stored_events(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c.prepare("SELECT record FROM events").unwrap();
    let mut v: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.sort();
    v
}

/// The lines of a fixture file (e.g. an `expected-events.jsonl`), sorted.
pub fn sorted_lines(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The value of the first sample named `name` (exactly, before its labels) in the `/metrics` of a
/// daemon serving HTTP on 127.0.0.1:`port`; `None` while it does not answer.
pub fn metric(port: u16, name: &str) -> Option<u64> {
    let (_, out) = get(port, "/metrics")?;
    out.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// Status and body of `GET path` from a daemon serving HTTP on 127.0.0.1:`port`; `None` while it
/// does not answer.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// Replays the January 2025 story (`fixtures/tartus-2025-01`) into the database `db` with the
/// shipped config: the database most query and API tests read.
pub fn replay_story(db: &Path) {
    run_ok(
        bin()
            .args(["replay", "--config"])
            .arg(root().join("config/vesselwatch.toml"))
            .arg("--db")
            .arg(db)
            .arg(fixture("tartus-2025-01/feed.nmea")),
    );
}

/// Sends SIGTERM to a daemon and waits (at most 30 s) for it to exit; its status.
pub fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(30), || child
            .try_wait()
            .unwrap()
            .is_some()),
        "no exit 30 s after SIGTERM"
    );
    child.wait().unwrap()
}

/// The January story's expected events (`fixtures/tartus-2025-01/expected-events.jsonl`, checked
/// against the scenario's oracle), in file order.
pub fn story_events() -> Vec<serde_json::Value> {
    std::fs::read_to_string(fixture("tartus-2025-01/expected-events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The January 2025 story's lines with their tag-block time (`c:`, Unix seconds).
pub fn story() -> Vec<(i64, String)> {
    std::fs::read_to_string(fixture("tartus-2025-01/feed.nmea"))
        .unwrap()
        .lines()
        .map(|l| {
            let c = l.split("c:").nth(1).unwrap();
            let end = c.find(|ch: char| !ch.is_ascii_digit()).unwrap();
            (c[..end].parse().unwrap(), l.to_string())
        })
        .collect()
}

/// What nmea-parser (the independent decoder) says of these tagged lines: each MMSI's last
/// position (time ms, lat, lon).
pub fn last_positions(lines: &[(i64, String)]) -> std::collections::BTreeMap<u32, (i64, f64, f64)> {
    use nmea_parser::{NmeaParser, ParsedMessage};
    let mut parser = NmeaParser::new();
    let mut last = std::collections::BTreeMap::new();
    for (t, line) in lines {
        let sentence = &line[line.rfind('\\').unwrap() + 1..];
        if let Ok(ParsedMessage::VesselDynamicData(v)) = parser.parse_sentence(sentence)
            && let (Some(lat), Some(lon)) = (v.latitude, v.longitude)
        {
            last.insert(v.mmsi, (t * 1000, lat, lon));
        }
    }
    last
}

/// The story's first `arrival` (Sparta at Tartus), its time in ms, and the index of the first
/// line of `story()` at or after it: the tests that push the arrival into a live feed split there.
pub fn first_arrival(lines: &[(i64, String)]) -> (serde_json::Value, i64, usize) {
    let arrival = story_events()
        .into_iter()
        .find(|e| e["kind"] == "arrival")
        .unwrap();
    let ms = vesselwatch_ais::time::UnixMillis::parse_rfc3339(
        arrival["time"].as_str().unwrap().as_bytes(),
    )
    .unwrap()
    .0;
    let split = lines.iter().position(|(t, _)| t * 1000 >= ms).unwrap();
    (arrival, ms, split)
}

/// `vesselwatch serve` over `db` on a free loopback port, once it answers; the child and port.
pub fn serve(db: &Path) -> (std::process::Child, u16) {
    let http = free_port();
    let child = bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{http}"), "--db"])
        .arg(db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || get(
        http, "/healthz"
    )
    .is_some()));
    (child, http)
}
