//! The daemon's HTTP endpoint (axum): `/healthz`, `/readyz`, `/metrics` (Prometheus text),
//! `/api/vessels` and `/api/events?since=`.
//!
//! Owns presenting the daemon's state to operators and monitoring. Reads only: the pipeline's
//! published snapshot, the sources' counters, and the database through read-only connections.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::shutdown::Shutdown;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Shared;
use crate::store::{self, outbox, query};
use vesselwatch_ais::frontend::Outcome;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::EventKind;

/// `[http]`: the section the HTTP endpoint owns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to serve on; empty turns the endpoint off. Loopback by default: metrics and the API
    /// are not for the open internet.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9110".into(),
        }
    }
}

impl HttpConfig {
    /// Checks that `listen` is an address and port (or empty).
    pub fn validate(&self) -> Result<(), vesselwatch_engine::settings::Invalid> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(vesselwatch_engine::settings::invalid(
                "http.listen",
                format!("{:?}", self.listen),
                "must be address:port, or empty to turn it off",
            ));
        }
        Ok(())
    }
}

/// Serves until shutdown.
pub async fn serve(addr: String, shared: Arc<Shared>, mut shutdown: Shutdown) {
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/vessels", get(vessels))
        .route("/api/events", get(events))
        .with_state(shared);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "Cannot serve HTTP; health and metrics are off.");
            return;
        }
    };
    tracing::info!(%addr, "HTTP endpoint listening.");
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.recv().await })
        .await;
}

