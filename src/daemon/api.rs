//! The `/api` routes: the records the command line prints, with its filters and syntax, a page at
//! a time. Owns turning a query string into the CLI's checked filter and the store's rows into
//! responses; the transport (connection limits, the token) and the bounded database reads are
//! `http`'s.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::Shared;
use super::http::read;
use crate::commands::CommandError;
use crate::commands::query::{QueryOptions, TimeArg, What};
use crate::store::query;
use vesselwatch_ais::time::UnixMillis;

/// The API's routes, for the HTTP endpoint's router.
pub(super) fn routes() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route("/api/vessels", get(vessels))
        .route("/api/vessels/{id}/track", get(track))
        .route("/api/events", get(events))
        .route("/api/visits", get(visits))
        .route("/api/fences", get(fences))
        .route(
            "/api/openapi.json",
            get(|| async { ([("content-type", "application/json")], OPENAPI) }),
        )
}

/// Rows in one page of `/api/events` or `/api/vessels` unless `limit` says otherwise, and the most
/// `limit` may ask for: every response is bounded.
const PAGE: usize = 500;
const PAGE_MAX: usize = 5_000;

/// The query string of every `/api` list: the CLI's filters with the CLI's syntax (`since=7d`,
/// `since=2025-01-20`, `fence=`, `kind=`, `vessel=NAME|MMSI|IMO`, `open=true` for visits), and a
/// page (`limit`, `after`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct ApiQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vessel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<bool>,
    /// Tracks: at most about this many positions, spread over the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    points: Option<usize>,
}

impl ApiQuery {
    /// The page size asked for; `Err` is the reason for a 400.
    fn limit(&self) -> Result<usize, String> {
        match self.limit {
            None => Ok(PAGE),
            Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            Some(n) => Err(format!("limit {n} is out of range: 1 to {PAGE_MAX}")),
        }
    }

    /// The filters as the CLI takes them; `Err` is the reason for a 400.
    fn options(&self) -> Result<QueryOptions, String> {
        let time = |v: &Option<String>, key: &str| {
            v.as_deref()
                .map(|t| t.parse::<TimeArg>().map_err(|e| format!("{key}: {e}")))
                .transpose()
        };
        Ok(QueryOptions {
            vessel: self.vessel.clone(),
            fence: self.fence.clone(),
            kind: self.kind.clone(),
            since: time(&self.since, "since")?,
            until: time(&self.until, "until")?,
            open: self.open.unwrap_or(false),
            ..QueryOptions::default()
        })
    }

    /// The query string of the next page: the same filters, the new cursor.
    fn next(&self, limit: usize, after: String) -> String {
        let next = ApiQuery {
            limit: Some(limit),
            after: Some(after),
            ..self.clone()
        };
        serde_urlencoded::to_string(&next).expect("strings encode")
    }
}

/// The checked store filter for `opts`, inside a read: `Ok(Err(message))` is a 400 (an unknown
/// fence, kind or vessel, a filter that does not apply), `Err` a database failure (503).
fn api_filter(
    c: &rusqlite::Connection,
    what: What,
    opts: &QueryOptions,
) -> rusqlite::Result<Result<query::Filter, String>> {
    match crate::commands::query::filter(c, what, opts, crate::clock::now()) {
        Ok(f) => Ok(Ok(f)),
        Err(CommandError::Query(e)) => Err(e.0),
        Err(e) => Ok(Err(crate::error::Chain(&e).to_string())),
    }
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}

/// A JSON array body, with a `Link: <...>; rel="next"` header (RFC 8288) when there may be more:
/// the body keeps the shape it always had, and a client pages by following the link.
fn page_response(path: &str, body: String, next: Option<String>) -> Response {
    let mut r = ([("content-type", "application/json")], body).into_response();
    if let Some(query) = next
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\""))
    {
        r.headers_mut().insert(axum::http::header::LINK, v);
    }
    r
}

