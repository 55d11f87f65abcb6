//! Daemon benchmarks (a plain harness: one run, figures printed), with the real release binary.
//!
//! 1. Ingest: about a million real sentences (gpsd's and pyais's samples repeated, with log
//!    timestamps) sent over TCP from a local sender as fast as it can, every vessel monitored, events
//!    and the store on. Sentences/s until every line is accounted for in /metrics (count in = count
//!    out), with the CPU time and peak memory of the daemon. Target: at least 200,000 sentences/s.
//! 2. Latency: a vessel crossing a fence boundary 200 times, one sentence at a time; the time from
//!    writing the deciding sentence to the socket to its webhook POST arriving. Reported: p50, p99.
//!
//! Run: `cargo build --release && cargo bench --bench daemon`; `VESSELWATCH_BIN=path` runs another
//! build of the binary instead.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vesselwatch_ais::encode::{self, PositionReport};
#[path = "../tests/util/mod.rs"]
mod util;
use util::{free_port, root};

#[path = "../tests/common/mod.rs"]
mod common;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The real sentences of the samples, repeated to about `n` lines, with increasing log timestamps.
fn feed(n: usize) -> Vec<u8> {
    let mut one = Vec::new();
    for f in [
        "conformance/sample.aivdm",
        "conformance/ais-nmea.log",
        "conformance/ais-18-27.log",
        "pyais/nmea_data_sample.txt",
    ] {
        let text = std::fs::read_to_string(root().join("fixtures").join(f)).unwrap();
        one.extend(
            text.lines()
                .filter(|l| l.starts_with("!AIVD"))
                .map(|l| l.trim_end().to_string()),
        );
    }
    let mut out = Vec::new();
    for i in 0..n {
        writeln!(
            out,
            "{} {}",
            1_700_000_000_000u64 + i as u64 * 50,
            one[i % one.len()]
        )
        .unwrap();
    }
    out
}

fn metric_sum(port: u16, name: &str) -> u64 {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn proc_stats(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm)
}

fn daemon(dir: &Path, body: &str) -> std::process::Child {
    let cfg = dir.join("bench.toml");
    std::fs::write(&cfg, body).unwrap();
    // VESSELWATCH_BIN compares another build (an earlier commit's) on the same harness.
    let bin = std::env::var_os("VESSELWATCH_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/vesselwatch"));
    assert!(
        bin.exists(),
        "build the release binary first: cargo build --release"
    );
    Command::new(bin)
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(dir.join("bench.db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn receiver() -> (std::net::SocketAddr, Arc<Mutex<HashMap<String, Instant>>>) {
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let a = Arc::clone(&arrivals);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let a = Arc::clone(&a);
            async move {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let t = v["data"]["time"].as_str().unwrap_or("").to_string();
                a.lock().unwrap().insert(t, Instant::now());
                "ok"
            }
        }),
    );
    (common::serve_app(0, app), arrivals)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // 1. Ingest.
    let lines = 1_000_000;
    let data = feed(lines);
    let sender = TcpListener::bind("127.0.0.1:0").unwrap();
    let feed_addr = sender.local_addr().unwrap();
    let http = free_port();
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("config/vesselwatch.toml")).unwrap();
    let fences = shipped[shipped.find("[[fences]]").unwrap()..].replace(
        "geojson = \"fences/",
        &format!("geojson = \"{}/config/fences/", root().display()),
    );
    let mut child = daemon(
        dir.path(),
        &format!(
            "[monitor]\nvessels = \"all\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [[sources]]\nname = \"feed\"\ntype = \"tcp\"\naddress = \"{feed_addr}\"\n{fences}"
        ),
    );
    let (mut conn, _) = sender.accept().unwrap();
    let start = Instant::now();
    conn.write_all(&data).unwrap();
    let sent = start.elapsed();
    // Every line accounted for: decoded, buffered as a fragment, or rejected with a reason.
    let t = Instant::now();
    while metric_sum(http, "vesselwatch_line_outcomes_total") < lines as u64
        && t.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let counted = metric_sum(http, "vesselwatch_line_outcomes_total");
    let (cpu, hwm) = proc_stats(child.id());
    println!(
        "ingest: {lines} sentences over TCP, {counted} accounted for, in {:.3} s = {:.0} sentences/s \
         (sender done after {:.3} s); daemon CPU {cpu:.2} s, peak RSS {hwm} KB",
        took.as_secs_f64(),
        lines as f64 / took.as_secs_f64(),
        sent.as_secs_f64()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    // 2. Arrival to webhook POST.
    let (hook, arrivals) = receiver();
    let sender = TcpListener::bind("127.0.0.1:0").unwrap();
    let feed_addr = sender.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = daemon(
        dir.path(),
        &format!(
            "[monitor]\nvessels = \"all\"\n[http]\nlisten = \"\"\n\
             [[sources]]\nname = \"feed\"\ntype = \"tcp\"\naddress = \"{feed_addr}\"\n\
             [[fences]]\nname = \"port\"\nkind = \"port\"\ncenter = {{ lat = 34.9, lon = 35.87 }}\nradius_km = 1\n\
             [[webhooks]]\nname = \"bench\"\nurl = \"http://{hook}/hook\"\nsecret = \"{SECRET}\"\nevents = [\"arrival\", \"departure\"]\n"
        ),
    );
    let (mut conn, _) = sender.accept().unwrap();
    conn.set_nodelay(true).unwrap();
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let t0 = 1_700_000_000i64;
    for i in 0..401i64 {
        let inside = i % 2 == 0;
        let (lat, lon) = if inside { (34.9, 35.87) } else { (34.9, 35.80) };
        let time = t0 + i * 600;
        let (payload, fill) = encode::position(&PositionReport {
            msg_type: 1,
            mmsi: 273_000_777,
            status: 0,
            speed: Some(8.0),
            lat,
            lon,
            course: Some(90.0),
            heading: Some(90),
            second: 0,
        })
        .armour();
        let line = encode::sentences(&payload, fill, 'A', 0, "rBENCH", time, 0).remove(0) + "\n";
        let key = vesselwatch_ais::time::UnixMillis(time * 1000).to_string();
        sent_at.insert(key, Instant::now());
        conn.write_all(line.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    let arrived = arrivals.lock().unwrap().clone();
    let mut lat: Vec<Duration> = arrived
        .iter()
        .filter_map(|(t, at)| Some(at.duration_since(*sent_at.get(t)?)))
        .collect();
    lat.sort();
    if !lat.is_empty() {
        let p =
            |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3;
        println!(
            "arrival to webhook POST: {} events, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lat.len(),
            p(0.5),
            p(0.99),
            lat.last().unwrap().as_secs_f64() * 1e3
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
