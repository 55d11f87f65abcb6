//! The daemon's HTTP endpoint (axum): `/healthz`, `/readyz`, `/metrics` (OpenMetrics text,
//! rendered by [`metrics`]) and the `/api` routes of [`super::api`]; the transport they share
//! (connection cap, timeouts, the bearer token) and bounded database reads.
//!
//! Owns presenting the daemon's state to operators and monitoring. Reads only: the pipeline's
//! published snapshot, the sources' counters, and the database through read-only connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::shutdown::Shutdown;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{Shared, metrics};
use crate::store::{self, outbox};
use vesselwatch_ais::time::UnixMillis;

/// `[http]`: the section the HTTP endpoint owns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to serve on; empty turns the endpoint off. Loopback by default: metrics and the API
    /// are not for the open internet.
    pub listen: String,
    /// Connections served at once; one more is closed as soon as it is accepted (and counted).
    /// Without a cap, 1,100 half-sent requests held every descriptor and `/metrics` timed out.
    pub max_connections: usize,
    /// A file holding the bearer token every request but `/healthz` must carry. Required when
    /// `listen` is not a loopback address: the API and the map are then reachable from other
    /// hosts.
    pub token_file: Option<std::path::PathBuf>,
    /// An environment variable holding the token, instead of a file.
    pub token_env: Option<String>,
    /// An online tile layer for the map, as a URL template with `{z}`, `{x}` and `{y}` (for
    /// example OpenStreetMap's `https://tile.openstreetmap.org/{z}/{x}/{y}.png`). Off by default:
    /// the map's own basemap needs no network, and tiles tell their server what is watched.
    pub tiles: Option<String>,
    /// The tile layer's attribution, shown on the map (OpenStreetMap's licence requires it).
    pub tiles_attribution: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9110".into(),
            max_connections: 512,
            token_file: None,
            token_env: None,
            tiles: None,
            tiles_attribution: None,
        }
    }
}

impl HttpConfig {
    /// Checks that `listen` is an address and port (or empty), and the cap is usable.
    pub fn validate(&self) -> Result<(), vesselwatch_engine::settings::Invalid> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(vesselwatch_engine::settings::invalid(
                "http.listen",
                format!("{:?}", self.listen),
                "must be address:port, or empty to turn it off",
            ));
        }
        if self.token_file.is_some() && self.token_env.is_some() {
            return Err(vesselwatch_engine::settings::invalid(
                "http.token_file|token_env",
                "both",
                "give the token one way",
            ));
        }
        let remote = self
            .listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| !a.ip().is_loopback());
        if remote && self.token_file.is_none() && self.token_env.is_none() {
            return Err(vesselwatch_engine::settings::invalid(
                "http.listen",
                format!("{:?}", self.listen),
                "is reachable from other hosts: set http.token_file or http.token_env (a bearer \
                 token every request must carry), or listen on 127.0.0.1",
            ));
        }
        if let Some(t) = &self.tiles
            && (!(t.starts_with("https://") || t.starts_with("http://"))
                || !["{z}", "{x}", "{y}"].iter().all(|p| t.contains(p)))
        {
            return Err(vesselwatch_engine::settings::invalid(
                "http.tiles",
                format!("{t:?}"),
                "must be an http(s) URL template with {z}, {x} and {y}",
            ));
        }
        if !(1..=65_536).contains(&self.max_connections) {
            return Err(vesselwatch_engine::settings::invalid(
                "http.max_connections",
                self.max_connections.to_string(),
                "must be between 1 and 65536",
            ));
        }
        Ok(())
    }
}

/// The HTTP endpoint's counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections closed unserved: the cap was reached, or accepting failed (out of
    /// descriptors).
    pub rejected: AtomicU64,
    /// Connections closed for taking too long: request headers not sent within
    /// [`HEADER_TIMEOUT`], or open longer than [`CONNECTION_LIFETIME`].
    pub timed_out: AtomicU64,
    /// Database reads answered 503: no turn among the [`READERS`], or no answer, within
    /// [`READ_LIMIT`].
    pub reads_refused: AtomicU64,
}

/// How long a client may take to send a request's headers (each request on a kept-alive
/// connection too). A scrape sends them at once; a client that trickles them holds a descriptor.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may stay open; it is then closed after the request in progress.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// After being asked to close (lifetime or shutdown), how long a connection has to finish the
/// response in progress before it is dropped (a client that does not read its response).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The cookie a browser carries the token in: a page cannot set `Authorization` on its own
/// loads, its scripts' `<script src>` or its `EventSource`.
const TOKEN_COOKIE: &str = "vesselwatch_token";

/// Lets a request through when no token is configured, for `/healthz` (a liveness probe), or when
/// it carries the token (compared in constant time): as `Authorization: Bearer <token>`, or as the
/// cookie a browser got by opening `/?access_token=<token>` once (RFC 6750's query parameter,
/// answered with the cookie and a redirect to `/`, so that the token leaves the address bar).
/// Otherwise 401.
async fn authorise(
    State(token): State<Option<Arc<SecretString>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(token) = token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let expected = token.expose_secret().as_bytes();
    let matches =
        |given: &str| bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected));
    if request.uri().path() == "/"
        && let Some(given) = request.uri().query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find_map(|(k, v)| (k == "access_token").then_some(v))
        })
    {
        if !matches(&given) {
            return unauthorised();
        }
        let value =
            serde_urlencoded::to_string([(TOKEN_COOKIE, given.as_str())]).expect("strings encode");
        // Lax, not Strict: the link is often opened from another site (a chat, a mail), and a
        // Strict cookie would not come with the redirect that follows. The map and API only read.
        let cookie = format!("{value}; HttpOnly; SameSite=Lax; Path=/");
        return (
            StatusCode::SEE_OTHER,
            [
                (axum::http::header::LOCATION, "./".to_string()),
                (axum::http::header::SET_COOKIE, cookie),
                (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
            ],
        )
            .into_response();
    }
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = request
        .headers()
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(c.trim())
                .ok()?
                .into_iter()
                .find_map(|(k, v)| (k == TOKEN_COOKIE).then_some(v))
        });
    if bearer.is_some_and(matches) || cookie.as_deref().is_some_and(matches) {
        next.run(request).await
    } else {
        unauthorised()
    }
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
        "a bearer token is required (a browser: open /?access_token=TOKEN once)\n",
    )
        .into_response()
}

