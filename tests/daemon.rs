//! `vesselwatch run` end to end, with the real binary: a local TCP feed server that drops the
//! connection halfway, a UDP source, a local webhook receiver, the HTTP endpoint, and SIGTERM.

use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
mod util;
use util::{free_port, root, stored_events, wait_until};

mod common;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A webhook receiver recording the bodies it accepts.
fn receiver() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let g = Arc::clone(&g);
            async move {
                g.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    (common::serve_app(0, app), got)
}

/// A TCP feed server: sends the first half of `feed`'s lines, drops the connection, and sends the
/// rest to the next connection.
fn feed_server(feed: &Path) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(feed).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    std::thread::spawn(move || {
        let half = lines.len() / 2;
        // Connections are kept here: the first is dropped on purpose (the one drop the test
        // expects), the second must stay open. Scoping it to the loop closed it 300 ms after the
        // feed, a second drop whenever the test read /metrics later than that.
        let mut open = None;
        for part in [&lines[..half], &lines[half..]] {
            drop(open.take());
            let (mut s, _) = listener.accept().unwrap();
            for chunk in part.chunks(200) {
                let mut text = chunk.join("\n");
                text.push('\n');
                s.write_all(text.as_bytes()).unwrap();
            }
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            open = Some(s);
        }
        // Keep the second connection open until the test ends.
        std::thread::sleep(Duration::from_secs(120));
    });
    addr
}

fn start(dir: &Path, sources: &str, webhook: SocketAddr, http_port: u16) -> (Child, PathBuf) {
    start_env(dir, sources, webhook, http_port, &[])
}

fn start_env(
    dir: &Path,
    sources: &str,
    webhook: SocketAddr,
    http_port: u16,
    env: &[(&str, &str)],
) -> (Child, PathBuf) {
    let cfg = dir.join("vesselwatch.toml");
    let shipped = std::fs::read_to_string(root().join("config/vesselwatch.toml")).unwrap();
    let fences_and_watch = &shipped[shipped.find("[[fences]]").unwrap()..];
    let fences_and_watch = fences_and_watch.replace(
        "geojson = \"fences/",
        &format!("geojson = \"{}/config/fences/", root().display()),
    );
    std::fs::write(
        &cfg,
        format!(
            "[http]\nlisten = \"127.0.0.1:{http_port}\"\n{sources}\n\
             [[webhooks]]\nname = \"ops\"\nurl = \"http://{webhook}/hook\"\nsecret = \"{SECRET}\"\n\
             retry_initial = \"100ms\"\n\n{fences_and_watch}"
        ),
    )
    .unwrap();
    let db = dir.join("live.db");
    let child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, db)
}

fn events_in(db: &Path) -> usize {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)))
        .unwrap_or(0) as usize
}

fn get(port: u16, path: &str) -> (u16, String) {
    let (status, _, body) = get_with_head(port, path);
    (status, body)
}

/// Status, head (status line and headers) and body of `GET path`.
fn get_with_head(port: u16, path: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (status, head.to_string(), body.to_string())
}

fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no exit 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tcp_feed_with_a_drop_gives_every_event_and_the_departure_webhooks_then_sigterm_drains() {
    let feed = root().join("fixtures/tartus-2025-01/feed.nmea");
    let expected =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    let server = feed_server(&feed);
    let (hook, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let source = format!(
        "[[sources]]\nname = \"feed\"\ntype = \"tcp\"\naddress = \"{server}\"\nstall_timeout = \"30s\"\n"
    );
    let (mut child, db) = start(dir.path(), &source, hook, http);

    let all = expected.lines().count();
    assert!(
        wait_until(Duration::from_secs(30), || events_in(&db) == all),
        "events: {}",
        events_in(&db)
    );
    // Nothing lost across the reconnect: the stored events are exactly the replay's.
    let mut want: Vec<String> = expected.lines().map(str::to_string).collect();
    want.sort();
    assert_eq!(stored_events(&db), want);
    // The departures reached the webhook (default events = ["departure"]).
    assert!(wait_until(Duration::from_secs(10), || got
        .lock()
        .unwrap()
        .len()
        == 2));
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .all(|b| b.contains("\"vessel.departure\""))
    );

    let (status, body) = get(http, "/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    let (_, metrics) = get(http, "/metrics");
    assert!(
        metrics.contains("vesselwatch_source_drops_total{source=\"feed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vesselwatch_events_total{kind=\"departure\"} 2"),
        "{metrics}"
    );
    let (status, api) = get(http, "/api/events?since=2025-01-25T00:00:00Z");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|e| e["time"].as_str().unwrap() >= "2025-01-25")
    );

    let status = sigterm(&mut child);
    assert!(status.success(), "exit status {status:?}");
}