fn now_ms() -> i64 {
    crate::clock::now().0
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let fresh = now_ms() - s.heartbeat.load(Ordering::Relaxed) < 5_000;
    let down: Vec<&str> = s
        .source_names
        .iter()
        .zip(&s.source_stats)
        .filter(|(_, st)| st.up.load(Ordering::Relaxed) == 0)
        .map(|(n, _)| n.as_str())
        .collect();
    let store = store::open_read_only(&s.db).is_ok();
    if fresh && down.is_empty() && store {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let why = format!(
            "not ready: watchdog fresh {fresh}, store readable {store}, sources down {down:?}\n"
        );
        (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let snap = s.snapshot.lock().expect("not poisoned").clone();
    let mut m = String::new();
    let now = now_ms();
    let _ = writeln!(m, "# TYPE vesselwatch_messages_total counter");
    for (i, name) in s.source_names.iter().enumerate() {
        let n = snap.messages_by_source.get(i).copied().unwrap_or(0);
        let _ = writeln!(m, "vesselwatch_messages_total{{source=\"{name}\"}} {n}");
    }
    let _ = writeln!(m, "# TYPE vesselwatch_decoded_total counter");
    for (t, n) in snap
        .counters
        .by_type
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
    {
        let _ = writeln!(m, "vesselwatch_decoded_total{{type=\"{t}\"}} {n}");
    }
    let _ = writeln!(m, "# TYPE vesselwatch_line_outcomes_total counter");
    for o in Outcome::ALL {
        let _ = writeln!(
            m,
            "vesselwatch_line_outcomes_total{{outcome=\"{}\"}} {}",
            o.name(),
            snap.counters.get(*o)
        );
    }
    let r = snap.counters.reassembly;
    let _ = writeln!(
        m,
        "# TYPE vesselwatch_fragments_pending gauge\nvesselwatch_fragments_pending {}",
        snap.fragments_pending
    );
    let _ = writeln!(m, "# TYPE vesselwatch_fragments_evicted_total counter");
    let _ = writeln!(
        m,
        "vesselwatch_fragments_evicted_total{{why=\"expired\"}} {}",
        r.expired
    );
    let _ = writeln!(
        m,
        "vesselwatch_fragments_evicted_total{{why=\"cap\"}} {}",
        r.evicted
    );
    let _ = writeln!(
        m,
        "vesselwatch_fragments_evicted_total{{why=\"superseded\"}} {}",
        r.superseded
    );
    let _ = writeln!(
        m,
        "# TYPE vesselwatch_vessels_tracked gauge\nvesselwatch_vessels_tracked {}",
        snap.vessels
    );
    let c = snap.clocks;
    let _ = writeln!(m, "# TYPE vesselwatch_messages_timed_total counter");
    for src in vesselwatch_engine::feedclock::ClockSource::ALL {
        let _ = writeln!(
            m,
            "vesselwatch_messages_timed_total{{clock=\"{}\"}} {}",
            src.name(),
            c.timed_by[src as usize]
        );
    }
    let _ = writeln!(m, "# TYPE vesselwatch_times_rejected_total counter");
    for (why, n) in [("ahead", c.rejected_ahead), ("behind", c.rejected_behind)] {
        let _ = writeln!(m, "vesselwatch_times_rejected_total{{why=\"{why}\"}} {n}");
    }
    let _ = writeln!(
        m,
        "# TYPE vesselwatch_base_station_times_ignored_total counter\nvesselwatch_base_station_times_ignored_total {}",
        c.stations_ignored
    );
    let _ = writeln!(
        m,
        "# TYPE vesselwatch_clock_jumps_total counter\nvesselwatch_clock_jumps_total {}",
        c.jumps
    );
    if let Some(t) = snap.feed_time {
        // How far the feed's own time is behind the wall clock: a delayed or stalled feed shows here.
        let _ = writeln!(
            m,
            "# TYPE vesselwatch_feed_lag_seconds gauge\nvesselwatch_feed_lag_seconds {:.3}",
            (now - t.0) as f64 / 1000.0
        );
    }
    let _ = writeln!(m, "# TYPE vesselwatch_events_total counter");
    for (k, n) in EventKind::ALL.iter().zip(snap.engine.events) {
        let _ = writeln!(m, "vesselwatch_events_total{{kind=\"{}\"}} {n}", k.as_str());
    }
    let t = snap.engine.tracker;
    let _ = writeln!(m, "# TYPE vesselwatch_reports_dropped_total counter");
    for (why, n) in [
        ("duplicate", t.duplicates),
        ("stale", t.stale),
        ("quarantined", t.quarantined),
    ] {
        let _ = writeln!(m, "vesselwatch_reports_dropped_total{{why=\"{why}\"}} {n}");
    }
    let _ = writeln!(m, "# TYPE vesselwatch_source_up gauge");
    for (name, st) in s.source_names.iter().zip(&s.source_stats) {
        let _ = writeln!(
            m,
            "vesselwatch_source_up{{source=\"{name}\"}} {}",
            st.up.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            m,
            "vesselwatch_source_bytes_total{{source=\"{name}\"}} {}",
            st.bytes.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            m,
            "vesselwatch_source_drops_total{{source=\"{name}\"}} {}",
            st.drops.load(Ordering::Relaxed)
        );
        let last = st.last_data_ms.load(Ordering::Relaxed);
        if last > 0 {
            let _ = writeln!(
                m,
                "vesselwatch_source_last_data_age_seconds{{source=\"{name}\"}} {:.3}",
                (now - last) as f64 / 1000.0
            );
        }
    }
    if let Ok(conn) = store::open_read_only(&s.db) {
        let _ = writeln!(m, "# TYPE vesselwatch_outbox_undelivered gauge");
        for (w, n) in outbox::undelivered(&conn).unwrap_or_default() {
            let _ = writeln!(m, "vesselwatch_outbox_undelivered{{webhook=\"{w}\"}} {n}");
        }
    }
    for (w, st) in s.deliveries.lock().expect("not poisoned").iter() {
        let _ = writeln!(
            m,
            "vesselwatch_webhook_delivered_total{{webhook=\"{w}\"}} {}",
            st.delivered.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            m,
            "vesselwatch_webhook_retries_total{{webhook=\"{w}\"}} {}",
            st.retries.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            m,
            "vesselwatch_webhook_dead_total{{webhook=\"{w}\"}} {}",
            st.dead.load(Ordering::Relaxed)
        );
    }
    ([("content-type", "text/plain; version=0.0.4")], m).into_response()
}

/// Runs a read query on a fresh read-only connection; a failure is the message for a 503.
fn read<T>(
    s: &Shared,
    q: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, String> {
    store::open_read_only(&s.db)
        .map_err(|e| e.to_string())
        .and_then(|c| q(&c).map_err(|e| e.to_string()))
}

async fn vessels(State(s): State<Arc<Shared>>) -> Response {
    match read(&s, |c| query::vessels(c, &query::Filter::default())) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<String>,
}

async fn events(State(s): State<Arc<Shared>>, Query(q): Query<EventsQuery>) -> Response {
    let since = match q
        .since
        .as_deref()
        .map(|t| UnixMillis::parse_rfc3339(t.as_bytes()))
    {
        Some(None) => {
            return (StatusCode::BAD_REQUEST, "since must be an RFC 3339 time\n").into_response();
        }
        Some(t) => t,
        None => None,
    };
    let filter = query::Filter {
        since,
        ..query::Filter::default()
    };
    match read(&s, |c| query::events(c, &filter)) {
        // The stored records are the event JSON already: join them into an array.
        Ok(records) => (
            [("content-type", "application/json")],
            format!("[{}]", records.join(",")),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}
