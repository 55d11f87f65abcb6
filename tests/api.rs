//! The HTTP API on a big database (issue 11, item 7): every list is paged and every response
//! bounded, and a client that follows the `Link` headers gets every row exactly once. The rows are
//! written here with plain SQL, so what the pages must add up to is known without the daemon.

mod util;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use util::free_port;

const EVENTS: usize = 12_345;
const VESSELS: u32 = 30_001;

/// A database of `EVENTS` events (many sharing a time, so the cursor's tie-break matters) and
/// `VESSELS` vessels, every third with two past names.
fn big_database(db: &std::path::Path) -> (Vec<String>, BTreeMap<u32, Vec<String>>) {
    let mut c = vesselwatch::store::open(db).unwrap();
    let tx = c.transaction().unwrap();
    let mut events = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let id = format!(
            "{:08x}",
            (i as u64).wrapping_mul(2_654_435_761) % 4_294_967_296
        );
        let time = 1_736_640_000_000 + (i as i64 / 7) * 60_000;
        let record = format!(r#"{{"id":"{id}","time_ms":{time},"n":{i}}}"#);
        tx.execute(
            "INSERT INTO events (id, kind, time, mmsi, fence, record) VALUES (?1, 'arrival', ?2, ?3, 'tartus', ?4)",
            rusqlite::params![id, time, 273_000_000 + i as i64, record],
        )
        .unwrap();
        events.push(record);
    }
    let mut names = BTreeMap::new();
    for i in 0..VESSELS {
        let mmsi = 200_000_000 + i * 17;
        tx.execute(
            "INSERT INTO vessels (mmsi, name, first_seen, last_seen) VALUES (?1, ?2, 1, 2)",
            rusqlite::params![mmsi, format!("SHIP {i}")],
        )
        .unwrap();
        let mut known = vec![];
        if i % 3 == 0 {
            for (k, name) in [format!("OLD {i}"), format!("SHIP {i}")].iter().enumerate() {
                tx.execute(
                    "INSERT INTO vessel_names (mmsi, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)",
                    rusqlite::params![mmsi, name, k as i64],
                )
                .unwrap();
                known.push(name.clone());
            }
        }
        names.insert(mmsi, known);
    }
    tx.commit().unwrap();
    events.sort();
    (events, names)
}

fn start(dir: &std::path::Path, db: &std::path::Path, http: u16) -> Child {
    let cfg = dir.join("vesselwatch.toml");
    std::fs::write(&cfg, format!("[http]\nlisten = \"127.0.0.1:{http}\"\n")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(util::wait_until(Duration::from_secs(20), || util::get(
        http, "/healthz"
    )
    .is_some()));
    child
}

/// Status, headers (lower-cased names) and body of `GET path`.
fn get(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// Follows `rel="next"` from `first`; every page's JSON array, in order.
fn pages(port: u16, first: &str) -> Vec<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let (status, headers, body) = get(port, &path);
        assert_eq!(status, 200, "{path}: {body}");
        out.push(serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap());
        next = headers
            .iter()
            .find(|(k, _)| k == "link")
            .map(|(_, v)| v[1..v.find(">;").unwrap()].to_string());
        assert!(out.len() <= 1_000, "no end to the pages");
    }
    out
}

