//! `vesselwatch alerts` and `vesselwatch webhook test`: the outbox from the command line.
//!
//! Owns listing and requeueing alerts (through `store::outbox`) and sending a signed test event to
//! a configured endpoint (through `alerts::delivery`), reporting the response.

use super::CommandError;
use std::io::Write;
use std::path::PathBuf;

use super::table::{self, Field, Fit, Layout, Table};
use crate::alerts::delivery::{Response, send_once};
use crate::config::Loaded;
use crate::store::{self, outbox};

fn db_path(db: Option<PathBuf>, config: Option<&std::path::Path>) -> Result<PathBuf, CommandError> {
    Ok(match db {
        Some(d) => d,
        None => Loaded::load(config)?.db_path(),
    })
}

/// Lists alerts, optionally of one status, as a table for people (`commands::table`): one line per
/// alert in a pipe; the error text wraps in a narrow terminal, ids never do.
pub fn list(
    db: Option<PathBuf>,
    config: Option<&std::path::Path>,
    status: Option<&str>,
    out: &mut dyn Write,
) -> Result<usize, CommandError> {
    const STATUSES: [&str; 4] = ["pending", "failed", "dead", "delivered"];
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(CommandError::Unknown {
            what: "alert status",
            given: s.to_string(),
            known: STATUSES.map(String::from).to_vec(),
        });
    }
    const FIELDS: &[Field] = &[
        Field {
            name: "id",
            fit: Fit::Whole,
        },
        Field {
            name: "webhook",
            fit: Fit::Whole,
        },
        Field {
            name: "event",
            fit: Fit::Whole,
        },
        Field {
            name: "kind",
            fit: Fit::Whole,
        },
        Field {
            name: "status",
            fit: Fit::Whole,
        },
        Field {
            name: "attempts",
            fit: Fit::Whole,
        },
        Field {
            name: "last error",
            fit: Fit::Text,
        },
    ];
    const LAYOUTS: &[Layout] = &[
        &[
            &["id"],
            &["webhook"],
            &["event"],
            &["kind"],
            &["status"],
            &["attempts"],
            &["last error"],
        ],
        &[
            &["id"],
            &["event", "kind"],
            &["webhook", "status"],
            &["attempts"],
            &["last error"],
        ],
    ];
    let conn = store::open_read_only(&db_path(db, config)?)?;
    let rows = outbox::list(&conn, status)?;
    let mut table = Table::new(FIELDS, LAYOUTS);
    for r in &rows {
        table.push(vec![
            r.id.to_string(),
            r.webhook.clone(),
            r.event_id.clone(),
            r.kind.clone(),
            r.status.clone(),
            r.attempts.to_string(),
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    out.write_all(table.render(table::output_width()).as_bytes())?;
    Ok(rows.len())
}

/// Requeues one alert, or every dead one; lifts a 410 disable of the webhooks concerned.
pub fn retry(
    db: Option<PathBuf>,
    config: Option<&std::path::Path>,
    id: Option<i64>,
) -> Result<usize, CommandError> {
    let mut conn = store::open(&db_path(db, config)?)?;
    let n = outbox::retry(&mut conn, id)?;
    match id {
        Some(i) if n == 0 => Err(CommandError::NoAlert(i)),
        _ => Ok(n),
    }
}

/// Sends a signed `vessel.test` event to webhook `name` and returns a description of the answer.
pub fn test(config: Option<&std::path::Path>, name: &str) -> Result<String, CommandError> {
    let loaded = Loaded::load(config)?;
    let ep = loaded
        .endpoints()?
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| CommandError::NoWebhook(name.to_string()))?;
    let now = crate::clock::now();
    let id = format!("test-{:x}", now.0);
    let record = serde_json::json!({
        "id": id, "kind": "test", "time": now.to_string(), "mmsi": 0, "name": "VESSELWATCH TEST",
        "label": "test", "fence": "none", "inferred": false,
    });
    let body = crate::alerts::body(ep.format, &record);
    match send_once(&ep, &id, body)? {
        Response::Success(s) => Ok(format!("{name}: HTTP {s}, accepted (webhook-id {id})")),
        Response::Gone => Err(CommandError::TestFailed("HTTP 410 Gone".into())),
        Response::Retryable { status, .. } => Err(CommandError::TestFailed(format!(
            "HTTP {status} (retryable)"
        ))),
        Response::Redirected { status, location } => Err(CommandError::TestFailed(format!(
            "HTTP {status}: redirect to {location:?} not followed (webhook endpoints must not redirect)"
        ))),
        Response::Rejected(s) => Err(CommandError::TestFailed(format!("HTTP {s}"))),
        Response::Failed(e) => Err(CommandError::TestFailed(e)),
    }
}