fn router(shared: Arc<Shared>, token: Option<SecretString>, stop: Shutdown) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(super::api::routes())
        .merge(super::web::routes())
        .with_state(shared)
        // Long responses (the map's stream) end at shutdown.
        .layer(axum::Extension(stop))
        .layer(axum::middleware::from_fn_with_state(
            token.map(Arc::new),
            authorise,
        ))
}

/// Serves until shutdown. Written on hyper's connection API rather than `axum::serve`, which
/// has no header timeout, no connection cap and no pause after a failed accept: the three
/// things that let 1,100 idle clients starve the endpoint.
pub async fn serve(
    config: HttpConfig,
    token: Option<SecretString>,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
) -> Result<(), HttpError> {
    let addr = config.listen.clone();
    let app = router(Arc::clone(&shared), token, shutdown.clone());
    let stats = Arc::clone(&shared.http);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: addr.clone(),
            source,
        })?;
    tracing::info!(%addr, max_connections = config.max_connections, "HTTP endpoint listening.");
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut pause = Duration::from_millis(100);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.recv() => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => {
                pause = Duration::from_millis(100);
                a
            }
            Err(e) => {
                // Out of descriptors (EMFILE): retrying at once would spin a core.
                let n = stats.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(error = %e, rejected = n, ?pause, "Accepting an HTTP connection failed; pausing.");
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.recv() => break,
                }
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: closed at once. Holding it until a slot frees would hold its descriptor,
            // which is what the cap is for.
            let n = stats.rejected.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(%peer, rejected = n, max = config.max_connections, "HTTP connection refused: at the connection cap.");
            }
            drop(stream);
            continue;
        };
        let (app, stats, stop) = (app.clone(), Arc::clone(&stats), shutdown.clone());
        connections.spawn(async move {
            let _permit = permit;
            stats.open.fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, peer, app, &stats, stop).await;
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Connections finish the request in progress; what is left after the grace is dropped.
    let _ = tokio::time::timeout(CLOSE_GRACE * 2, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// Serves one connection with a header timeout and a lifetime, closing it gracefully at
/// shutdown.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: axum::Router,
    stats: &HttpStats,
    mut stop: Shutdown,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(
        hyper_util::rt::TokioIo::new(stream),
        hyper_util::service::TowerToHyperService::new(app),
    );
    tokio::pin!(conn);
    let limit = tokio::time::sleep(CONNECTION_LIFETIME);
    tokio::pin!(limit);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    if e.is_timeout() {
                        stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error.");
                }
                return;
            }
            _ = &mut limit => {
                if closing {
                    tracing::debug!(%peer, "HTTP connection dropped: its response was not taken in time.");
                    return;
                }
                stats.timed_out.fetch_add(1, Ordering::Relaxed);
                conn.as_mut().graceful_shutdown();
                closing = true;
                limit.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            _ = stop.recv(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                limit.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
        }
    }
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
    let fresh = crate::clock::now()
        .0
        .saturating_sub(s.heartbeat.load(Ordering::Relaxed))
        < 5_000;
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
const READ_LIMIT: Duration = Duration::from_secs(2);

/// Database reads running at once. Each is a blocking thread and a connection; 200 clients each
/// reading the whole events table made the daemon 975 MB. More requests wait (within
/// [`READ_LIMIT`]) for a turn.
pub const READERS: usize = 4;

/// Runs a read query on a fresh read-only connection, on a blocking thread: SQLite waits for locks
/// by sleeping, which on the runtime's workers would stall every source with it (two scrapes of
/// `/metrics` during a lock stopped all ingest). At most [`READERS`] run at once; one that has
/// not answered within [`READ_LIMIT`] is interrupted, and the message is for a 503.
pub(super) async fn read<T: Send + 'static>(
    s: &Shared,
    q: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    let late = || {
        let n = s.http.reads_refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(refused = n, limit = ?READ_LIMIT, "An HTTP request's database read got no answer in time (locked, slow, or four reads already running); answered 503.");
        }
        format!("the database did not answer within {READ_LIMIT:?} (locked or slow)")
    };
    let deadline = tokio::time::Instant::now() + READ_LIMIT;
    let Ok(Ok(turn)) =
        tokio::time::timeout_at(deadline, Arc::clone(&s.readers).acquire_owned()).await
    else {
        return Err(late());
    };
    let db = s.db.clone();
    let handle = Arc::new(std::sync::Mutex::new(None::<rusqlite::InterruptHandle>));
    let shared_handle = Arc::clone(&handle);
    let work = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let c = store::open_read_only(&db).map_err(|e| crate::error::Chain(&e).to_string())?;
        *shared_handle.lock().expect("not poisoned") = Some(c.get_interrupt_handle());
        q(&c).map_err(|e| e.to_string())
    });
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("the database read failed: {e}")),
        Err(_) => {
            // Stop the query: its thread and its turn are freed for the next request.
            if let Some(h) = handle.lock().expect("not poisoned").take() {
                h.interrupt();
            }
            Err(late())
        }
    }
}
