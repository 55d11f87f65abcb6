//! Webhook delivery: the one module that makes HTTP requests.
//!
//! Owns the delivery worker: one tokio task per endpoint, each sending its queue in event order (the
//! limited concurrency is one request in flight per endpoint), signed as Standard Webhooks, and
//! classifying each response as delivered, retryable (408, 429, 5xx, timeout, connection error —
//! exponential backoff with jitter, honouring `Retry-After`, until `max_age`) or rejected (410 disables
//! the endpoint; another 4xx is dead-lettered after a few tries). Outcomes are written through the
//! store's single writer; the queue is read from the database, so a restart loses nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::config::{WebhookConfig, WebhookFormat};
use crate::store::outbox::{self, AlertUpdate, Due, Outcome};
use crate::store::{self, Batch, Writer};
use secrecy::SecretString;
use vesselwatch_ais::time::UnixMillis;

/// A 4xx other than 408, 410 and 429 is tried this many times before it is dead-lettered.
const REJECTED_TRIES: u32 = 3;
/// Alerts read from the queue at once.
const WINDOW: usize = 64;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// One endpoint, with its secret resolved. `Debug` shows the URL redacted ([`super::redact_url`]).
#[derive(Clone)]
pub struct Endpoint {
    /// The webhook's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its secret (redacted in `Debug`).
    pub secret: SecretString,
    /// Body format.
    pub format: WebhookFormat,
    /// Request timeout.
    pub timeout: Duration,
    /// Give up after this long.
    pub max_age_ms: i64,
    /// First retry delay.
    pub retry_initial: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &super::redact_url(&self.url))
            .field("secret", &self.secret)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("max_age_ms", &self.max_age_ms)
            .field("retry_initial", &self.retry_initial)
            .finish()
    }
}

impl Endpoint {
    /// The endpoint of webhook `h`, with its secret already resolved.
    pub fn new(h: &WebhookConfig, secret: SecretString) -> Self {
        Endpoint {
            name: h.name.clone(),
            url: h.url.clone(),
            secret,
            format: h.format,
            timeout: h.timeout.0,
            max_age_ms: h.max_age.millis(),
            retry_initial: h.retry_initial.0,
        }
    }
}

/// Per-endpoint counters, for metrics and logs.
#[derive(Debug, Default)]
pub struct EndpointStats {
    /// Alerts delivered.
    pub delivered: AtomicU64,
    /// Attempts that will be retried.
    pub retries: AtomicU64,
    /// Alerts dead-lettered.
    pub dead: AtomicU64,
    /// The last error, if any.
    pub last_error: Mutex<Option<String>>,
}

/// The response (or failure) of one attempt, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A 2xx.
    Success(u16),
    /// 410 Gone.
    Gone,
    /// 408, 429, 5xx: try again, not before `retry_after` when the endpoint said so.
    Retryable {
        /// The status.
        status: u16,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// A 3xx: never followed (the signed request would go to a host nobody configured, and Standard
    /// Webhooks counts a redirect as a failure), retried like a 5xx.
    Redirected {
        /// The status.
        status: u16,
        /// Where the endpoint pointed, for the outbox's last error.
        location: String,
    },
    /// Another 4xx.
    Rejected(u16),
    /// No response: timeout or connection error.
    Failed(String),
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(h: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let s = h?.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = UnixMillis::from_system_time(httpdate::parse_http_date(s).ok()?)?;
    u64::try_from(at.0 - crate::clock::now().0)
        .ok()
        .map(Duration::from_millis)
}

/// Sends one signed request and classifies the answer.
pub async fn attempt(client: &reqwest::Client, ep: &Endpoint, id: &str, body: String) -> Response {
    let ts = crate::clock::now().0 / 1000;
    let signature = super::sign(&ep.secret, id, ts, &body);
    let result = client
        .post(&ep.url)
        .timeout(ep.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match result {
        Ok(r) => {
            let status = r.status().as_u16();
            match status {
                200..=299 => Response::Success(status),
                300..=399 => Response::Redirected {
                    status,
                    // Redacted as the webhook's own URL: a redirect may carry a token too.
                    location: super::redact_url(
                        r.headers()
                            .get("location")
                            .and_then(|l| l.to_str().ok())
                            .unwrap_or(""),
                    ),
                },
                410 => Response::Gone,
                408 | 429 | 500..=599 => Response::Retryable {
                    status,
                    retry_after: retry_after(r.headers().get("retry-after")),
                },
                _ => Response::Rejected(status),
            }
        }
        // reqwest's Display of an error omits the cause; the chain names the real one.
        // Without the URL: reqwest names it in the message, which goes to the log and the outbox.
        Err(e) => Response::Failed(crate::error::Chain(&e.without_url()).to_string()),
    }
}

/// What an attempt's answer means for the alert.
pub fn outcome(ep: &Endpoint, due: &Due, response: Response, at: UnixMillis) -> Outcome {
    let retry = |status: Option<u16>, error: String, after: Option<Duration>| {
        // A `Retry-After` longer than the alert may live is as good as "never": clamped, so that no
        // value a server sends (up to u64::MAX seconds) can overflow the arithmetic below.
        let max_age = Duration::from_millis(u64::try_from(ep.max_age_ms).unwrap_or(0));
        let wait = crate::backoff::nth(ep.retry_initial, MAX_BACKOFF, due.attempts)
            .max(after.unwrap_or_default())
            .min(max_age);
        let next =
            UnixMillis(at.0.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)));
        if next.0.saturating_sub(due.created.0) > ep.max_age_ms {
            Outcome::Dead {
                status,
                error: format!("{error}; gave up after max_age"),
            }
        } else {
            Outcome::Retry {
                status,
                error,
                next_attempt: next,
            }
        }
    };
    match response {
        Response::Success(status) => Outcome::Delivered { status },
        Response::Gone => Outcome::Gone {
            webhook: ep.name.clone(),
        },
        Response::Retryable {
            status,
            retry_after,
        } => retry(Some(status), format!("HTTP {status}"), retry_after),
        Response::Redirected { status, location } => retry(
            Some(status),
            format!(
                "HTTP {status}: redirect to {location:?} not followed (webhook endpoints must not redirect)"
            ),
            None,
        ),
        Response::Rejected(status) if due.attempts + 1 >= REJECTED_TRIES => Outcome::Dead {
            status: Some(status),
            error: format!("HTTP {status}, refused {REJECTED_TRIES} times"),
        },
        Response::Rejected(status) => retry(Some(status), format!("HTTP {status}"), None),
        Response::Failed(error) => retry(None, error, None),
    }
}

