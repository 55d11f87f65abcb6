//! Webhook delivery benchmark (a plain harness: one run, figures printed).
//!
//! 1. Throughput: 5,000 queued alerts delivered to a local axum receiver on 127.0.0.1; alerts/s.
//!    Target: at least 2,000/s.
//! 2. Latency: 500 events committed one at a time (the daemon's path: commit, wake, read, POST) with
//!    the worker idle; time from the commit call to the POST arriving, p50 and p99. Target: p99 at
//!    most 50 ms.
//!
//! Run: `cargo bench --bench webhooks`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vesselwatch::alerts::delivery::{Delivery, Endpoint};
use vesselwatch::config::WebhookFormat;
use vesselwatch::store::{self, Batch, Writer};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::{Event, EventKind};

#[path = "../tests/common/mod.rs"]
mod common;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn receiver() -> (std::net::SocketAddr, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let a = Arc::clone(&arrivals);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let a = Arc::clone(&a);
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_string();
                a.lock().unwrap().insert(id, Instant::now());
                "ok"
            }
        }),
    );
    (common::serve_app(0, app), arrivals)
}

fn event(i: u64) -> Event {
    Event {
        id: format!("{i:016x}"),
        kind: EventKind::Departure,
        time: UnixMillis(1_700_000_000_000 + i as i64),
        mmsi: 273_000_000 + (i % 1000) as u32,
        imo: None,
        name: Some("BENCH".into()),
        callsign: None,
        label: None,
        group: None,
        fence: "tartus-port".into(),
        lat: Some(34.9),
        lon: Some(35.8),
        sog: Some(10.0),
        inferred: false,
        crossing_time: None,
        window_start: None,
        window_end: None,
        other_side: None,
        direction: None,
        visit_start: None,
        change: None,
        encounter: None,
        pattern: None,
    }
}

fn batch(events: Vec<Event>) -> Batch {
    Batch {
        alerts: events
            .iter()
            .map(|e| (e.id.clone(), "bench".to_string()))
            .collect(),
        events,
        ..Batch::default()
    }
}

fn wait_for(arrivals: &Arrivals, n: usize, limit: Duration) {
    let t = Instant::now();
    while arrivals.lock().unwrap().len() < n && t.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (addr, arrivals) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let writer = Arc::new(Writer::spawn(
        store::open(&db).unwrap(),
        db.clone(),
        64,
        None,
    ));
    let endpoint = Endpoint {
        name: "bench".into(),
        url: format!("http://{addr}/hook"),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        format: WebhookFormat::Standard,
        timeout: Duration::from_secs(10),
        max_age_ms: 3_600_000,
        retry_initial: Duration::from_millis(100),
    };

    // 1. Throughput.
    const N: u64 = 5_000;
    writer
        .send_and_wait(batch((0..N).map(event).collect()))
        .unwrap();
    let start = Instant::now();
    // The worker runs on a runtime, as in the daemon.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let delivery = {
        let _entered = runtime.enter();
        Delivery::start(vec![endpoint], db.clone(), Arc::clone(&writer)).unwrap()
    };
    delivery.wake();
    wait_for(&arrivals, N as usize, Duration::from_secs(120));
    let took = start.elapsed();
    let got = arrivals.lock().unwrap().len();
    println!(
        "throughput: {got} alerts delivered in {:.3} s = {:.0} alerts/s",
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );

    // 2. Latency, one event at a time.
    let mut lat = Vec::new();
    for i in 0..500u64 {
        let e = event(1_000_000 + i);
        let id = e.id.clone();
        let t0 = Instant::now();
        writer.send_and_wait(batch(vec![e])).unwrap();
        delivery.wake();
        wait_for(&arrivals, (N + i + 1) as usize, Duration::from_secs(10));
        if let Some(at) = arrivals.lock().unwrap().get(&id) {
            lat.push(at.duration_since(t0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "latency, commit to POST ({} events): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    runtime.block_on(delivery.stop());
}