#[test]
fn events_and_vessels_come_in_bounded_pages_that_add_up_to_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    let (events, names) = big_database(&db);
    let http = free_port();
    let mut child = start(dir.path(), &db, http);

    // Events: 1,000 a page, so 13 pages, the last of 345; then the default page of 500.
    let got = pages(http, "/api/events?limit=1000");
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(sizes, [vec![1_000; 12], vec![345]].concat());
    let mut all: Vec<String> = got.concat().iter().map(|v| v.to_string()).collect();
    let times: Vec<i64> = got
        .concat()
        .iter()
        .map(|v| v["time_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    all.sort();
    let want: Vec<String> = events
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(all, want, "every event once");
    let (_, _, body) = get(http, "/api/events");
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&body)
            .unwrap()
            .len(),
        500
    );

    // `since` is kept across pages: events from minute 1,000 on (event 7,000 onwards).
    let since = "2025-01-12T16:40:00Z";
    let later: usize = pages(http, &format!("/api/events?since={since}&limit=2000"))
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(later, EVENTS - 7_000);

    // Vessels: pages of 5,000 (the most a page may hold), each vessel once with its names.
    let got = pages(http, "/api/vessels?limit=5000");
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(sizes, [vec![5_000; 6], vec![1]].concat());
    let seen: BTreeMap<u32, Vec<String>> = got
        .concat()
        .iter()
        .map(|v| {
            (
                v["mmsi"].as_u64().unwrap() as u32,
                serde_json::from_value(v["names"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, names);

    // Requests out of range are refused, not served unbounded.
    for bad in [
        "/api/events?limit=0",
        "/api/events?limit=5001",
        "/api/events?after=nonsense",
        "/api/vessels?after=x",
        "/api/events?since=2025-01-12T16:40:00",
    ] {
        assert_eq!(get(http, bad).0, 400, "{bad}");
    }
    assert!(util::sigterm(&mut child).success());
}

/// Issue 12: the API says what the CLI says. On the January story's database, each endpoint with
/// the CLI's filters gives the CLI's records (the CLI's output is the reference here, and the
/// scenario's expected events that of both), and refuses what the CLI refuses.
#[test]
fn the_api_takes_the_clis_filters_and_gives_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("story.db");
    util::replay_story(&db);
    let cli = |args: &[&str]| -> String {
        String::from_utf8(util::run_ok(util::bin().args(args).arg("--db").arg(&db)).stdout).unwrap()
    };
    let http = free_port();
    let mut child = start(dir.path(), &db, http);
    let json = |path: &str| -> serde_json::Value {
        let (status, _, body) = get(http, path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    // Events: the departures from Tartus, as the expected events have them.
    let want: Vec<serde_json::Value> = util::story_events()
        .into_iter()
        .filter(|e| e["kind"] == "departure" && e["fence"] == "tartus-port")
        .collect();
    let got = json("/api/events?kind=departure&fence=tartus-port");
    assert_eq!(got.as_array().unwrap(), &want);
    // A date, and the cursor keeps the filters: one holding event a page.
    let from_date = json("/api/events?since=2025-01-20");
    let from_time = json("/api/events?since=2025-01-20T00:00:00Z");
    assert_eq!(from_date, from_time);
    let (_, headers, _) = get(http, "/api/events?kind=holding&limit=1");
    let link = headers
        .iter()
        .find(|(k, _)| k == "link")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        link.contains("kind=holding") && link.contains("limit=1"),
        "{link}"
    );
    // Visits and the track: the CLI's JSON and GeoJSON.
    let visits: serde_json::Value = serde_json::from_str(&cli(&[
        "visits",
        "--fence",
        "tartus-port",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json("/api/visits?fence=tartus-port"), visits);
    assert_eq!(
        json("/api/visits?fence=tartus-port&open=true"),
        serde_json::json!([])
    );
    let track: serde_json::Value = serde_json::from_str(&cli(&[
        "track",
        "SPARTA",
        "--since",
        "2025-02-04T22:00:00Z",
        "--format",
        "geojson",
    ]))
    .unwrap();
    assert_eq!(
        json("/api/vessels/SPARTA/track?since=2025-02-04T22:00:00Z"),
        track
    );
    // Fences: the configured ones, each polygon as its GeoJSON file has it, gates as lines.
    let fc = json("/api/fences");
    let features = fc["features"].as_array().unwrap();
    let mut names: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let config: toml::Table = toml::from_str(
        &std::fs::read_to_string(util::root().join("config/vesselwatch.toml")).unwrap(),
    )
    .unwrap();
    let mut configured: Vec<&str> = config["fences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    configured.sort_unstable();
    assert_eq!(names, configured);
    let port = features
        .iter()
        .find(|f| f["properties"]["name"] == "tartus-port")
        .unwrap();
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("config/fences/tartus-port.geojson")).unwrap(),
    )
    .unwrap();
    assert_eq!(port["geometry"], file["geometry"]);
    let gate = features
        .iter()
        .find(|f| f["properties"]["name"] == "gibraltar")
        .unwrap();
    assert_eq!(gate["geometry"]["type"], "LineString");
    // The config's line, lon/lat: Punta Oliveros to Punta Cires.
    assert_eq!(
        gate["geometry"]["coordinates"],
        serde_json::json!([[-5.58, 36.0], [-5.48, 35.91]])
    );
    assert_eq!(gate["properties"]["kind"], "gate");
    // Refused as the CLI refuses them.
    for (path, says) in [
        ("/api/events?kind=arival", "no event kind named"),
        ("/api/events?fence=nowhere", "no fence named"),
        ("/api/vessels/TITANIC/track", "no vessel \"TITANIC\""),
        (
            "/api/events?since=2025-01-21&until=2025-01-20",
            "the period is empty",
        ),
        ("/api/visits?since=soon", "since:"),
    ] {
        let (status, _, body) = get(http, path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
    assert!(util::sigterm(&mut child).success());
}

/// Issue 12: `vesselwatch serve --db FILE` serves the API over any database, read-only, without
/// a daemon's sources: a replayed history answers with the scenario's events and fences, and a
/// database that is not there is refused (exit 1).
#[test]
fn serve_answers_for_a_replayed_database_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    util::replay_story(&db);
    let expected = util::story_events().len();
    let (mut child, http) = util::serve(&db);
    let (status, _, body) = get(http, "/api/events");
    assert_eq!(status, 200, "{body}");
    let events: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(events.len(), expected);
    let (status, _, body) = get(http, "/api/fences");
    assert_eq!(status, 200, "{body}");
    // The OpenAPI document names every route the router has, and each path it names answers.
    let (status, _, body) = get(http, "/api/openapi.json");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let source = [
        "src/daemon/http.rs",
        "src/daemon/api.rs",
        "src/daemon/web.rs",
    ]
    .map(|f| std::fs::read_to_string(util::root().join(f)).unwrap())
    .concat();
    let mut routes: Vec<&str> = source
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    routes.sort_unstable();
    let mut documented: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
    documented.sort_unstable();
    assert_eq!(documented, routes);
    for p in paths {
        // The stream does not end: `the_stream_sends_the_fleet_then_only_what_changed` reads it.
        if p == "/api/stream" {
            continue;
        }
        let path = p
            .replace("{id}", "SPARTA")
            .replace("{file}", "app.js")
            .replace("/api/map/at", "/api/map/at?time=2025-01-20");
        let (status, _, body) = get(http, &path);
        assert_eq!(status, 200, "{p}: {body}");
    }
    assert!(util::sigterm(&mut child).success());
    let out = util::bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("nothing.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such database"));
    assert!(!dir.path().join("nothing.db").exists());
}

/// Issue 12: beyond loopback the API needs a bearer token from the config. Without one the
/// config is refused (exit 2); with one, a request without it or with a wrong one is a 401, the
/// right one is served, and `/healthz` stays open for liveness probes.
#[test]
fn beyond_loopback_a_bearer_token_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    drop(vesselwatch::store::open(&db).unwrap());
    let http = free_port();
    let cfg = dir.path().join("open.toml");
    std::fs::write(&cfg, format!("[http]\nlisten = \"0.0.0.0:{http}\"\n")).unwrap();
    let out = util::bin()
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http.token_file or http.token_env"));
    let token = "s3cret-token-of-some-length";
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    std::fs::write(
        &cfg,
        format!("[http]\nlisten = \"0.0.0.0:{http}\"\ntoken_file = \"token\"\n"),
    )
    .unwrap();
    let mut child = util::bin()
        .args(["serve", "--listen", &format!("0.0.0.0:{http}"), "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(util::wait_until(Duration::from_secs(20), || util::get(
        http, "/healthz"
    )
    .is_some_and(|(s, _)| s == 200)));
    let head_with = |header: &str, path: &str| -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap().to_string();
        (raw.split(' ').nth(1).unwrap().parse().unwrap(), head)
    };
    let status_with = |auth: Option<&str>, path: &str| -> u16 {
        let header = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        head_with(&header, path).0
    };
    assert_eq!(status_with(None, "/api/events"), 401);
    assert_eq!(status_with(Some("Bearer wrong"), "/api/events"), 401);
    assert_eq!(status_with(None, "/metrics"), 401);
    assert_eq!(
        status_with(Some(&format!("Bearer {token}")), "/api/events"),
        200
    );
    assert_eq!(status_with(None, "/healthz"), 200);
    // A browser: the map and its stream without the token are refused; opening
    // `/?access_token=` once gives a cookie (HttpOnly, this site only) that lets the page in.
    assert_eq!(status_with(None, "/"), 401);
    assert_eq!(status_with(None, "/api/stream"), 401);
    assert_eq!(head_with("", "/?access_token=wrong").0, 401);
    let (status, head) = head_with("", &format!("/?access_token={token}"));
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(pair, format!("vesselwatch_token={token}"));
    assert_eq!(head_with(&format!("Cookie: {pair}\r\n"), "/").0, 200);
    assert_eq!(
        head_with(&format!("Cookie: a=b; {pair}\r\n"), "/api/map").0,
        200
    );
    assert_eq!(
        head_with("Cookie: vesselwatch_token=wrong\r\n", "/api/map").0,
        401
    );
    assert!(util::sigterm(&mut child).success());
}

/// One Server-Sent Events stream, read message by message (`event`, `id`, `data`).
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn open(url: &str, last_id: Option<&str>) -> Self {
        let mut req = reqwest::Client::new().get(url);
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an event stream"
        );
        Sse {
            response,
            buffer: String::new(),
        }
    }

    /// The next message with an event name (keep-alive comments skipped), within `limit`.
    async fn next(&mut self, limit: Duration) -> Option<(String, Option<String>, Value)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let message: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (None, None, String::new());
                for line in message.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if let Some(event) = event {
                    return Some((event, id, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Issue 12, the map's live stream: a new stream sends the fleet (every vessel with a fix in the
/// day before the newest, where nmea-parser puts it) and the events, then `ready`; what another
/// process stores afterwards comes as an `update` with only the new events and the vessels heard;
/// and a stream reopened with the last id (`Last-Event-ID`) resumes with just that, no fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_the_fleet_then_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let lines = util::story();
    let events = util::story_events();
    let (arrival, arrival_ms, split) = util::first_arrival(&lines);
    let arrival = &arrival;
    // Up to the arrival, then the hour after it: the second part's only event is the arrival.
    let end = split
        + lines[split..]
            .iter()
            .take_while(|(t, _)| t * 1000 < arrival_ms + 3_600_000)
            .count();
    let replay = |part: &[(i64, String)]| {
        let text: String = part.iter().map(|(_, l)| format!("{l}\n")).collect();
        util::run_with_stdin(
            util::bin()
                .args(["replay", "--config"])
                .arg(util::root().join("config/vesselwatch.toml"))
                .arg("--db")
                .arg(&db)
                .arg("-"),
            text.as_bytes(),
        )
    };
    replay(&lines[..split]);
    let (mut child, http) = util::serve(&db);
    let url = format!("http://127.0.0.1:{http}/api/stream");
    let mut sse = Sse::open(&url, None).await;
    let mut fleet = BTreeMap::new();
    let (ready_id, listed) = loop {
        let (event, id, data) = sse.next(Duration::from_secs(10)).await.expect("a message");
        match event.as_str() {
            "fleet" => {
                for v in data["vessels"].as_array().unwrap() {
                    fleet.insert(v["mmsi"].as_u64().unwrap() as u32, v.clone());
                }
            }
            "ready" => break (id.unwrap(), data["events"].as_array().unwrap().clone()),
            other => panic!("{other} before ready"),
        }
    };
    let before = util::last_positions(&lines[..split]);
    let newest = before.values().map(|p| p.0).max().unwrap();
    let expected: BTreeMap<u32, (i64, f64, f64)> = before
        .into_iter()
        .filter(|(_, p)| p.0 >= newest - 86_400_000)
        .collect();
    assert_eq!(
        fleet.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (mmsi, (t, lat, lon)) in &expected {
        let v = &fleet[mmsi];
        assert!((v["lat"].as_f64().unwrap() - lat).abs() < 5.1e-7, "{v}");
        assert!((v["lon"].as_f64().unwrap() - lon).abs() < 5.1e-7, "{v}");
        assert_eq!(
            v["time"].as_str().unwrap(),
            vesselwatch_ais::time::UnixMillis(*t).to_string()
        );
    }
    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let earlier: Vec<String> = events
        .iter()
        .filter(|e| e["time"].as_str() < arrival["time"].as_str())
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids(&listed), earlier, "the events so far, oldest first");

    // Another process stores the next hour: the stream sends it, and only it.
    replay(&lines[split..end]);
    let (mut got_events, mut got_vessels) = (Vec::new(), BTreeMap::new());
    let mut last_id = ready_id.clone();
    while let Some((event, id, data)) = sse.next(Duration::from_secs(3)).await {
        assert_eq!(event, "update");
        last_id = id.unwrap();
        got_events.extend(ids(data["events"].as_array().unwrap()));
        for v in data["vessels"].as_array().unwrap() {
            got_vessels.insert(v["mmsi"].as_u64().unwrap() as u32, v.clone());
        }
    }
    assert_eq!(
        got_events,
        vec![arrival["id"].as_str().unwrap().to_string()]
    );
    let now = util::last_positions(&lines[..end]);
    let heard_with_fix = util::last_positions(&lines[split..end]);
    for mmsi in heard_with_fix.keys() {
        assert!(
            got_vessels.contains_key(mmsi),
            "{mmsi} moved but was not sent"
        );
    }
    for (mmsi, v) in &got_vessels {
        let (_, lat, lon) = now[mmsi];
        assert!((v["lat"].as_f64().unwrap() - lat).abs() < 5.1e-7, "{v}");
        assert!((v["lon"].as_f64().unwrap() - lon).abs() < 5.1e-7, "{v}");
    }
    assert_ne!(last_id, ready_id);

    // Reconnecting where the first stream was at `ready` resumes: the update, no fleet.
    let mut again = Sse::open(&url, Some(&ready_id)).await;
    let (event, id, data) = again.next(Duration::from_secs(5)).await.expect("an update");
    assert_eq!(event, "update");
    assert_eq!(id.unwrap(), last_id);
    assert_eq!(
        ids(data["events"].as_array().unwrap()),
        vec![arrival["id"].as_str().unwrap().to_string()]
    );
    // And from the last id there is nothing more to send.
    let mut caught_up = Sse::open(&url, Some(&last_id)).await;
    assert!(caught_up.next(Duration::from_secs(3)).await.is_none());
    assert!(util::sigterm(&mut child).success());
}

/// The initial bearing from `a` to `b` in degrees (the great-circle formula, written out here as
/// the oracle for the map's direction of a vessel as of a past time).
fn bearing((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dl = (lon2 - lon1).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// Issue 12, the time slider: `/api/map/at` gives each vessel's last recorded position at or
/// before the time (within the day before), turned along its way from the position before, and the
/// events up to that time, newest first. The watched vessels' positions are all recorded, so
/// theirs are exactly nmea-parser's last before the time.
#[test]
fn the_fleet_as_of_a_time_is_where_the_feed_had_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    util::replay_story(&db);
    let (mut child, http) = util::serve(&db);
    let events = util::story_events();
    let lines = util::story();
    // Two hours after Sparta's departure: Sparta under way, Sparta II in port.
    let at = "2025-01-25T13:10:00Z";
    let at_ms = vesselwatch_ais::time::UnixMillis::parse_rfc3339(at.as_bytes())
        .unwrap()
        .0;
    let (status, _, body) = get(http, &format!("/api/map/at?time={at}"));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["time"], at);
    // Events: those up to the time, newest first.
    let mut upto: Vec<&str> = events
        .iter()
        .filter(|e| e["time"].as_str().unwrap() <= at)
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    upto.reverse();
    let listed: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, upto);
    // Vessels: every one shown had a position in the day before; the watched ones are exact.
    let upto_lines: Vec<(i64, String)> = lines
        .iter()
        .filter(|(t, _)| t * 1000 <= at_ms)
        .cloned()
        .collect();
    let day: Vec<(i64, String)> = upto_lines
        .iter()
        .filter(|(t, _)| t * 1000 >= at_ms - 86_400_000)
        .cloned()
        .collect();
    let in_day = util::last_positions(&day);
    let shown: BTreeMap<u64, &Value> = v["vessels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["mmsi"].as_u64().unwrap(), d))
        .collect();
    for mmsi in shown.keys() {
        assert!(
            in_day.contains_key(&(*mmsi as u32)),
            "{mmsi} had no position in the day"
        );
    }
    let watched: std::collections::BTreeSet<u64> =
        events.iter().map(|e| e["mmsi"].as_u64().unwrap()).collect();
    for mmsi in &watched {
        let d = shown.get(mmsi).unwrap_or_else(|| panic!("{mmsi} missing"));
        let (t, lat, lon) = in_day[&(*mmsi as u32)];
        assert!((d["lat"].as_f64().unwrap() - lat).abs() < 5.1e-7, "{d}");
        assert!((d["lon"].as_f64().unwrap() - lon).abs() < 5.1e-7, "{d}");
        assert_eq!(
            d["time"].as_str().unwrap(),
            vesselwatch_ais::time::UnixMillis(t).to_string()
        );
        assert_eq!(
            d["label"],
            events.iter().find(|e| e["mmsi"] == *mmsi).unwrap()["label"]
        );
        // The direction: from its position before (the last one earlier than this one).
        let earlier: Vec<(i64, String)> =
            day.iter().filter(|(s, _)| s * 1000 < t).cloned().collect();
        let (_, plat, plon) = util::last_positions(&earlier)[&(*mmsi as u32)];
        let expected = bearing((plat, plon), (lat, lon));
        match d["course"].as_f64() {
            Some(course) => {
                let diff = (course - expected).rem_euclid(360.0);
                assert!(
                    diff.min(360.0 - diff) < 0.06,
                    "course {course} vs {expected}"
                );
            }
            // Stopped (under half a knot), or less than ten metres moved: no direction.
            None => assert!(
                d["sog"].as_f64().is_some_and(|s| s < 0.5)
                    || ((lat - plat).abs() * 111_195.0 < 10.0
                        && (lon - plon).abs() * 91_000.0 < 10.0),
                "{d}"
            ),
        }
    }
    let (status, _, _) = get(http, "/api/map/at?time=yesterday-ish");
    assert_eq!(status, 400);
    assert!(util::sigterm(&mut child).success());
}

/// Issue 12, a vessel's track on the map: `points=N` spreads at most about N positions over the
/// period, the last of each equal slice of time, so that a long period is drawn whole. The slices
/// are computed here from the feed's own fixes (nmea-parser), and so are the positions.
#[test]
fn a_track_spread_over_its_period_keeps_the_last_fix_of_each_slice() {
    use nmea_parser::{NmeaParser, ParsedMessage};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    util::replay_story(&db);
    let (mut child, http) = util::serve(&db);
    let (since, until) = ("2025-01-12T00:00:00Z", "2025-02-05T00:00:00Z");
    let ms = |t: &str| {
        vesselwatch_ais::time::UnixMillis::parse_rfc3339(t.as_bytes())
            .unwrap()
            .0
    };
    let mmsi = 273_000_201;
    let mut parser = NmeaParser::new();
    let mut fixes: Vec<(i64, f64, f64)> = Vec::new();
    for (t, line) in util::story() {
        let sentence = &line[line.rfind('\\').unwrap() + 1..];
        if let Ok(ParsedMessage::VesselDynamicData(v)) = parser.parse_sentence(sentence)
            && v.mmsi == mmsi
            && let (Some(lat), Some(lon)) = (v.latitude, v.longitude)
            && (ms(since)..ms(until)).contains(&(t * 1000))
        {
            fixes.push((t * 1000, lat, lon));
        }
    }
    for points in [1, 20, 500] {
        let slice = (ms(until) - ms(since)) / points;
        let mut expected: BTreeMap<i64, (i64, f64, f64)> = BTreeMap::new();
        for f in &fixes {
            expected.insert(f.0 / slice, *f);
        }
        let (status, _, body) = get(
            http,
            &format!("/api/vessels/{mmsi}/track?since={since}&until={until}&points={points}"),
        );
        assert_eq!(status, 200, "{body}");
        let track: Value = serde_json::from_str(&body).unwrap();
        let coords = track["geometry"]["coordinates"]
            .as_array()
            .or(track["features"][0]["geometry"]["coordinates"].as_array())
            .cloned()
            .unwrap_or_else(|| vec![track["geometry"]["coordinates"].clone()]);
        assert_eq!(coords.len(), expected.len(), "points={points}");
        for (c, (_, lat, lon)) in coords.iter().zip(expected.values()) {
            assert!((c[0].as_f64().unwrap() - lon).abs() < 1e-9, "{c} {lon}");
            assert!((c[1].as_f64().unwrap() - lat).abs() < 1e-9, "{c} {lat}");
        }
    }
    let (status, _, _) = get(http, &format!("/api/vessels/{mmsi}/track?points=0"));
    assert_eq!(status, 400);

    // A stream resumed from a position this database never had (another file's): the fleet again.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("http://127.0.0.1:{http}/api/stream");
        let mut sse = Sse::open(&url, Some("99999999.0.99999")).await;
        let (event, _, _) = sse.next(Duration::from_secs(5)).await.expect("a message");
        assert_eq!(event, "fleet");
    });
    assert!(util::sigterm(&mut child).success());
}