/// Why webhook requests cannot be sent at all.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client could not be built (TLS roots).
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A runtime for a single request could not be built.
    #[error("cannot start an async runtime")]
    Runtime(#[source] std::io::Error),
}

/// The HTTP client every request goes out with: one user agent naming vesselwatch and its version.
fn client() -> Result<reqwest::Client, StartError> {
    reqwest::Client::builder()
        .user_agent(concat!("vesselwatch/", env!("CARGO_PKG_VERSION")))
        // Never follow: the signature and body would go to a host nobody configured.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(StartError::Client)
}

/// Sends one signed request outside the worker, waiting for the answer (`webhook test`): the same
/// client, signature and classification as real alerts, on a runtime of its own.
pub fn send_once(ep: &Endpoint, id: &str, body: String) -> Result<Response, StartError> {
    let client = client()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    Ok(runtime.block_on(attempt(&client, ep, id, body)))
}

/// The running delivery worker.
pub struct Delivery {
    notify: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Counters per endpoint name.
    pub stats: HashMap<String, Arc<EndpointStats>>,
}

impl Delivery {
    /// Starts one task per endpoint on the current tokio runtime (the daemon's one runtime).
    /// Outcomes go through `writer`; the queue is read from `db`.
    pub fn start(
        endpoints: Vec<Endpoint>,
        db: PathBuf,
        writer: Arc<Writer>,
    ) -> Result<Self, StartError> {
        Self::start_keeping(endpoints, db, writer, HashMap::new())
    }

    /// As [`Delivery::start`], carrying over the counters of endpoints that keep their name (a
    /// SIGHUP replaces the worker; the metrics are counters, which must not go back to zero).
    pub fn start_keeping(
        endpoints: Vec<Endpoint>,
        db: PathBuf,
        writer: Arc<Writer>,
        mut previous: HashMap<String, Arc<EndpointStats>>,
    ) -> Result<Self, StartError> {
        let client = client()?;
        let notify = Arc::new(Notify::new());
        let (shutdown, rx) = watch::channel(false);
        let mut stats = HashMap::new();
        let mut tasks = Vec::new();
        for ep in endpoints {
            let s = previous.remove(&ep.name).unwrap_or_default();
            stats.insert(ep.name.clone(), Arc::clone(&s));
            tasks.push(tokio::spawn(run_endpoint(
                ep,
                db.clone(),
                Arc::clone(&writer),
                client.clone(),
                Arc::clone(&notify),
                rx.clone(),
                s,
            )));
        }
        Ok(Self {
            notify,
            shutdown,
            tasks,
            stats,
        })
    }

