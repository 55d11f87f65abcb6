//! The map in a real browser (issue 12): the real daemon fed the January 2025 story over TCP, and
//! Debian's headless Chromium driven through ChromeDriver (WebDriver, by `fantoccini`).
//!
//! `tests/browser-setup.sh` installs Chromium and ChromeDriver when they are missing; where it
//! cannot, the test prints why and skips. The screenshot is written to
//! `target/tmp/browser/map.png`, and also to `$VESSELWATCH_SCREENSHOT` when set (the README's
//! picture: `web/screenshot.sh`).

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use util::{free_port, last_positions, root, story, story_events, wait_until};

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Chromium and ChromeDriver, installed by the project's script; `Err` is why they cannot be.
fn browser_installed() -> Result<(), String> {
    let out = Command::new("bash")
        .arg(root().join("tests/browser-setup.sh"))
        .output()
        .map_err(|e| format!("cannot run tests/browser-setup.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The browser's console log (ChromeDriver's `se/log`, which W3C WebDriver has no command for).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

fn start_daemon(dir: &Path, http: u16, feed: u16) -> (Killed, PathBuf) {
    let shipped = std::fs::read_to_string(root().join("config/vesselwatch.toml")).unwrap();
    let fences_and_watch = shipped[shipped.find("[[fences]]").unwrap()..].replace(
        "geojson = \"fences/",
        &format!("geojson = \"{}/config/fences/", root().display()),
    );
    let cfg = dir.join("vesselwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [[sources]]\nname = \"push\"\ntype = \"tcp_listen\"\nlisten = \"127.0.0.1:{feed}\"\n\n\
             {fences_and_watch}"
        ),
    )
    .unwrap();
    let db = dir.join("map.db");
    let child = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    (Killed(child), db)
}

fn start_chromedriver() -> (Killed, u16) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "chromedriver did not listen"
    );
    (Killed(child), port)
}

async fn browser(driver: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                // WebGL on the CPU (SwiftShader): MapLibre draws with WebGL, and a test machine
                // has no GPU.
                "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
                // Without these, Chromium calls Google's hosts, which a closed network refuses.
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1400,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver}"))
        .await
        .expect("a ChromeDriver session")
}

/// The value of `script` (a function body that `return`s) in the page.
async fn eval<T: serde::de::DeserializeOwned>(c: &Client, script: &str) -> T {
    serde_json::from_value(c.execute(script, vec![]).await.unwrap()).unwrap()
}