/// (kind, mmsi, fence, time in ms) of event records.
fn event_keys(records: &[String]) -> Vec<(String, u64, String, i64)> {
    let mut keys: Vec<(String, u64, String, i64)> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            let t = v["time"].as_str().unwrap();
            let t = vesselwatch_ais::time::UnixMillis::parse_rfc3339(t.as_bytes()).unwrap();
            (
                v["kind"].as_str().unwrap().to_string(),
                v["mmsi"].as_u64().unwrap(),
                v["fence"].as_str().unwrap().to_string(),
                t.0,
            )
        })
        .collect();
    keys.sort_by_key(|k| k.3);
    keys
}

#[test]
fn untimed_live_feed_is_timed_by_its_base_stations_not_pinned_or_stamped_today() {
    // Regression: live, an untimed feed was timed by the latest base-station report alone, so every
    // message sat near an old minute, and the daemon produced `dark`/`reappeared` events that the
    // replay of the same recording does not. Here the untimed-port recording (base stations, one
    // 13 years slow, one without a time), stripped of its tag blocks, arrives over TCP with a drop.
    let dir = tempfile::tempdir().unwrap();
    let timed = root().join("fixtures/untimed-port/feed.nmea");
    let stripped: Vec<String> = std::fs::read_to_string(&timed)
        .unwrap()
        .lines()
        .map(|l| l[l.rfind('!').unwrap()..].to_string())
        .collect();
    let untimed = dir.path().join("untimed.nmea");
    std::fs::write(&untimed, stripped.join("\n") + "\n").unwrap();
    let server = feed_server(&untimed);
    let (hook, _got) = receiver();
    let source = format!(
        "[monitor]\nvessels = \"all\"\n[[sources]]\nname = \"feed\"\ntype = \"tcp\"\naddress = \"{server}\"\n"
    );
    let (mut child, db) = start(dir.path(), &source, hook, free_port());
    // The oracle: the timed recording replayed with the same configuration.
    let out = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["replay", "--no-store", "--format", "jsonl", "--config"])
        .arg(dir.path().join("vesselwatch.toml"))
        .arg(&timed)
        .output()
        .unwrap();
    let want: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // The fixture's own expected events (made from its scenario) say how many there are.
    let expected =
        std::fs::read_to_string(root().join("fixtures/untimed-port/expected-events.jsonl"))
            .unwrap();
    assert_eq!(want.len(), expected.lines().count(), "{want:?}");
    assert!(
        wait_until(Duration::from_secs(30), || events_in(&db) >= want.len()),
        "events: {} of {}",
        events_in(&db),
        want.len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let stored = stored_events(&db);
    let (want, got) = (event_keys(&want), event_keys(&stored));
    let key = |k: &(String, u64, String, i64)| (k.0.clone(), k.1, k.2.clone());
    assert_eq!(
        want.iter().map(key).collect::<Vec<_>>(),
        got.iter().map(key).collect::<Vec<_>>()
    );
    for (w, g) in want.iter().zip(&got) {
        assert!((w.3 - g.3).abs() <= 120_000, "{w:?} vs {g:?}");
    }
    assert!(sigterm(&mut child).success());
}