/// The outcome of an API read: rows, a 400 with its reason, or a 503.
fn answer<T>(r: Result<Result<T, String>, String>, ok: impl FnOnce(T) -> Response) -> Response {
    match r {
        Ok(Ok(rows)) => ok(rows),
        Ok(Err(why)) => bad_request(&why),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// `/api/vessels`: vessels by MMSI, a page at a time (`after` = the last MMSI), with the CLI's
/// filters.
async fn vessels(State(s): State<Arc<Shared>>, Query(q): Query<ApiQuery>) -> Response {
    let (limit, opts) = match q.limit().and_then(|l| Ok((l, q.options()?))) {
        Ok(x) => x,
        Err(why) => return bad_request(&why),
    };
    let after = match q.after.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => return bad_request("after must be the last MMSI of the previous page"),
    };
    let r = read(&s, move |c| {
        Ok(match api_filter(c, What::Vessels, &opts)? {
            Ok(f) => Ok(query::vessels_page(c, &f, after, Some(limit))?),
            Err(why) => Err(why),
        })
    })
    .await;
    answer(r, |v| {
        let next =
            (v.len() == limit).then(|| q.next(limit, v.last().map_or(0, |r| r.mmsi).to_string()));
        let body = serde_json::to_string(&v).expect("rows serialise");
        page_response("/api/vessels", body, next)
    })
}

/// `/api/events`: events in time order, a page at a time, with the CLI's filters. The cursor is
/// the last event's time and id (`TIME_MS.ID`), so a page is found by the index, however deep.
async fn events(State(s): State<Arc<Shared>>, Query(q): Query<ApiQuery>) -> Response {
    let (limit, opts) = match q.limit().and_then(|l| Ok((l, q.options()?))) {
        Ok(x) => x,
        Err(why) => return bad_request(&why),
    };
    let after = match q.after.as_deref() {
        None => None,
        Some(c) => match c
            .split_once('.')
            .and_then(|(t, id)| Some((t.parse().ok()?, id)))
        {
            Some((t, id)) if !id.is_empty() => Some((UnixMillis(t), id.to_string())),
            _ => return bad_request("after must be the cursor from the previous page's Link"),
        },
    };
    let r = read(&s, move |c| {
        Ok(match api_filter(c, What::Events, &opts)? {
            Ok(f) => Ok(query::events_page(c, &f, after, limit)?),
            Err(why) => Err(why),
        })
    })
    .await;
    answer(r, |rows| {
        let next = (rows.len() == limit).then(|| {
            let (t, id, _) = rows.last().expect("a full page");
            q.next(limit, format!("{}.{id}", t.0))
        });
        // The stored records are the event JSON already: join them into an array.
        let records: Vec<&str> = rows.iter().map(|(_, _, r)| r.as_str()).collect();
        page_response("/api/events", format!("[{}]", records.join(",")), next)
    })
}

/// `/api/visits`: visits in time order with the CLI's filters (`open=true`: who is inside now),
/// at most `limit`.
async fn visits(State(s): State<Arc<Shared>>, Query(q): Query<ApiQuery>) -> Response {
    let (limit, mut opts) = match q.limit().and_then(|l| Ok((l, q.options()?))) {
        Ok(x) => x,
        Err(why) => return bad_request(&why),
    };
    opts.limit = Some(limit);
    let r = read(&s, move |c| {
        Ok(match api_filter(c, What::Visits, &opts)? {
            Ok(f) => Ok(query::visits(c, &f)?),
            Err(why) => Err(why),
        })
    })
    .await;
    answer(r, |v| axum::Json(v).into_response())
}

/// The API's description (OpenAPI 3.1), written by hand beside the handlers; a test checks that
/// every path it names answers and that every route is in it.
const OPENAPI: &str = include_str!("openapi.json");

/// `/api/fences`: the fences as a GeoJSON FeatureCollection (what a map draws).
async fn fences(State(s): State<Arc<Shared>>) -> Response {
    match read(&s, query::fences_geojson).await {
        Ok(v) => ([("content-type", "application/geo+json")], v.to_string()).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// `/api/vessels/{id}/track`: a vessel's positions (`id` = NAME, MMSI or IMO, as the CLI takes)
/// as GeoJSON, with the time filters, at most `limit` positions.
async fn track(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<ApiQuery>,
) -> Response {
    let (limit, mut opts) = match q.limit().and_then(|l| Ok((l, q.options()?))) {
        Ok(x) => x,
        Err(why) => return bad_request(&why),
    };
    opts.vessel = Some(id);
    opts.limit = Some(limit);
    let spread = match q.points {
        None => None,
        Some(n) if (1..=PAGE_MAX).contains(&n) => Some(n),
        Some(n) => return bad_request(&format!("points {n} is out of range: 1 to {PAGE_MAX}")),
    };
    let r = read(&s, move |c| {
        Ok(match api_filter(c, What::Track, &opts)? {
            Ok(f) => Ok(query::track(c, &query::Filter { spread, ..f })?),
            Err(why) => Err(why),
        })
    })
    .await;
    answer(r, |points| {
        (
            [("content-type", "application/geo+json")],
            crate::commands::query::geojson(&points).to_string(),
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    /// The OpenAPI document's event kinds are the engine's, in its order: a kind added to the
    /// engine (issue 13 added five) is a value clients may filter by.
    #[test]
    fn the_openapi_kind_enum_is_every_event_kind() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let kinds: Vec<&str> = doc["components"]["parameters"]["kind"]["schema"]["enum"]
            .as_array()
            .expect("a kind parameter with an enum")
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let engine: Vec<&str> = vesselwatch_engine::EventKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(kinds, engine);
    }
}