/// Evaluates `expr` in the page until it is truthy, for at most `limit`; the last value.
async fn until(c: &Client, limit: Duration, expr: &str) -> (bool, Value) {
    let start = Instant::now();
    loop {
        let v = c
            .execute(&format!("return {expr};"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy =
            !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
        if truthy || start.elapsed() > limit {
            return (truthy, v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_shows_the_fleet_live_events_and_a_clicked_vessels_track() {
    if let Err(why) = browser_installed() {
        // On stderr, not through the test harness's captured stdout: a plain `cargo test` shows it.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the browser test needs Chromium and ChromeDriver: {why}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let feed_port = std::iter::repeat_with(free_port)
        .find(|&p| p != http)
        .unwrap();
    let (_daemon, db) = start_daemon(dir.path(), http, feed_port);
    let mut feed = None;
    assert!(wait_until(Duration::from_secs(20), || {
        feed = std::net::TcpStream::connect(("127.0.0.1", feed_port)).ok();
        feed.is_some()
    }));
    let mut feed = feed.unwrap();

    // The story up to Sparta's arrival at Tartus (its first `arrival` event): the fleet before.
    let lines = story();
    let events = story_events();
    let (arrival, arrival_ms, split) = util::first_arrival(&lines);
    let arrival = &arrival;
    let before = &lines[..split];
    let body: String = before.iter().map(|(_, l)| format!("{l}\n")).collect();
    feed.write_all(body.as_bytes()).unwrap();
    let earlier = events
        .iter()
        .filter(|e| e["time"].as_str() < arrival["time"].as_str())
        .count();
    assert!(
        wait_until(Duration::from_secs(30), || util::stored_events(&db).len()
            == earlier),
        "the daemon did not store the {earlier} events before the arrival"
    );
    // Give the last positions their batch (a second at most without events).
    std::thread::sleep(Duration::from_millis(1500));

    // The fleet the map should show: every vessel with a position in the day before the newest.
    let last = last_positions(before);
    let newest = last.values().map(|p| p.0).max().unwrap();
    let expected: BTreeSet<u32> = last
        .iter()
        .filter(|(_, p)| p.0 >= newest - 86_400_000)
        .map(|(m, _)| *m)
        .collect();
    let labels: BTreeMap<u64, String> = events
        .iter()
        .map(|e| {
            (
                e["mmsi"].as_u64().unwrap(),
                e["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let (_driver, driver_port) = start_chromedriver();
    let c = browser(driver_port, &dir.path().join("profile")).await;
    c.goto(&format!("http://127.0.0.1:{http}/")).await.unwrap();
    let (ready, _) = until(&c, Duration::from_secs(30), "window.vw && vw.ready").await;
    assert!(ready, "the page never drew its first fleet");
    let (_, first) = until(&c, Duration::from_secs(10), "vw.firstDrawMs").await;
    println!("first fleet drawn {first} ms after navigation start");
    // A picture before any assertion, so that a failing run leaves one too.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("map-start.png"), c.screenshot().await.unwrap()).unwrap();

    // The fixture's vessels are on the map: in the page's fleet and in the drawn source.
    let shown: BTreeSet<u32> = eval(&c, "return [...vw.live.keys()];").await;
    assert_eq!(shown, expected);
    let drawn = c
        .execute_async(
            "const done = arguments[0];
             vw.map.getSource('vessels').getData().then(d => done(d.features.map(f => f.id).sort((a, b) => a - b)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_value::<BTreeSet<u32>>(drawn).unwrap(),
        expected
    );
    // Watched vessels carry their watchlist label on the map.
    let shown_labels: BTreeSet<String> = eval(
        &c,
        "return [...document.querySelectorAll('.vessel-label')].map(e => e.textContent);",
    )
    .await;
    let expected_labels: BTreeSet<String> = expected
        .iter()
        .filter_map(|m| labels.get(&u64::from(*m)).cloned())
        .collect();
    assert_eq!(shown_labels, expected_labels);
    // The events so far, newest first.
    let listed: Vec<String> = eval(
        &c,
        "return [...document.querySelectorAll('#events li')].map(e => e.dataset.id);",
    )
    .await;
    let mut earlier_ids: Vec<String> = events[..earlier]
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    earlier_ids.reverse();
    assert_eq!(listed, earlier_ids);

    // The next two hours of the feed: the arrival is in the list within 2 s of being sent.
    let after: String = lines[split..]
        .iter()
        .take_while(|(t, _)| t * 1000 < arrival_ms + 2 * 3_600_000)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let id = arrival["id"].as_str().unwrap();
    let sent = Instant::now();
    feed.write_all(after.as_bytes()).unwrap();
    let (appeared, _) = until(
        &c,
        Duration::from_secs(5),
        &format!("document.querySelector('#events li[data-id=\"{id}\"]')"),
    )
    .await;
    let took = sent.elapsed();
    if !appeared {
        let state = c
            .execute("return [vw.updates, vw.messages, vw.streamErrors, vw.liveEvents.length, vw.events.length, document.getElementById('status').textContent];", vec![])
            .await
            .unwrap();
        let log = c.issue_cmd(BrowserLog).await.unwrap();
        panic!(
            "the arrival {id} never appeared in the list: page {state}, stored {:?}, console {log:#}, daemon {}",
            util::stored_events(&db).len(),
            std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
        );
    }
    assert!(
        took < Duration::from_secs(2),
        "the arrival took {took:?} to appear"
    );
    let first: String = eval(
        &c,
        "return document.querySelector('#events li').dataset.id;",
    )
    .await;
    assert_eq!(first, id, "the newest event is listed first");

    // Click the arriving vessel where the map draws it: its panel and its track.
    let mmsi = arrival["mmsi"].as_u64().unwrap();
    c.execute(
        &format!(
            "const d = vw.live.get({mmsi}); vw.map.jumpTo({{ center: [d.lon, d.lat], zoom: 12 }});"
        ),
        vec![],
    )
    .await
    .unwrap();
    c.execute_async(
        "const done = arguments[0]; vw.map.once('idle', () => done(true)); vw.map.triggerRepaint();",
        vec![],
    )
    .await
    .unwrap();
    let at: Vec<f64> = eval(
        &c,
        &format!(
            "const d = vw.live.get({mmsi}); const p = vw.map.project([d.lon, d.lat]);
                 const r = document.getElementById('map').getBoundingClientRect();
                 return [p.x - r.width / 2, p.y - r.height / 2];"
        ),
    )
    .await;
    let map = c.find(Locator::Id("map")).await.unwrap();
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: map,
            duration: None,
            x: at[0].round(),
            y: at[1].round(),
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(click).await.unwrap();
    let (tracked, points) = until(
        &c,
        Duration::from_secs(10),
        &format!("vw.selected === {mmsi} && vw.trackPoints"),
    )
    .await;
    if !tracked {
        let state = c
            .execute("return [vw.selected, vw.trackPoints, document.getElementById('track-points').textContent];", vec![])
            .await
            .unwrap();
        let log = c.issue_cmd(BrowserLog).await.unwrap();
        panic!("clicking the vessel drew no track: {state}, console {log:#}");
    }
    let name = c
        .find(Locator::Id("vessel-name"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        name.starts_with(arrival["label"].as_str().unwrap()),
        "panel says {name:?}"
    );
    // Its identity: the event's IMO and call sign, the type of code 70 in words (ITU-R M.1371
    // Table 53: cargo) and the flag of MID 273 (ITU: Russian Federation).
    let rows: BTreeMap<String, String> = eval(
        &c,
        "const o = {}; for (const dt of document.querySelectorAll('#vessel-identity dt'))
               o[dt.textContent] = dt.nextElementSibling.textContent; return o;",
    )
    .await;
    assert_eq!(rows["MMSI"], mmsi.to_string(), "{rows:?}");
    assert_eq!(rows["IMO"], arrival["imo"].to_string(), "{rows:?}");
    assert_eq!(rows["call sign"], arrival["callsign"].as_str().unwrap());
    assert_eq!(rows["type"], "cargo");
    assert_eq!(rows["flag"], "Russian Federation");
    assert_eq!(
        rows["watch"],
        format!(
            "{} ({})",
            arrival["label"].as_str().unwrap(),
            arrival["group"].as_str().unwrap()
        )
    );
    // Its visits: the one it has just begun, open.
    let visits: Vec<Vec<String>> = eval(
        &c,
        "return [...document.querySelectorAll('#visits tbody tr')]
               .map(tr => [...tr.children].map(td => td.textContent));",
    )
    .await;
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0][0], arrival["fence"].as_str().unwrap());
    assert_eq!(visits[0][2], "in port");
    // The track drawn is the API's for the same day: the positions of the last 24 hours.
    let last_report = c
        .execute(
            &format!("return new Date(Date.parse(vw.live.get({mmsi}).time)).toISOString();"),
            vec![],
        )
        .await
        .unwrap();
    let last_ms =
        vesselwatch_ais::time::UnixMillis::parse_rfc3339(last_report.as_str().unwrap().as_bytes())
            .unwrap()
            .0;
    let iso = |ms: i64| vesselwatch_ais::time::UnixMillis(ms).to_string();
    let (status, track) = util::get(
        http,
        &format!(
            "/api/vessels/{mmsi}/track?limit=5000&since={}&until={}",
            iso(last_ms - 86_400_000),
            iso(last_ms + 1)
        ),
    )
    .unwrap();
    assert_eq!(status, 200, "{track}");
    let track: Value = serde_json::from_str(&track).unwrap();
    let api_points = track["geometry"]["coordinates"]
        .as_array()
        .or(track["features"][0]["geometry"]["coordinates"].as_array())
        .map_or(0, Vec::len);
    assert!(api_points > 1, "{track}");
    assert_eq!(points, json!(api_points));

    // The picture: the arrival, the clicked vessel's panel and its track.
    let png = c.screenshot().await.unwrap();

    // Clicking an event shows it on the map: the view flies to where it happened.
    let holding = events.iter().find(|e| e["kind"] == "holding").unwrap();
    c.find(Locator::Css(&format!(
        "#events li[data-id=\"{}\"]",
        holding["id"].as_str().unwrap()
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.execute_async(
        "const done = arguments[0]; vw.map.once('moveend', () => done(true));",
        vec![],
    )
    .await
    .unwrap();
    let centre: Vec<f64> = eval(&c, "const c = vw.map.getCenter(); return [c.lat, c.lng];").await;
    assert!(
        (centre[0] - holding["lat"].as_f64().unwrap()).abs() < 1e-6,
        "{centre:?}"
    );
    assert!(
        (centre[1] - holding["lon"].as_f64().unwrap()).abs() < 1e-6,
        "{centre:?}"
    );

    // The time slider: the page shows the fleet and events as of the time, as the API gives them;
    // `Live` brings back the present.
    let at = "2025-01-12T16:00:00Z";
    let at_ms = vesselwatch_ais::time::UnixMillis::parse_rfc3339(at.as_bytes())
        .unwrap()
        .0;
    c.execute(
        &format!(
            "const s = document.getElementById('slider'); s.value = {at_ms};
             s.dispatchEvent(new Event('input'));"
        ),
        vec![],
    )
    .await
    .unwrap();
    let (past, _) = until(
        &c,
        Duration::from_secs(10),
        &format!("vw.shown === {at_ms}"),
    )
    .await;
    assert!(past, "the slider did not show the past");
    let (_, body) = util::get(http, &format!("/api/map/at?time={at}")).unwrap();
    let then: Value = serde_json::from_str(&body).unwrap();
    let then_vessels: BTreeSet<u64> = then["vessels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["mmsi"].as_u64().unwrap())
        .collect();
    let drawn_then = c
        .execute_async(
            "const done = arguments[0];
             vw.map.getSource('vessels').getData().then(d => done(d.features.map(f => f.id)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_value::<BTreeSet<u64>>(drawn_then).unwrap(),
        then_vessels
    );
    let listed_then: Vec<String> = eval(
        &c,
        "return [...document.querySelectorAll('#events li')].map(e => e.dataset.id);",
    )
    .await;
    // The events up to 16:00 on the 12th, newest first.
    let mut until_then: Vec<String> = events
        .iter()
        .filter(|e| e["time"].as_str().unwrap() <= at)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    until_then.reverse();
    assert_eq!(listed_then, until_then);
    c.find(Locator::Id("live"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let (live, _) = until(
        &c,
        Duration::from_secs(5),
        &format!(
            "vw.shown === 'live' && document.querySelector('#events li').dataset.id === '{id}'"
        ),
    )
    .await;
    assert!(live, "Live did not bring back the present");

    // Nothing was fetched from anywhere but the page's own origin: no CDN, no tiles by default.
    let foreign: Vec<String> = eval(
        &c,
        "return performance.getEntriesByType('resource').map(e => e.name)
               .filter(u => new URL(u).origin !== location.origin && !u.startsWith('blob:'));",
    )
    .await;
    assert!(foreign.is_empty(), "fetched off the host: {foreign:?}");

    // No errors in the console from start to here.
    let log = c.issue_cmd(BrowserLog).await.unwrap();
    let severe: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "console errors: {severe:#?}");

    std::fs::write(out.join("map.png"), &png).unwrap();
    if let Some(path) = std::env::var_os("VESSELWATCH_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
    println!("screenshot: {}", out.join("map.png").display());
    c.close().await.unwrap();
}

/// CPU seconds (user + system) used so far by the processes whose command line names `profile`:
/// the browser's processes, which all carry its `--user-data-dir`.
fn browser_cpu_seconds(profile: &Path) -> f64 {
    let needle = profile.display().to_string();
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(cmd) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmd).contains(&needle) {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(dir.join("stat")) {
            // Fields after the command's closing parenthesis: utime and stime are 12th and 13th.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        }
    }
    ticks as f64 / 100.0
}

/// The issue's load figures, measured (not asserted): page weight, time to first render, and
/// frame rate, CPU and stream bytes with 50,000 vessels of which 5,000 move every second. Run by
/// hand: `cargo test --release --test browser -- --ignored --nocapture`. Headless Chromium draws
/// WebGL on the CPU (SwiftShader), so the frame rate is a floor for a machine with a GPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_the_map_with_50000_vessels() {
    const VESSELS: u32 = 50_000;
    const MOVING: u32 = 5_000;
    if let Err(why) = browser_installed() {
        println!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    drop(vesselwatch::store::open(&db).unwrap());
    let base: i64 = 1_737_370_800_000;
    // A deterministic spread over the Mediterranean: no two runs differ.
    let place = |i: u32, step: u32| {
        let x = (i.wrapping_mul(2_654_435_761) >> 8) as f64 / f64::from(1u32 << 24);
        let y = (i.wrapping_mul(40_503).wrapping_add(step * 7) % 10_007) as f64 / 10_007.0;
        (31.0 + y * 12.0, -5.0 + x * 41.0 + f64::from(step) * 0.001)
    };
    {
        let mut c = rusqlite::Connection::open(&db).unwrap();
        let tx = c.transaction().unwrap();
        let mut ins = tx
            .prepare(
                "INSERT INTO vessels (mmsi, name, shiptype, first_seen, last_seen, lat, lon, cog,
                 heading, sog, fix_time, changed) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, NULL, ?8, ?4, 1)",
            )
            .unwrap();
        for i in 0..VESSELS {
            let (lat, lon) = place(i, 0);
            ins.execute(rusqlite::params![
                200_000_000 + i,
                format!("VESSEL {i}"),
                30 + (i % 60),
                base,
                lat,
                lon,
                f64::from(i % 360),
                f64::from(i % 20)
            ])
            .unwrap();
        }
        drop(ins);
        tx.commit().unwrap();
    }
    let http = free_port();
    let _serve = Killed(
        util::bin()
            .args(["serve", "--listen", &format!("127.0.0.1:{http}"), "--db"])
            .arg(&db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(20), || util::get(
        http, "/healthz"
    )
    .is_some()));
    let (_driver, driver_port) = start_chromedriver();
    let profile = dir.path().join("profile");
    let c = browser(driver_port, &profile).await;
    c.goto(&format!("http://127.0.0.1:{http}/")).await.unwrap();
    let (drawn, first) = until(&c, Duration::from_secs(120), "vw.firstDrawMs").await;
    assert!(drawn, "the fleet was never drawn");
    let count = c.execute("return vw.live.size;", vec![]).await.unwrap();
    // Let the 1:10m basemap arrive, then weigh what was fetched.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let weight = c
        .execute(
            "const r = performance.getEntriesByType('resource');
             const n = performance.getEntriesByType('navigation')[0];
             const sum = (f) => r.filter(f).reduce((a, e) => a + e.transferSize, 0);
             return { page: n.transferSize, assets: sum(e => e.name.includes('/static/')),
                      basemap10m: sum(e => e.name.includes('10m')), stream: vw.streamBytes };",
            vec![],
        )
        .await
        .unwrap();
    c.execute("vw.map.jumpTo({ center: [18, 37], zoom: 4.5 });", vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Panning over the still fleet, then over a moving one.
    let pan = "const done = arguments[0]; let n = 0; const t0 = performance.now();
             const tick = () => { n += 1; if (performance.now() - t0 < DURATION) requestAnimationFrame(tick);
               else done({ frames: n, ms: performance.now() - t0, updates: vw.updates }); };
             vw.map.easeTo({ center: CENTER, zoom: ZOOM, duration: DURATION });
             requestAnimationFrame(tick);";
    // The same pan without the vessel layers: what the basemap and fences alone cost here.
    let layers = |v: &str| {
        format!(
            "for (const l of ['vessels', 'vessels-still', 'vessels-far']) vw.map.setLayoutProperty(l, 'visibility', '{v}');"
        )
    };
    c.execute(&layers("none"), vec![]).await.unwrap();
    let bare = c
        .execute_async(
            &pan.replace("DURATION", "5000")
                .replace("CENTER", "[10, 38]")
                .replace("ZOOM", "4.8"),
            vec![],
        )
        .await
        .unwrap();
    println!(
        "panning 5 s without vessels: {:.1} frames/s",
        bare["frames"].as_f64().unwrap() / bare["ms"].as_f64().unwrap() * 1000.0
    );
    c.execute(&layers("visible"), vec![]).await.unwrap();
    let cpu_before = browser_cpu_seconds(&profile);
    let still = c
        .execute_async(
            &pan.replace("DURATION", "8000")
                .replace("CENTER", "[12, 38]")
                .replace("ZOOM", "5"),
            vec![],
        )
        .await
        .unwrap();
    let still_cpu = browser_cpu_seconds(&profile) - cpu_before;
    let still_ms = still["ms"].as_f64().unwrap();
    println!(
        "panning 8 s over {VESSELS} still vessels: {:.1} frames/s, browser CPU {:.2} cores",
        still["frames"].as_f64().unwrap() / still_ms * 1000.0,
        still_cpu / (still_ms / 1000.0)
    );

    // 5,000 vessels move each second, written as the daemon's writer would (a new batch number).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut c = rusqlite::Connection::open(&db).unwrap();
            let mut step = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tx = c.transaction().unwrap();
                for k in 0..MOVING {
                    let i = (step * MOVING + k) % VESSELS;
                    let (lat, lon) = place(i, step);
                    tx.execute(
                        "UPDATE vessels SET lat = ?2, lon = ?3, fix_time = ?4, last_seen = ?4,
                         changed = ?5 WHERE mmsi = ?1",
                        rusqlite::params![
                            200_000_000 + i,
                            lat,
                            lon,
                            base + i64::from(step) * 1000,
                            i64::from(step) + 1
                        ],
                    )
                    .unwrap();
                }
                tx.commit().unwrap();
                step += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let bytes_before = c.execute("return vw.streamBytes;", vec![]).await.unwrap();
    let cpu_before = browser_cpu_seconds(&profile);
    let frames = c
        .execute_async(
            &pan.replace("DURATION", "10000")
                .replace("CENTER", "[25, 35]")
                .replace("ZOOM", "5.5"),
            vec![],
        )
        .await
        .unwrap();
    let cpu = browser_cpu_seconds(&profile) - cpu_before;
    let bytes_after = c.execute("return vw.streamBytes;", vec![]).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let ms = frames["ms"].as_f64().unwrap();
    println!("vessels on the map: {count}");
    println!(
        "first fleet drawn: {:.0} ms after navigation start",
        first.as_f64().unwrap()
    );
    println!("transferred: {weight}");
    println!(
        "while panning 10 s with {MOVING} of {VESSELS} vessels moving each second: {:.1} frames/s, browser CPU {:.2} cores, {} stream updates, {:.0} kB/s of stream data",
        frames["frames"].as_f64().unwrap() / ms * 1000.0,
        cpu / (ms / 1000.0),
        frames["updates"],
        (bytes_after.as_f64().unwrap() - bytes_before.as_f64().unwrap()) / ms
    );
    c.close().await.unwrap();
}
