//! Webhook delivery against a real HTTP receiver (axum on 127.0.0.1), with the real binary:
//! retries on 500s, 429 and 503 with `Retry-After`, timeouts, 410, an endpoint down then up, and a
//! process killed with alerts pending. Every request's signature is checked by the independent
//! `standardwebhooks` crate.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
mod util;
use util::root;

mod common;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver answers, request by request; after the script, 200.
#[derive(Clone, Debug)]
enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Sleep(Duration),
    Redirect(u16, String),
    RetryAfterRaw(u16, &'static str),
}

#[derive(Clone, Debug)]
struct Received {
    id: String,
    body: String,
    at: Instant,
    verified: bool,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Reply>>>,
    always: Arc<Mutex<Option<u16>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let verified = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&body, &headers)
        .is_ok();
    s.received.lock().unwrap().push(Received {
        id: headers
            .get("webhook-id")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        verified,
    });
    if let Some(code) = *s.always.lock().unwrap() {
        return StatusCode::from_u16(code).unwrap().into_response();
    }
    let next = s.script.lock().unwrap().pop_front();
    match next {
        Some(Reply::Status(c)) => StatusCode::from_u16(c).unwrap().into_response(),
        Some(Reply::RetryAfter(c, secs)) => (
            StatusCode::from_u16(c).unwrap(),
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Some(Reply::Redirect(c, to)) => {
            (StatusCode::from_u16(c).unwrap(), [("location", to)]).into_response()
        }
        Some(Reply::RetryAfterRaw(c, v)) => {
            (StatusCode::from_u16(c).unwrap(), [("retry-after", v)]).into_response()
        }
        Some(Reply::Sleep(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        None => StatusCode::OK.into_response(),
    }
}

/// A receiver on 127.0.0.1 (on `port`, or any free port), running on its own runtime thread.
fn receiver(port: u16, script: Vec<Reply>) -> (SocketAddr, Shared) {
    let shared = Shared::default();
    shared.script.lock().unwrap().extend(script);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(shared.clone());
    (common::serve_app(port, app), shared)
}

/// A config with the Tartus port fence, every vessel monitored, and one webhook for departures and
/// arrivals. The boundary-noise fixture then gives two alerts: SHUTTLE's departure and arrival.
fn config(dir: &Path, addr: SocketAddr, extra: &str) -> PathBuf {
    let path = dir.join("vesselwatch.toml");
    let fences = root().join("config/fences/tartus-port.geojson");
    std::fs::write(
        &path,
        format!(
            "[monitor]\nvessels = \"all\"\n\
             [[fences]]\nname = \"tartus-port\"\nkind = \"port\"\ngeojson = {fences:?}\n\
             [[webhooks]]\nname = \"ops\"\nurl = \"http://{addr}/hook\"\nsecret = \"{SECRET}\"\n\
             events = [\"departure\", \"arrival\"]\nretry_initial = \"100ms\"\n{extra}\n"
        ),
    )
    .unwrap();
    path
}

fn feed() -> PathBuf {
    root().join("fixtures/boundary-noise/feed.nmea")
}

fn replay(cfg: &Path, db: &Path, wait: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vesselwatch"));
    c.args(["replay", "--send-alerts", "--wait", wait, "--config"])
        .arg(cfg)
        .arg("--db")
        .arg(db)
        .arg(feed())
        .stdout(Stdio::null());
    c
}

/// Starts a replay that sends alerts and kills it (SIGKILL) once the receiver has had `requests`
/// requests (or after 20 s).
fn replay_killed_after(cfg: &Path, db: &Path, shared: &Shared, requests: usize) {
    let mut child = replay(cfg, db, "60s")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while shared.received.lock().unwrap().len() < requests
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn run(cfg: &Path, db: &Path, wait: &str) -> String {
    let out = replay(cfg, db, wait).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn statuses(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut s = c
        .prepare("SELECT status FROM alerts ORDER BY event_time, id")
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The distinct webhook-ids received, in order of first receipt.
fn ids(shared: &Shared) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in shared.received.lock().unwrap().iter() {
        if !out.contains(&r.id) {
            out.push(r.id.clone());
        }
    }
    out
}

fn assert_all_verified(shared: &Shared) {
    let r = shared.received.lock().unwrap();
    assert!(!r.is_empty());
    assert!(
        r.iter().all(|x| x.verified),
        "a signature failed verification"
    );
}

#[test]
fn server_errors_then_success_deliver_once_each_in_order() {
    let (addr, shared) = receiver(0, vec![Reply::Status(500), Reply::Status(502)]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let stderr = run(&config(dir.path(), addr, ""), &db, "30s");
    assert!(!stderr.contains("not delivered yet"), "{stderr}");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    let received = shared.received.lock().unwrap().clone();
    assert_eq!(
        received.len(),
        4,
        "two failures, then one success per alert"
    );
    // The failing alert is retried before the next one is sent: event order holds.
    assert_eq!(received[0].id, received[1].id);
    assert_eq!(received[1].id, received[2].id);
    assert_ne!(received[2].id, received[3].id);
    let first: serde_json::Value = serde_json::from_str(&received[2].body).unwrap();
    let second: serde_json::Value = serde_json::from_str(&received[3].body).unwrap();
    assert_eq!(first["type"], "vessel.departure");
    assert_eq!(second["type"], "vessel.arrival");
    assert_eq!(first["data"]["vessel"]["name"], "SHUTTLE");
    assert_eq!(first["data"]["fence"], "tartus-port");
    assert!(first["data"]["crossing_time"].is_string());
    assert_all_verified(&shared);
}

#[test]
fn too_many_requests_and_unavailable_honour_retry_after() {
    let (addr, shared) = receiver(
        0,
        vec![Reply::RetryAfter(429, 1), Reply::RetryAfter(503, 1)],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    run(&config(dir.path(), addr, ""), &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    let r = shared.received.lock().unwrap().clone();
    assert!(
        r[1].at - r[0].at >= Duration::from_millis(950),
        "{:?}",
        r[1].at - r[0].at
    );
    assert!(
        r[2].at - r[1].at >= Duration::from_millis(950),
        "{:?}",
        r[2].at - r[1].at
    );
    assert_all_verified(&shared);
}

/// Regression (issue 11, item 13): outcomes were committed once per window of up to 64 alerts,
/// so a crash re-sent the whole window (377 POSTs for 240 alerts over repeated restarts). Each
/// outcome is now committed before the next request: a crash re-sends at most the one in flight.
#[test]
fn a_crash_resends_at_most_the_request_in_flight() {
    let (addr, shared) = receiver(0, vec![Reply::Sleep(Duration::from_millis(300)); 10]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), addr, "");
    // Every kind the boundary-noise fixture has: two `present`, a departure and an arrival.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "events = [\"departure\", \"arrival\"]",
        "events = [\"present\", \"departure\", \"arrival\"]",
    );
    std::fs::write(&cfg, text).unwrap();
    let db = dir.path().join("w.db");
    replay_killed_after(&cfg, &db, &shared, 3);
    run(&cfg, &db, "30s");
    assert_eq!(statuses(&db), ["delivered"; 4]);
    let received = shared.received.lock().unwrap().clone();
    assert_eq!(ids(&shared).len(), 4, "every alert arrived");
    assert!(
        received.len() <= 5,
        "at most the one request in flight at the kill is sent twice: {} requests",
        received.len()
    );
    assert_all_verified(&shared);
}

/// Regression: a 301/307 was followed to another host, which then received the signed headers
/// (and, with 307, the body), and the alert counted as delivered.
#[test]
fn a_redirect_is_never_followed_and_is_retried_with_the_reason_in_the_outbox() {
    let (elsewhere, other) = receiver(0, vec![]);
    let to = format!("http://{elsewhere}/hook");
    let (addr, shared) = receiver(
        0,
        vec![
            Reply::Redirect(301, to.clone()),
            Reply::Redirect(307, to.clone()),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    run(&config(dir.path(), addr, ""), &db, "30s");
    assert_eq!(
        other.received.lock().unwrap().len(),
        0,
        "the other host got nothing"
    );
    let r = shared.received.lock().unwrap().clone();
    assert_eq!(
        r.len(),
        4,
        "two redirects retried, then one delivery per alert"
    );
    assert_eq!(r[0].id, r[2].id);
    assert_eq!(statuses(&db), ["delivered", "delivered"]);

    // An endpoint that always redirects: the outbox says why.
    let (addr, always) = receiver(0, vec![]);
    *always.always.lock().unwrap() = Some(302);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r2.db");
    replay(&config(dir.path(), addr, ""), &db, "1s")
        .output()
        .unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let last: String = c
        .query_row(
            "SELECT last_error FROM alerts ORDER BY event_time, id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        last.contains("HTTP 302") && last.contains("not followed"),
        "{last}"
    );
    assert_eq!(
        statuses(&db),
        ["failed", "pending"],
        "the first is being retried"
    );
}

/// Regression: `Retry-After: 18446744073709551615` wrapped to a negative delay, and one alert was
/// sent 7,051 times in 8 s. A wait beyond `max_age` now dead-letters the alert at once.
#[test]
fn a_retry_after_beyond_max_age_dead_letters_instead_of_wrapping() {
    let (addr, shared) = receiver(0, vec![Reply::RetryAfterRaw(503, "18446744073709551615")]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ra.db");
    run(&config(dir.path(), addr, ""), &db, "5s");
    assert_eq!(statuses(&db), ["dead", "delivered"]);
    assert_eq!(
        shared.received.lock().unwrap().len(),
        2,
        "one request per alert"
    );
}

#[test]
fn a_timeout_is_retried() {
    let (addr, shared) = receiver(0, vec![Reply::Sleep(Duration::from_secs(2))]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    run(&config(dir.path(), addr, "timeout = \"300ms\""), &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(shared.received.lock().unwrap().len(), 3);
}

#[test]
fn gone_disables_the_endpoint_and_keeps_the_alerts() {
    let (addr, shared) = receiver(0, vec![Reply::Status(410)]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let stderr = run(&config(dir.path(), addr, ""), &db, "5s");
    assert!(stderr.contains("ENDPOINT GONE"), "{stderr}");
    assert_eq!(
        shared.received.lock().unwrap().len(),
        1,
        "nothing is sent after a 410"
    );
    assert_eq!(statuses(&db), ["pending", "pending"]);
    let c = rusqlite::Connection::open(&db).unwrap();
    let disabled: bool = c
        .query_row(
            "SELECT disabled FROM webhooks WHERE name = 'ops'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(disabled);
}

#[test]
fn an_endpoint_down_then_up_gets_everything() {
    // A port that nothing listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let child = replay(&config(dir.path(), addr, ""), &db, "30s")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (_, shared) = receiver(port, vec![]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(ids(&shared).len(), 2);
    assert_all_verified(&shared);
}

#[test]
fn killed_with_alerts_pending_then_restarted_delivers_every_alert() {
    let (addr, shared) = receiver(0, vec![]);
    *shared.always.lock().unwrap() = Some(503);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), addr, "");
    let db = dir.path().join("f.db");
    // The alerts are queued and being retried when it is killed.
    replay_killed_after(&cfg, &db, &shared, 3);
    assert_eq!(
        statuses(&db).len(),
        2,
        "both alerts were queued before the kill"
    );
    assert!(
        statuses(&db)
            .iter()
            .all(|s| s == "failed" || s == "pending")
    );
    // The endpoint recovers; the same replay again finds no new events but sends what is queued.
    *shared.always.lock().unwrap() = None;
    run(&cfg, &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(
        ids(&shared).len(),
        2,
        "every alert arrived, with its stable webhook-id"
    );
    assert_all_verified(&shared);
}

fn vw(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn refused_alerts_are_dead_lettered_listed_and_retried() {
    let (addr, shared) = receiver(
        0,
        vec![Reply::Status(400), Reply::Status(400), Reply::Status(400)],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), addr, "");
    let db = dir.path().join("g.db");
    run(&cfg, &db, "30s");
    // The first alert was refused three times and dead-lettered; the second went through.
    assert_eq!(statuses(&db), ["dead", "delivered"]);
    let o = vw(&[
        "alerts".as_ref(),
        "--status".as_ref(),
        "dead".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(o.status.success());
    let listing = String::from_utf8(o.stdout).unwrap();
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert!(
        listing.contains("departure") && listing.contains("HTTP 400"),
        "{listing}"
    );
    let o = vw(&[
        "alerts".as_ref(),
        "retry".as_ref(),
        "--dead".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim(),
        "1 alert(s) requeued"
    );
    run(&cfg, &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(ids(&shared).len(), 2);
}

#[test]
fn webhook_test_sends_a_signed_test_event() {
    let (addr, shared) = receiver(0, vec![]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), addr, "");
    let o = vw(&[
        "webhook".as_ref(),
        "test".as_ref(),
        "ops".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("HTTP 200, accepted")
    );
    let r = shared.received.lock().unwrap().clone();
    assert_eq!(r.len(), 1);
    assert!(r[0].verified);
    assert!(r[0].body.contains("\"vessel.test\""));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "127.0.0.1:9".parse().unwrap(), "");
    let loaded = vesselwatch::config::Loaded::from_file(&cfg).unwrap();
    let debug = format!("{:?}", loaded.config.webhooks);
    assert!(!debug.contains("MfKQ9r8"), "{debug}");
    assert!(debug.to_lowercase().contains("redacted"), "{debug}");
    let bad = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(SECRET, "whsec_not!base64?secret");
    std::fs::write(&cfg, bad).unwrap();
    let e = vesselwatch::config::Loaded::from_file(&cfg)
        .unwrap_err()
        .to_string();
    assert!(!e.contains("not!base64"), "{e}");
    assert!(e.contains("webhooks[0].secret"), "{e}");
}

/// What a raw endpoint does with one request.
#[derive(Clone, Copy, Debug)]
enum Raw {
    /// `200 OK` with a 2 GiB body, written for as long as the client takes it.
    HugeBody,
    /// Part of a status line and headers, then the connection is closed.
    CloseMidHeaders,
    /// `200 OK`, empty.
    Ok,
}

/// An endpoint written on a bare socket, for answers no HTTP server library gives: one request per
/// connection, answered as `script` says (then `Ok`). Returns its address, the number of requests
/// and the most body bytes any one response got written before the client let go.
fn raw_receiver(
    script: Vec<Raw>,
) -> (
    SocketAddr,
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<std::sync::atomic::AtomicU64>,
) {
    use std::io::{BufRead, Read, Write};
    use std::sync::atomic::Ordering::Relaxed;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (n, w) = (Arc::clone(&requests), Arc::clone(&written));
    std::thread::spawn(move || {
        let mut script = VecDeque::from(script);
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            n.fetch_add(1, Relaxed);
            match script.pop_front().unwrap_or(Raw::Ok) {
                Raw::Ok => {
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                Raw::CloseMidHeaders => {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le");
                }
                Raw::HugeBody => {
                    let total: u64 = 2 << 30;
                    let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut sent = 0u64;
                    while sent < total && s.write_all(&chunk).is_ok() {
                        sent += chunk.len() as u64;
                    }
                    w.fetch_max(sent, Relaxed);
                }
            }
        }
    });
    (addr, requests, written)
}

/// Issue 11, webhooks: an endpoint that answers 200 with a 2 GiB body. The answer is the status;
/// the body is never read, so the delivery neither waits for it nor holds it in memory: both
/// alerts are delivered at the first attempt, and the endpoint could write only what the socket
/// buffers take before the client closed.
#[test]
fn a_2_gib_response_body_is_not_read() {
    let (addr, requests, written) = raw_receiver(vec![Raw::HugeBody, Raw::HugeBody]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("huge.db");
    run(&config(dir.path(), addr, "timeout = \"5s\""), &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 2);
    let most = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(most < 64 << 20, "{most} bytes of the body were taken");
}

/// Issue 11, webhooks: an endpoint that closes the connection in the middle of its response
/// headers has not answered; the alert is retried, and the outbox counts both attempts.
#[test]
fn a_connection_closed_mid_response_is_retried_and_recorded() {
    let (addr, requests, _) = raw_receiver(vec![Raw::CloseMidHeaders]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cut.db");
    run(&config(dir.path(), addr, ""), &db, "30s");
    assert_eq!(statuses(&db), ["delivered", "delivered"]);
    assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 3);
    let c = rusqlite::Connection::open(&db).unwrap();
    let attempts: Vec<i64> = c
        .prepare("SELECT attempts FROM alerts ORDER BY event_time, id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(attempts, [2, 1]);
}

/// Issue 11, secrets: a webhook URL that carries its credential (`/services/T0/B0/XXXX`, as Slack's
/// do) never appears in logs or in the outbox: reqwest names the URL in its errors, which went to
/// both.
#[test]
fn a_credential_in_the_webhook_url_is_never_logged_or_stored() {
    let closed = util::free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        ([127, 0, 0, 1], closed).into(),
        "timeout = \"200ms\"",
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("/hook\"", "/hook/T0/B0/TOKENxyz123\"");
    std::fs::write(&cfg, text).unwrap();
    let db = dir.path().join("u.db");
    let out = replay(&cfg, &db, "2s")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("TOKENxyz123"), "{stderr}");
    let c = rusqlite::Connection::open(&db).unwrap();
    // Alerts go out in order: the first is retried, the second waits behind it.
    let errors: Vec<Option<String>> = c
        .prepare("SELECT last_error FROM alerts ORDER BY event_time, id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(errors.len(), 2);
    let first = errors[0].as_deref().unwrap_or_default();
    assert!(
        first.contains("refused") && !first.contains("TOKENxyz123"),
        "{errors:?}"
    );
    assert_eq!(errors[1], None);
}
