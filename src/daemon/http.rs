//! The daemon's HTTP endpoint (axum): `/healthz`, `/readyz`, `/metrics` (OpenMetrics text,
//! rendered by [`metrics`]), `/api/vessels` and `/api/events?since=`.
//!
//! Owns presenting the daemon's state to operators and monitoring. Reads only: the pipeline's
//! published snapshot, the sources' counters, and the database through read-only connections.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::shutdown::Shutdown;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{Shared, metrics};
use crate::store::{self, outbox, query};
use vesselwatch_ais::time::UnixMillis;

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
pub async fn serve(
    addr: String,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
) -> Result<(), HttpError> {
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/vessels", get(vessels))
        .route("/api/events", get(events))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: addr.clone(),
            source,
        })?;
    tracing::info!(%addr, "HTTP endpoint listening.");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.recv().await })
        .await
        .map_err(HttpError::Serve)
}

/// Why the HTTP endpoint stopped: health checks and metrics are how a supervisor sees the daemon,
/// so the daemon stops with it.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address cannot be bound.
    #[error("cannot serve HTTP on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed.
    #[error("the HTTP endpoint failed")]
    Serve(#[source] std::io::Error),
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let fresh = crate::clock::now().0 - s.heartbeat.load(Ordering::Relaxed) < 5_000;
    let store_stalled = s.waiting_on_store.load(Ordering::Relaxed) && !fresh;
    let failing_since = s.store.failing_since_ms.load(Ordering::Relaxed);
    let down: Vec<&str> = s
        .source_names
        .iter()
        .zip(&s.source_stats)
        .filter(|(_, st)| st.up.load(Ordering::Relaxed) == 0)
        .map(|(n, _)| n.as_str())
        .collect();
    let store = read(&s, |_| Ok(())).await.is_ok();
    if fresh && down.is_empty() && store && failing_since == 0 {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let writes = match failing_since {
            0 => "ok".to_string(),
            t => format!("failing since {}", UnixMillis(t)),
        };
        let why = format!(
            "not ready: pipeline turning {fresh}, store stalled {store_stalled}, store writes {writes}, store readable {store}, sources down {down:?}\n"
        );
        (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
    }
}

/// `/metrics`: reads the outbox figures from the database here, then renders everything in
/// [`metrics::render`], which does no I/O.
async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let store = metrics::StoreFigures {
        undelivered: read(&s, outbox::undelivered).await.unwrap_or_default(),
    };
    let now = crate::clock::now();
    let body = metrics::render(&s, &store, now);
    ([("content-type", metrics::CONTENT_TYPE)], body).into_response()
}

/// How long a request waits for the database before it answers 503: a database locked by another
/// process (or a slow disk) must not hold HTTP clients, or the runtime, for its busy timeout.
const READ_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a read query on a fresh read-only connection, on a blocking thread: SQLite waits for locks
/// by sleeping, which on the runtime's workers would stall every source with it (two scrapes of
/// `/metrics` during a lock stopped all ingest). A failure or a wait beyond [`READ_LIMIT`] is the
/// message for a 503.
async fn read<T: Send + 'static>(
    s: &Shared,
    q: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    let db = s.db.clone();
    let work = tokio::task::spawn_blocking(move || {
        store::open_read_only(&db)
            .map_err(|e| crate::error::Chain(&e).to_string())
            .and_then(|c| q(&c).map_err(|e| e.to_string()))
    });
    match tokio::time::timeout(READ_LIMIT, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("the database read failed: {e}")),
        Err(_) => Err(format!(
            "the database did not answer within {READ_LIMIT:?} (locked or slow)"
        )),
    }
}

async fn vessels(State(s): State<Arc<Shared>>) -> Response {
    match read(&s, |c| query::vessels(c, &query::Filter::default())).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<String>,
}

async fn events(State(s): State<Arc<Shared>>, Query(q): Query<EventsQuery>) -> Response {
    let since = match q.since.as_deref().map(UnixMillis::parse_rfc3339_strict) {
        Some(None) => {
            return (
                StatusCode::BAD_REQUEST,
                "since must be an RFC 3339 time with its offset, e.g. 2025-01-25T00:00:00Z\n",
            )
                .into_response();
        }
        Some(t) => t,
        None => None,
    };
    let filter = query::Filter {
        since,
        ..query::Filter::default()
    };
    match read(&s, move |c| query::events(c, &filter)).await {
        // The stored records are the event JSON already: join them into an array.
        Ok(records) => (
            [("content-type", "application/json")],
            format!("[{}]", records.join(",")),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}
