//! The webhook outbox: queued alerts and the outcome of each delivery attempt.
//!
//! Owns the SQL of the `alerts` and `webhooks` tables. Alerts are queued inside the batch
//! transaction that stores their event; outcomes come back through the same writer as
//! [`AlertUpdate`]s. Only `Delivered` moves an endpoint's queue on: a failing alert holds the ones
//! after it, so each endpoint receives its alerts in event order.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use vesselwatch_ais::time::UnixMillis;

/// What one delivery attempt concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: done.
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// Retryable (408, 429, 5xx, timeout, connection error): try again at `next_attempt`.
    Retry {
        /// The HTTP status, if a response came.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again (wall clock).
        next_attempt: UnixMillis,
    },
    /// Given up: too old, or refused (4xx) too often.
    Dead {
        /// The HTTP status, if a response came.
        status: Option<u16>,
        /// Why.
        error: String,
    },
    /// 410 Gone: the endpoint is disabled; the alert stays queued.
    Gone {
        /// The webhook.
        webhook: String,
    },
}

/// An outcome for one alert, at a wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertUpdate {
    /// The alert's row id.
    pub id: i64,
    /// What happened.
    pub outcome: Outcome,
    /// When (wall clock).
    pub at: UnixMillis,
}

/// Queues `(event id, webhook)` alerts whose event was stored first in this transaction (`new`), so
/// a replay of old events never alerts again.
pub(crate) fn queue(
    tx: &Transaction<'_>,
    alerts: &[(String, String)],
    new: &HashMap<String, UnixMillis>,
) -> rusqlite::Result<()> {
    let now = crate::clock::now().0;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO alerts (webhook, event_id, event_time, created) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (event, webhook) in alerts {
        if let Some(t) = new.get(event) {
            ins.execute(params![webhook, event, t.0, now])?;
        }
    }
    Ok(())
}

/// Applies delivery outcomes.
pub(crate) fn apply(tx: &Transaction<'_>, updates: &[AlertUpdate]) -> rusqlite::Result<()> {
    for u in updates {
        match &u.outcome {
            Outcome::Delivered { status } => tx.execute(
                "UPDATE alerts SET status = 'delivered', attempts = attempts + 1, last_status = ?2,
                 last_error = NULL, delivered = ?3 WHERE id = ?1",
                params![u.id, status, u.at.0],
            )?,
            Outcome::Retry {
                status,
                error,
                next_attempt,
            } => tx.execute(
                "UPDATE alerts SET status = 'failed', attempts = attempts + 1, last_status = ?2,
                 last_error = ?3, next_attempt = ?4 WHERE id = ?1 AND status != 'delivered'",
                params![u.id, status, error, next_attempt.0],
            )?,
            Outcome::Dead { status, error } => tx.execute(
                "UPDATE alerts SET status = 'dead', attempts = attempts + 1, last_status = ?2,
                 last_error = ?3 WHERE id = ?1 AND status != 'delivered'",
                params![u.id, status, error],
            )?,
            Outcome::Gone { webhook } => {
                tx.execute(
                    "UPDATE alerts SET attempts = attempts + 1, last_status = 410,
                     last_error = 'endpoint gone (410); webhook disabled' WHERE id = ?1",
                    [u.id],
                )?;
                tx.execute(
                    "INSERT INTO webhooks (name, disabled, reason, updated) VALUES (?1, 1, '410 Gone', ?2)
                     ON CONFLICT (name) DO UPDATE SET disabled = 1, reason = '410 Gone', updated = ?2",
                    params![webhook, u.at.0],
                )?
            }
        };
    }
    Ok(())
}

/// The next alert an endpoint should receive: its oldest undelivered, not dead, alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Row id.
    pub id: i64,
    /// The event's id (the `webhook-id`).
    pub event_id: String,
    /// The event record (JSON).
    pub record: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued (wall clock).
    pub created: UnixMillis,
    /// Not before this (wall clock).
    pub next_attempt: UnixMillis,
}

/// The first `limit` alerts of `webhook`'s queue, in delivery order.
pub fn next_due(conn: &Connection, webhook: &str, limit: usize) -> rusqlite::Result<Vec<Due>> {
    let mut s = conn.prepare_cached(
        "SELECT a.id, a.event_id, e.record, a.attempts, a.created, a.next_attempt
         FROM alerts a JOIN events e ON e.id = a.event_id
         WHERE a.webhook = ?1 AND a.status IN ('pending', 'failed')
         ORDER BY a.event_time, a.id LIMIT ?2",
    )?;
    s.query_map(params![webhook, limit as i64], |r| {
        Ok(Due {
            id: r.get(0)?,
            event_id: r.get(1)?,
            record: r.get(2)?,
            attempts: r.get(3)?,
            created: UnixMillis(r.get(4)?),
            next_attempt: UnixMillis(r.get(5)?),
        })
    })?
    .collect()
}

/// Whether a 410 disabled this webhook.
pub fn is_disabled(conn: &Connection, webhook: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT disabled FROM webhooks WHERE name = ?1",
            [webhook],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Alerts not yet delivered (pending or failed) per webhook.
pub fn undelivered(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut s = conn.prepare(
        "SELECT webhook, count(*) FROM alerts WHERE status IN ('pending', 'failed') GROUP BY webhook ORDER BY webhook",
    )?;
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// One alert, for `vesselwatch alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRow {
    /// Row id (for `alerts retry ID`).
    pub id: i64,
    /// Webhook.
    pub webhook: String,
    /// Event id.
    pub event_id: String,
    /// Event kind.
    pub kind: String,
    /// Status.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Last HTTP status.
    pub last_status: Option<u16>,
    /// Last error.
    pub last_error: Option<String>,
}

/// Alerts, optionally of one status, in queue order.
pub fn list(conn: &Connection, status: Option<&str>) -> rusqlite::Result<Vec<AlertRow>> {
    let mut s = conn.prepare(
        "SELECT a.id, a.webhook, a.event_id, e.kind, a.status, a.attempts, a.last_status, a.last_error
         FROM alerts a JOIN events e ON e.id = a.event_id
         WHERE ?1 IS NULL OR a.status = ?1 ORDER BY a.webhook, a.event_time, a.id",
    )?;
    s.query_map([status], |r| {
        Ok(AlertRow {
            id: r.get(0)?,
            webhook: r.get(1)?,
            event_id: r.get(2)?,
            kind: r.get(3)?,
            status: r.get(4)?,
            attempts: r.get(5)?,
            last_status: r.get(6)?,
            last_error: r.get(7)?,
        })
    })?
    .collect()
}

/// Puts alerts back in the queue: one by id, or every dead one. Also re-enables the webhooks
/// concerned (a 410 disable is lifted by retrying). Returns how many alerts were requeued.
pub fn retry(conn: &mut Connection, id: Option<i64>) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let now = crate::clock::now().0;
    let n = match id {
        Some(id) => tx.execute(
            "UPDATE alerts SET status = 'pending', next_attempt = 0, created = ?2 WHERE id = ?1 AND status != 'delivered'",
            params![id, now],
        )?,
        None => tx.execute(
            "UPDATE alerts SET status = 'pending', next_attempt = 0, created = ?1 WHERE status = 'dead'",
            [now],
        )?,
    };
    tx.execute(
        "UPDATE webhooks SET disabled = 0, reason = NULL, updated = ?1
         WHERE name IN (SELECT webhook FROM alerts WHERE status = 'pending')",
        [now],
    )?;
    tx.commit()?;
    Ok(n)
}