    /// A function that wakes the endpoints, for another thread to call.
    pub fn waker(&self) -> impl Fn() + Send + 'static {
        let n = Arc::clone(&self.notify);
        move || n.notify_waiters()
    }

    /// Wakes the endpoints: new alerts were committed.
    pub fn wake(&self) {
        self.notify.notify_waiters();
    }

    /// Stops the endpoints, letting an attempt in flight finish (bounded by its timeout).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.notify.notify_waiters();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn run_endpoint(
    ep: Endpoint,
    db: PathBuf,
    writer: Arc<Writer>,
    client: reqwest::Client,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    stats: Arc<EndpointStats>,
) {
    let conn = match store::open_read_only(&db) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(webhook = %ep.name, error = %crate::error::Chain(&e), "Cannot read the outbox; this webhook sends nothing.");
            return;
        }
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        // The head of the queue, a window at a time: one read per window, sent strictly in order,
        // one request at a time, each outcome committed before the next request.
        let window = match outbox::is_disabled(&conn, &ep.name) {
            Ok(true) => Vec::new(),
            Ok(false) => outbox::next_due(&conn, &ep.name, WINDOW).unwrap_or_else(|e| {
                tracing::warn!(webhook = %ep.name, error = %e, "Reading the outbox failed; will try again.");
                Vec::new()
            }),
            Err(e) => {
                tracing::warn!(webhook = %ep.name, error = %e, "Reading the outbox failed; will try again.");
                Vec::new()
            }
        };
        let wait = match window.first() {
            None => Duration::from_secs(1),
            Some(d) => {
                Duration::from_millis((d.next_attempt.0 - crate::clock::now().0).max(0) as u64)
            }
        };
        if window.is_empty() || !wait.is_zero() {
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(wait.min(Duration::from_secs(1))) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        for due in &window {
            if *shutdown.borrow() || due.next_attempt.0 > crate::clock::now().0 {
                break;
            }
            let at = crate::clock::now();
            let outcome = if at.0 - due.created.0 > ep.max_age_ms {
                Outcome::Dead {
                    status: None,
                    error: "older than max_age".into(),
                }
            } else {
                let record: serde_json::Value =
                    serde_json::from_str(&due.record).unwrap_or_default();
                let response =
                    attempt(&client, &ep, &due.event_id, super::body(ep.format, &record)).await;
                outcome(&ep, due, response, crate::clock::now())
            };
            report(&ep, due, &outcome, &stats);
            // Only a delivered (or dead-lettered) alert lets the next one go: order holds.
            let go_on = matches!(outcome, Outcome::Delivered { .. } | Outcome::Dead { .. });
            // Each outcome is committed before the next request: a crash re-sends at most the
            // request that was in flight (committing once per window re-sent the whole window
            // after every crash, and a slow endpoint with repeated restarts never progressed).
            let update = AlertUpdate {
                id: due.id,
                outcome,
                at: crate::clock::now(),
            };
            let w = Arc::clone(&writer);
            let recorded = tokio::task::spawn_blocking(move || {
                w.send_and_wait(Batch {
                    alert_updates: vec![update],
                    ..Batch::default()
                })
            })
            .await;
            // A stopped writer stops the daemon (the pipeline sees it); the outcome is then not
            // recorded and the alert is sent again after the restart.
            if !matches!(recorded, Ok(Ok(()))) || !go_on {
                break;
            }
        }
    }
}

fn report(ep: &Endpoint, due: &Due, outcome: &Outcome, stats: &EndpointStats) {
    let attempt = due.attempts + 1;
    match outcome {
        Outcome::Delivered { status } => {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(webhook = %ep.name, event = %due.event_id, status, attempt, "Alert delivered.");
        }
        Outcome::Retry {
            status,
            error,
            next_attempt,
        } => {
            stats.retries.fetch_add(1, Ordering::Relaxed);
            *stats.last_error.lock().expect("not poisoned") = Some(error.clone());
            tracing::warn!(webhook = %ep.name, event = %due.event_id, ?status, %error, attempt,
                retry_at = %next_attempt, "Alert not delivered; will retry.");
        }
        Outcome::Dead { status, error } => {
            stats.dead.fetch_add(1, Ordering::Relaxed);
            *stats.last_error.lock().expect("not poisoned") = Some(error.clone());
            tracing::error!(webhook = %ep.name, event = %due.event_id, ?status, %error, attempt,
                "Alert dead-lettered; `vesselwatch alerts retry` can requeue it.");
        }
        Outcome::Gone { .. } => {
            *stats.last_error.lock().expect("not poisoned") = Some("410 Gone".into());
            tracing::error!(webhook = %ep.name, url = %super::redact_url(&ep.url),
                "ENDPOINT GONE (HTTP 410): webhook disabled, its alerts stay queued; fix the URL, then `vesselwatch alerts retry`.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 11, item 16): a SIGHUP replaced the worker and its counters went back to
    /// zero, which a counter in Prometheus must never do.
    #[tokio::test]
    async fn a_replaced_worker_keeps_the_counters_of_endpoints_that_keep_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        let writer = Arc::new(Writer::spawn(
            crate::store::open(&db).unwrap(),
            db.clone(),
            4,
            None,
        ));
        let endpoint = |name: &str| Endpoint {
            name: name.into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            format: WebhookFormat::Standard,
            timeout: Duration::from_secs(1),
            max_age_ms: 60_000,
            retry_initial: Duration::from_secs(1),
        };
        let first = Delivery::start(
            vec![endpoint("kept"), endpoint("dropped")],
            db.clone(),
            Arc::clone(&writer),
        )
        .unwrap();
        first.stats["kept"].delivered.store(5, Ordering::Relaxed);
        let counters = first.stats.clone();
        first.stop().await;
        let second = Delivery::start_keeping(
            vec![endpoint("kept"), endpoint("new")],
            db,
            Arc::clone(&writer),
            counters,
        )
        .unwrap();
        assert_eq!(second.stats["kept"].delivered.load(Ordering::Relaxed), 5);
        assert_eq!(second.stats["new"].delivered.load(Ordering::Relaxed), 0);
        assert!(!second.stats.contains_key("dropped"));
        second.stop().await;
    }
}