#[test]
fn udp_source_produces_the_expected_events() {
    let feed = root().join("fixtures/boundary-noise/feed.nmea");
    let (hook, _got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source =
        format!("[[sources]]\nname = \"udp\"\ntype = \"udp\"\nlisten = \"127.0.0.1:{port}\"\n");
    // Every vessel monitored, so the fixture's unwatched ships produce events.
    let http = free_port();
    let (mut child, db) = start(
        dir.path(),
        &format!("[monitor]\nvessels = \"all\"\n{source}"),
        hook,
        http,
    );
    // Ready means the sources are bound: datagrams sent before that would be lost.
    let ready = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", http)).is_ok() && get(http, "/readyz").0 == 200
    });
    assert!(ready, "/readyz never answered 200");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, line) in std::fs::read_to_string(&feed).unwrap().lines().enumerate() {
        sock.send_to(line.as_bytes(), ("127.0.0.1", port)).unwrap();
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let expected =
        std::fs::read_to_string(root().join("fixtures/boundary-noise/expected-events.jsonl"))
            .unwrap();
    let n = expected.lines().count();
    // boundary-noise's expected events come from its own config (only tartus-port); here every
    // shipped fence is configured, which adds none near Tartus port's edge.
    assert!(
        wait_until(Duration::from_secs(20), || events_in(&db) >= n),
        "events: {}",
        events_in(&db)
    );
    assert!(sigterm(&mut child).success());
    // Exactly: a duplicate would show as one more.
    assert_eq!(events_in(&db), n);
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(root().join("systemd/vesselwatch.service")).unwrap();
    for directive in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=vesselwatch",
        "ConfigurationDirectory=vesselwatch",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
        "Restart=on-failure",
        "WatchdogSec=",
    ] {
        assert!(unit.contains(directive), "missing {directive:?}");
    }
    // Not a silent pass: `.ci/run` installs systemd-analyze (Debian package `systemd`) when missing.
    let which = Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .unwrap();
    assert!(
        which.status.success(),
        "systemd-analyze is not installed: `apt-get install systemd`, or run .ci/run, which does"
    );
    // verify needs ExecStart's binary to exist: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vesselwatch.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/vesselwatch",
            env!("CARGO_BIN_EXE_vesselwatch"),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sighup_adds_a_fence_without_losing_state_and_a_bad_config_is_refused() {
    let feed: Vec<String> =
        std::fs::read_to_string(root().join("fixtures/boundary-noise/feed.nmea"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_fence = root().join("config/fences/tartus-port.geojson");
    let base = format!(
        "[monitor]\nvessels = \"all\"\n[http]\nlisten = \"\"\n\
         [[sources]]\nname = \"push\"\ntype = \"tcp_listen\"\nlisten = \"127.0.0.1:{port}\"\n\
         [[fences]]\nname = \"tartus-port\"\nkind = \"port\"\ngeojson = {port_fence:?}\n"
    );
    let cfg = dir.path().join("vesselwatch.toml");
    std::fs::write(&cfg, &base).unwrap();
    let db = dir.path().join("hup.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = None;
    assert!(wait_until(Duration::from_secs(10), || {
        conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
        conn.is_some()
    }));
    let mut conn = conn.unwrap();
    // Up to 05:00: both ships placed in port.
    let split = feed
        .iter()
        .position(|l| l.contains("c:1740805200"))
        .unwrap();
    conn.write_all((feed[..split].join("\n") + "\n").as_bytes())
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || events_in(&db) == 2));

    // A broken config is refused; then a good one adds a fence where SHUTTLE waits offshore.
    std::fs::write(
        &cfg,
        format!("{base}[[fences]]\nname = \"bad\"\nkind = \"port\"\n"),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(
        &cfg,
        format!("{base}[[fences]]\nname = \"offshore\"\nkind = \"area\"\ncenter = {{ lat = 34.888, lon = 35.82 }}\nradius_km = 1\n"),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    conn.write_all((feed[split..].join("\n") + "\n").as_bytes())
        .unwrap();
    drop(conn);
    assert!(
        wait_until(Duration::from_secs(10), || events_in(&db) >= 6),
        "events: {}",
        events_in(&db)
    );
    std::thread::sleep(Duration::from_millis(500));
    let status = sigterm(&mut child);
    assert!(status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("Reload rejected"), "{stderr}");

    let c = rusqlite::Connection::open(&db).unwrap();
    // The fences table follows the reloaded configuration (it kept the start's fences before).
    let mut fences: Vec<String> = c
        .prepare("SELECT name FROM fences ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    fences.sort();
    assert_eq!(fences, ["offshore", "tartus-port"]);
    let mut stmt = c
        .prepare("SELECT kind, fence FROM events WHERE mmsi = 273000302 ORDER BY time, id")
        .unwrap();
    let got: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let want: Vec<(String, String)> = [
        ("present", "tartus-port"),
        ("departure", "tartus-port"),
        ("arrival", "offshore"),
        ("departure", "offshore"),
        ("arrival", "tartus-port"),
    ]
    .iter()
    .map(|(k, f)| (k.to_string(), f.to_string()))
    .collect();
    // The port state survived the reload: a departure, not a second `present`.
    assert_eq!(got, want);
}

#[test]
fn kill_9_and_a_restart_resume_without_duplicates() {
    let feed_path = root().join("fixtures/tartus-2025-01/feed.nmea");
    let feed: Vec<String> = std::fs::read_to_string(&feed_path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let expected =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    let (hook, _got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let source = format!(
        "[[sources]]\nname = \"push\"\ntype = \"tcp_listen\"\nlisten = \"127.0.0.1:{port}\"\n"
    );
    let push = |lines: &[String]| {
        let mut c = None;
        assert!(wait_until(Duration::from_secs(10), || {
            c = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
            c.is_some()
        }));
        c.unwrap()
            .write_all((lines.join("\n") + "\n").as_bytes())
            .unwrap();
    };
    let (mut first, db) = start(dir.path(), &source, hook, free_port());
    push(&feed[..feed.len() / 2]);
    assert!(wait_until(Duration::from_secs(10), || events_in(&db) >= 4));
    std::thread::sleep(Duration::from_millis(1500)); // a state batch is committed
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    // Restart; the receiver sends everything again from the start.
    let (mut second, db2) = start(dir.path(), &source, hook, free_port());
    assert_eq!(db, db2);
    push(&feed);
    let all = expected.lines().count();
    assert!(
        wait_until(Duration::from_secs(20), || events_in(&db) == all),
        "events: {}",
        events_in(&db)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(sigterm(&mut second).success());
    let mut want: Vec<String> = expected.lines().map(str::to_string).collect();
    want.sort();
    assert_eq!(stored_events(&db), want, "no duplicate and no lost event");
    let c = rusqlite::Connection::open(&db).unwrap();
    let visits: i64 = c
        .query_row("SELECT count(*) FROM visits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(visits, 2);
}

#[test]
fn log_formats_journald_and_json() {
    for (format, check) in [
        (
            "journald",
            (|l: &str| {
                l.starts_with("<6>vesselwatch") || l.starts_with("<4>") || l.starts_with("<3>")
            }) as fn(&str) -> bool,
        ),
        ("json", |l: &str| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["level"].is_string())
        }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("vesselwatch.toml");
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            &cfg,
            format!(
                "[log]\nformat = \"{format}\"\nfilter = \"info\"\n[http]\nlisten = \"\"\n\
                 [[sources]]\nname = \"u\"\ntype = \"udp\"\nlisten = \"127.0.0.1:{port}\"\n"
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
            .args(["run", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(dir.path().join("l.db"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert!(sigterm(&mut child).success());
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(stderr.lines().count() >= 3, "{format}: {stderr}");
        for line in stderr.lines() {
            assert!(check(line), "{format}: {line}");
        }
        if format == "journald" {
            assert!(
                !stderr.contains("2026-") && !stderr.contains("Z "),
                "journald lines carry no timestamp: {stderr}"
            );
        }
    }
}

/// The boundary-noise fixture as aisstream.io JSON messages.
fn aisstream_messages() -> Vec<String> {
    use vesselwatch_ais::AisMessage;
    let mut fe = vesselwatch_ais::FrontEnd::default();
    let data = std::fs::read(root().join("fixtures/boundary-noise/feed.nmea")).unwrap();
    let mut out = Vec::new();
    fe.push_bytes(0, &data, |d| {
        let t = d.meta.time().unwrap().to_string(); // 2025-03-01T00:00:00Z
        let time_utc = format!("{} {}.000 +0000 UTC", &t[..10], &t[11..19]);
        let v = match &d.message {
            AisMessage::Position(p) => serde_json::json!({
                "MessageType": "PositionReport",
                "MetaData": {"MMSI": p.header.mmsi, "time_utc": time_utc},
                "Message": {"PositionReport": {
                    "UserID": p.header.mmsi, "Latitude": p.lat, "Longitude": p.lon, "Sog": p.speed,
                    "Cog": p.course, "TrueHeading": p.heading.unwrap_or(511), "NavigationalStatus": p.status,
                    "Timestamp": p.second}}
            }),
            AisMessage::StaticVoyage(s) => serde_json::json!({
                "MessageType": "ShipStaticData",
                "MetaData": {"MMSI": s.header.mmsi, "time_utc": time_utc},
                "Message": {"ShipStaticData": {
                    "UserID": s.header.mmsi, "ImoNumber": s.imo.unwrap_or(0), "Name": s.shipname.as_str(),
                    "CallSign": s.callsign.as_str(), "Type": s.shiptype, "Destination": s.destination.as_str(),
                    "Dimension": {"A": 100, "B": 20, "C": 8, "D": 8}}}
            }),
            _ => return,
        };
        out.push(v.to_string());
    });
    out
}

#[test]
fn websocket_aisstream_source_subscribes_and_produces_the_expected_events() {
    use futures_util::{SinkExt, StreamExt};
    let messages = aisstream_messages();
    let subscription: Arc<Mutex<Option<String>>> = Arc::default();
    let sub = Arc::clone(&subscription);
    let addr = common::spawn_server(0, move |l| async move {
        let (stream, _) = l.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        if let Some(Ok(m)) = ws.next().await {
            *sub.lock().unwrap() = Some(m.to_text().unwrap().to_string());
        }
        for m in messages {
            ws.send(tokio_tungstenite::tungstenite::Message::text(m))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let (hook, _got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "[monitor]\nvessels = \"all\"\n[[sources]]\nname = \"ais\"\ntype = \"websocket\"\nurl = \"ws://{addr}/v0/stream\"\n\
         mode = \"aisstream\"\napi_key_env = \"VW_TEST_AISSTREAM_KEY\"\nbounding_boxes = [[[34.0, 35.0], [36.0, 37.0]]]\n"
    );
    let (mut child, db) = start_env(
        dir.path(),
        &source,
        hook,
        free_port(),
        &[("VW_TEST_AISSTREAM_KEY", "k-123")],
    );
    let n = std::fs::read_to_string(root().join("fixtures/boundary-noise/expected-events.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(
        wait_until(Duration::from_secs(20), || events_in(&db) >= n),
        "events: {}",
        events_in(&db)
    );
    assert!(sigterm(&mut child).success());
    assert_eq!(events_in(&db), n, "no duplicate and no lost event");
    let s: serde_json::Value =
        serde_json::from_str(subscription.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(s["APIKey"], "k-123");
    assert_eq!(s["BoundingBoxes"][0][0][0], 34.0);
    let c = rusqlite::Connection::open(&db).unwrap();
    let kinds: Vec<String> = c
        .prepare("SELECT kind FROM events WHERE mmsi = 273000302 ORDER BY time")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, ["present", "departure", "arrival"]);
}

#[test]
fn systemd_notify_protocol_ready_watchdog_status_reload_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cfg = dir.path().join("vesselwatch.toml");
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(&cfg, format!("[http]\nlisten = \"\"\n[[sources]]\nname = \"u\"\ntype = \"udp\"\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(dir.path().join("n.db"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let recv_until = |want: &str, seen: &mut Vec<String>| {
        let mut buf = [0u8; 512];
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(n) = sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).to_string();
                seen.push(m.clone());
                if m.contains(want) {
                    return true;
                }
            }
        }
        false
    };
    assert!(recv_until("READY=1", &mut seen), "{seen:?}");
    assert!(recv_until("WATCHDOG=1", &mut seen), "{seen:?}");
    assert!(
        seen.iter()
            .any(|m| m.contains("STATUS=") && m.contains("msg/s")),
        "{seen:?}"
    );
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(recv_until("RELOADING=1", &mut seen), "{seen:?}");
    assert!(seen.last().unwrap().contains("MONOTONIC_USEC="), "{seen:?}");
    assert!(recv_until("READY=1", &mut seen), "{seen:?}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(recv_until("STOPPING=1", &mut seen), "{seen:?}");
    assert!(child.wait().unwrap().success());
}

/// A /metrics body as the reference OpenMetrics parser reads it: `tests/metrics_check.py` with
/// prometheus_client's strict parser, in the venv `tests/python-venv.sh` makes (once, in
/// `target/py-venv`). Panics with the parser's words when it rejects the body or a family lacks
/// HELP or TYPE, and when Python or the package cannot be had: never a silent pass.
fn openmetrics_families(body: &str) -> Vec<serde_json::Value> {
    let venv = Command::new("bash")
        .arg(root().join("tests/python-venv.sh"))
        .output()
        .expect("bash runs");
    assert!(
        venv.status.success(),
        "tests/python-venv.sh could not make the Python venv with prometheus_client; this test \
         needs python3 with venv and pip (.ci/run installs them):\n{}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let python = root().join(String::from_utf8(venv.stdout).unwrap().trim());
    let mut check = Command::new(&python)
        .arg(root().join("tests/metrics_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tests/metrics_check.py rejected /metrics:\n{}\n--- body\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

/// The value of the sample `name` whose one label is `label` (or that has no labels), as the
/// parser read it.
fn sample(families: &[serde_json::Value], name: &str, label: Option<(&str, &str)>) -> f64 {
    let want = match label {
        Some((k, v)) => serde_json::json!({ k: v }),
        None => serde_json::json!({}),
    };
    let found: Vec<f64> = families
        .iter()
        .flat_map(|f| f["samples"].as_array().unwrap())
        .filter(|s| s["name"] == name && s["labels"] == want)
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{name} {want} in {families:#?}");
    found[0]
}

#[test]
fn metrics_are_strict_openmetrics_with_the_scraped_names_and_count_what_was_fed() {
    // Names with a quote, a backslash and a newline: label values that must be escaped.
    let source = "feed \"north\" \\ quay\nB";
    let hook_name = "hook \"2\" \\ x\ny";
    let (hook, got) = receiver();
    let feed = root().join("fixtures/tartus-2025-01/feed.nmea");
    let server = feed_server(&feed);
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let toml = |s: &str| serde_json::to_string(s).unwrap(); // a JSON string is a TOML basic string here
    let config = format!(
        "[[sources]]\nname = {}\ntype = \"tcp\"\naddress = \"{server}\"\nstall_timeout = \"30s\"\n\
         [[webhooks]]\nname = {}\nurl = \"http://{hook}/hook\"\nsecret = \"{SECRET}\"\n",
        toml(source),
        toml(hook_name)
    );
    let (mut child, _db) = start(dir.path(), &config, hook, http);

    // The independent counts, from the fixture's text and its expected events.
    let text = std::fs::read_to_string(&feed).unwrap();
    let lines = text.lines().count();
    let bytes = text.lines().map(|l| l.len() + 1).sum::<usize>();
    // Fields of each sentence after its tag block: !AIVDM,count,number,seq,channel,payload,fill.
    let mut first_fragments_by_type = std::collections::BTreeMap::<u8, usize>::new();
    for line in text.lines() {
        let fields: Vec<&str> = line[line.rfind('!').unwrap()..].split(',').collect();
        if fields[2] == "1" {
            let armour = fields[5].as_bytes()[0] - 48; // six-bit armour of the type's first char
            let ty = if armour > 40 { armour - 8 } else { armour };
            *first_fragments_by_type.entry(ty).or_default() += 1;
        }
    }
    let messages: usize = first_fragments_by_type.values().sum();
    let expected =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    let kinds: Vec<String> = expected
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let departures = kinds.iter().filter(|k| *k == "departure").count();

    // Both webhooks get every departure; then wait for the snapshot (published each second) to
    // count every line and the delivery counters to catch up.
    assert!(
        wait_until(Duration::from_secs(30), || got.lock().unwrap().len()
            == 2 * departures),
        "webhook bodies: {}",
        got.lock().unwrap().len()
    );
    let settled = |body: &str| {
        let outcomes: f64 = body
            .lines()
            .filter(|l| l.starts_with("vesselwatch_line_outcomes_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        outcomes == lines as f64
            && body
                .lines()
                .filter(|l| l.starts_with("vesselwatch_webhook_delivered_total{"))
                .all(|l| l.ends_with(&format!(" {departures}")))
    };
    let mut body = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            body = get(http, "/metrics").1;
            settled(&body)
        }),
        "{body}"
    );
    let (status, head, body) = get_with_head(http, "/metrics");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains(
            "\r\ncontent-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{head}"
    );

    let families = openmetrics_families(&body);
    // Every name users scrape is there, and no other.
    let mut names: Vec<(String, Option<String>)> = families
        .iter()
        .flat_map(|f| f["samples"].as_array().unwrap())
        .map(|s| {
            let labels = s["labels"].as_object().unwrap();
            (
                s["name"].as_str().unwrap().to_string(),
                labels.keys().next().cloned(),
            )
        })
        .collect();
    names.sort();
    names.dedup();
    let mut contract: Vec<(String, Option<String>)> =
        std::fs::read_to_string(root().join("tests/metric-names.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut w = l.split_whitespace();
                (w.next().unwrap().to_string(), w.next().map(String::from))
            })
            .collect();
    contract.sort();
    assert_eq!(names, contract);

    // Values against the independent counts; label values come back unescaped, as configured.
    let by_source = Some(("source", source));
    assert_eq!(
        sample(&families, "vesselwatch_source_bytes_total", by_source),
        bytes as f64
    );
    let outcomes: f64 = families
        .iter()
        .filter(|f| f["name"] == "vesselwatch_line_outcomes")
        .flat_map(|f| f["samples"].as_array().unwrap())
        .map(|s| s["value"].as_f64().unwrap())
        .sum();
    assert_eq!(outcomes, lines as f64);
    let outcome = |o| {
        sample(
            &families,
            "vesselwatch_line_outcomes_total",
            Some(("outcome", o)),
        )
    };
    assert_eq!(outcome("decoded"), messages as f64);
    assert_eq!(outcome("fragment_buffered"), (lines - messages) as f64);
    assert_eq!(
        sample(&families, "vesselwatch_messages_total", by_source),
        messages as f64
    );
    for (ty, n) in &first_fragments_by_type {
        let ty = ty.to_string();
        assert_eq!(
            sample(&families, "vesselwatch_decoded_total", Some(("type", &ty))),
            *n as f64
        );
    }
    for kind in [
        "present",
        "arrival",
        "departure",
        "dark",
        "reappeared",
        "holding",
        "transit",
    ] {
        let n = kinds.iter().filter(|k| *k == kind).count();
        assert_eq!(
            sample(&families, "vesselwatch_events_total", Some(("kind", kind))),
            n as f64,
            "{kind}"
        );
    }
    // The feed server drops the first connection once.
    assert_eq!(
        sample(&families, "vesselwatch_source_drops_total", by_source),
        1.0
    );
    assert_eq!(sample(&families, "vesselwatch_source_up", by_source), 1.0);
    for w in ["ops", hook_name] {
        let w = Some(("webhook", w));
        assert_eq!(
            sample(&families, "vesselwatch_webhook_delivered_total", w),
            departures as f64
        );
        assert_eq!(sample(&families, "vesselwatch_outbox_undelivered", w), 0.0);
    }
    assert!(sigterm(&mut child).success());
}

/// Requests received: `webhook-id` and body.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that keeps each request's `webhook-id` with its body.
fn receiver_with_ids() -> (SocketAddr, Received) {
    let got: Received = Arc::default();
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = Arc::clone(&g);
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                g.lock().unwrap().push((id, body));
                "ok"
            }
        }),
    );
    (common::serve_app(0, app), got)
}

/// Acceptance (issue 11): `kill -9` at ten pseudo-random moments while a receiver pushes the
/// Tartus feed over TCP (each time from the start, as a receiver that reconnects does), then a
/// clean run to the end. The stored events are the scenario's expected ones, and every departure
/// reached the webhook endpoint, each always under one `webhook-id`.
#[test]
fn ten_kill_9s_during_a_live_tcp_feed_lose_no_event_and_no_departure_webhook() {
    let lines: Vec<String> =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/feed.nmea"))
            .unwrap()
            .lines()
            .map(|l| format!("{l}\n"))
            .collect();
    let mut want: Vec<String> =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    want.sort();
    let departures: std::collections::BTreeSet<String> = want
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "departure")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let (hook, got) = receiver_with_ids();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let source = format!(
        "[[sources]]\nname = \"push\"\ntype = \"tcp_listen\"\nlisten = \"127.0.0.1:{port}\"\n"
    );
    let push = |lines: Vec<String>| {
        std::thread::spawn(move || {
            let mut c = None;
            for _ in 0..100 {
                c = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
                if c.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let Some(mut c) = c else { return };
            for chunk in lines.chunks(150) {
                if c.write_all(chunk.concat().as_bytes()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // xorshift64: the same ten moments every run, spread over the push (about 1.2 s).
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let (mut child, _) = start(dir.path(), &source, hook, free_port());
        let pusher = push(lines.clone());
        std::thread::sleep(Duration::from_millis(200 + seed % 1_300));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        pusher.join().unwrap();
    }
    let (mut child, db) = start(dir.path(), &source, hook, free_port());
    push(lines).join().unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || events_in(&db) == want.len()),
        "events: {} of {}",
        events_in(&db),
        want.len()
    );
    let delivered = || -> std::collections::BTreeSet<String> {
        got.lock()
            .unwrap()
            .iter()
            .map(|(_, b)| {
                let v: serde_json::Value = serde_json::from_str(b).unwrap();
                v["data"]["event_id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(20), || delivered() == departures),
        "{:?} of {departures:?}",
        delivered()
    );
    assert!(sigterm(&mut child).success());
    assert_eq!(stored_events(&db), want, "no duplicate and no lost event");
    // One webhook-id per event, whatever the number of sends.
    let mut ids: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (id, body) in got.lock().unwrap().iter() {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        ids.entry(v["data"]["event_id"].as_str().unwrap().to_string())
            .or_default()
            .insert(id.clone());
    }
    assert!(ids.values().all(|s| s.len() == 1), "{ids:?}");
}
