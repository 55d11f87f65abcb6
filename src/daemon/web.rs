//! The map: the page and its assets, `/api/map` (what the page needs to start), `/api/map/at`
//! (the fleet and the newest events as of a past time) and `/api/stream` (Server-Sent Events: the
//! fleet, then what changed, each second).
//!
//! Owns what the browser gets. Every asset is compiled into the binary (a monitoring host often
//! has no internet, and a CDN would tell a third party who watches which port); `web/build.sh`
//! vendors the third-party ones from npm at pinned versions. The data comes from the database
//! through the endpoint's bounded reads, so the daemon and `serve` show the same thing.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Shared;
use super::http::read;
use crate::commands::query::TimeArg;
use crate::shutdown::Shutdown;
use crate::store::map::{self, Cursor, Dot};
use vesselwatch_ais::time::UnixMillis;

/// The map's routes, for the HTTP endpoint's router.
pub(super) fn routes() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { asset("index.html", &h).await }),
        )
        .route(
            "/static/{file}",
            get(
                |axum::extract::Path(file): axum::extract::Path<String>, h: HeaderMap| async move {
                    asset(&file, &h).await
                },
            ),
        )
        .route("/api/map", get(start))
        .route("/api/map/at", get(at))
        .route("/api/stream", get(stream))
}

/// One file of the page.
struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
    /// `bytes` are gzipped (the vendored files, compressed by `web/build.sh`): sent as they are
    /// to a browser, inflated once for a client that does not take gzip.
    gzipped: bool,
    plain: OnceLock<Vec<u8>>,
    etag: OnceLock<String>,
}

macro_rules! asset {
    ($name:literal, $mime:expr, $path:literal) => {
        asset!($name, $mime, $path, false)
    };
    ($name:literal, $mime:expr, $path:literal, $gzipped:literal) => {
        Asset {
            name: $name,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
            gzipped: $gzipped,
            plain: OnceLock::new(),
            etag: OnceLock::new(),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

static ASSETS: [Asset; 14] = [
    asset!("index.html", "text/html; charset=utf-8", "app/index.html"),
    asset!("app.js", JS, "app/app.js"),
    asset!("style.css", CSS, "app/style.css"),
    asset!("favicon.svg", "image/svg+xml", "app/favicon.svg"),
    asset!("maplibre-gl.mjs", JS, "vendor/maplibre-gl.mjs.gz", true),
    asset!(
        "maplibre-gl-worker.mjs",
        JS,
        "vendor/maplibre-gl-worker.mjs.gz",
        true
    ),
    asset!("maplibre-gl.css", CSS, "vendor/maplibre-gl.css.gz", true),
    asset!(
        "topojson-client.min.js",
        JS,
        "vendor/topojson-client.min.js"
    ),
    asset!(
        "countries-50m.json",
        JSON,
        "vendor/countries-50m.json.gz",
        true
    ),
    asset!(
        "countries-10m.json",
        JSON,
        "vendor/countries-10m.json.gz",
        true
    ),
    asset!(
        "LICENSE-maplibre-gl.txt",
        TEXT,
        "vendor/LICENSE-maplibre-gl.txt"
    ),
    asset!(
        "LICENSE-topojson-client.txt",
        TEXT,
        "vendor/LICENSE-topojson-client.txt"
    ),
    asset!(
        "LICENSE-world-atlas.txt",
        TEXT,
        "vendor/LICENSE-world-atlas.txt"
    ),
    asset!("VERSIONS.txt", TEXT, "vendor/VERSIONS.txt"),
];

/// Whether the client takes gzip: named in `Accept-Encoding` without `q=0` (RFC 9110 §12.5.3).
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';').map(str::trim);
                parts.next() == Some("gzip")
                    && parts.all(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_none_or(|q| q > 0.0)
                    })
            })
        })
}

/// Serves an asset: `304` when the browser has it (its ETag), gzipped when stored so and the
/// client takes it. Inflating (for a client without gzip) runs on a blocking thread: 4 MB takes
/// long enough in a debug build to stall the runtime's workers, and the map's stream with them.
async fn asset(name: &str, headers: &HeaderMap) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let hash = a.etag.get_or_init(|| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(a.bytes);
        d.iter().take(12).map(|b| format!("{b:02x}")).collect()
    });
    let zipped = a.gzipped && takes_gzip(headers);
    // Each encoding is its own representation, with its own tag (RFC 9110 §8.8.3).
    let etag = if zipped {
        format!("\"{hash}-gz\"")
    } else {
        format!("\"{hash}\"")
    };
    let etag = etag.as_str();
    let common = [
        (header::CACHE_CONTROL, "no-cache"),
        (header::VARY, "Accept-Encoding"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, common, [(header::ETAG, etag)]).into_response();
    }

    let mut r = if !a.gzipped {
        a.bytes.into_response()
    } else if zipped {
        let mut r = a.bytes.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        let plain = tokio::task::spawn_blocking(move || {
            a.plain
                .get_or_init(|| {
                    use std::io::Read;
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(a.bytes)
                        .read_to_end(&mut out)
                        .expect("the build's own gzip inflates");
                    out
                })
                .as_slice()
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        plain.into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    for (k, v) in common {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

/// How long before the newest report a vessel's marker stays on the map: a day, as the
/// fleet a watcher expects to see (a ship unheard for longer is gone from the picture).
pub const FLEET_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Vessels per stream message and per page read: a message stays under a megabyte, and one read
/// holds a reader briefly.
const CHUNK: usize = 5_000;
/// Events in the list when the page starts, and the most one update carries.
const EVENTS: usize = 200;
/// How often the stream looks for changes: the map is at most this late.
const TICK: Duration = Duration::from_secs(1);
/// How long one stream runs before it ends and the browser reconnects with its `Last-Event-ID`
/// (and resumes where it was): under the endpoint's connection lifetime, so that the connection
/// ends with its response instead of being cut.
const STREAM_TURN: Duration = Duration::from_secs(100);

/// The map's settings, from `[http]` and the command that serves it.
#[derive(Debug, Clone, Default)]
pub struct MapSettings {
    /// A pipeline writes the database (the daemon): the page follows it live by default.
    pub live: bool,
    /// An online tile layer's URL template (`{z}/{x}/{y}`), drawn under the fences and vessels.
    pub tiles: Option<String>,
    /// The tile layer's attribution, shown on the map.
    pub tiles_attribution: Option<String>,
}

impl MapSettings {
    /// The settings for a database a pipeline writes (`live`) or not, with `[http]`'s tiles.
    pub fn from_config(http: &super::http::HttpConfig, live: bool) -> Self {
        Self {
            live,
            tiles: http.tiles.clone(),
            tiles_attribution: http.tiles_attribution.clone(),
        }
    }
}

/// `/api/map`: what the page needs before its first draw: whether the database is live, the
/// tile layer, and the span of time the database holds (the time slider's ends).
async fn start(State(s): State<Arc<Shared>>) -> Response {
    let span = match read(&s, map::span).await {
        Ok(span) => span,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    };
    let body = serde_json::json!({
        "live": s.map.live,
        "tiles": s.map.tiles,
        "tiles_attribution": s.map.tiles_attribution,
        "span": span.map(|(a, b)| serde_json::json!({ "from": a.to_string(), "to": b.to_string() })),
        "window_s": FLEET_WINDOW.as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    axum::Json(body).into_response()
}

/// The watchlist's label and group on each dot: what the map shows watched vessels by.
fn label(s: &Shared, dots: &mut [Dot]) {
    let list = Arc::clone(&s.watchlist.lock().expect("not poisoned"));
    for d in dots {
        let id = vesselwatch_engine::watchlist::Identity {
            mmsi: d.mmsi,
            imo: d.imo,
            name: d.name.as_deref(),
            callsign: d.callsign.as_deref(),
        };
        if let Some(i) = list.find(&id) {
            let w = list.get(i);
            d.label = Some(w.label.clone());
            d.group = w.group.clone();
        }
    }
}

#[derive(Debug, Deserialize)]
struct AtQuery {
    time: String,
}

/// `/api/map/at?time=T`: the fleet as of `T` (each vessel's last recorded position in the day
/// before it) and the newest events before it: the time slider's view of a replayed database.
async fn at(
    State(s): State<Arc<Shared>>,
    Query(q): Query<AtQuery>,
    headers: HeaderMap,
) -> Response {
    let t = match q.time.parse::<TimeArg>() {
        Ok(t) => t.resolve(crate::clock::now()),
        Err(e) => return (StatusCode::BAD_REQUEST, format!("time: {e}\n")).into_response(),
    };
    let window = FLEET_WINDOW.as_millis() as i64;
    let r = read(&s, move |c| {
        // Inclusive of `t` for positions, as for events (`until` is exclusive: one ms on).
        Ok((
            map::fleet_at(c, t, window)?,
            map::newest_events(c, Some(UnixMillis(t.0.saturating_add(1))), EVENTS)?,
        ))
    })
    .await;
    match r {
        Ok((mut dots, events)) => {
            label(&s, &mut dots);
            let events: Vec<&str> = events.iter().map(|(_, r)| r.as_str()).collect();
            let body = format!(
                "{{\"time\":\"{t}\",\"vessels\":{},\"events\":[{}]}}",
                serde_json::to_string(&dots).expect("dots serialise"),
                events.join(",")
            );
            // 50,000 vessels are 6 MB of JSON and 1 MB gzipped: compressed (fast, on a blocking
            // thread) for a browser that takes it, at every stop of the slider.
            if takes_gzip(&headers) {
                let zipped = tokio::task::spawn_blocking(move || {
                    use std::io::Write;
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(body.as_bytes()).expect("writing to memory");
                    e.finish().expect("writing to memory")
                })
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                (
                    [
                        (header::CONTENT_TYPE, JSON),
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::VARY, "Accept-Encoding"),
                    ],
                    zipped,
                )
                    .into_response()
            } else {
                ([(header::CONTENT_TYPE, JSON)], body).into_response()
            }
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// Where a stream is: the last vessel row and the last event it has sent. Sent as each message's
/// id, so that a browser that reconnects (`Last-Event-ID`) gets what it missed and no more.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Position {
    vessels: Cursor,
    event: i64,
}

impl Position {
    fn id(&self) -> String {
        format!(
            "{}.{}.{}",
            self.vessels.changed, self.vessels.mmsi, self.event
        )
    }

    fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('.');
        // Unsigned: the counters start at 0, and a negative one would replay the whole table.
        let number = |t: Option<&str>| t?.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok());
        let p = Position {
            vessels: Cursor {
                changed: number(it.next())?,
                mmsi: it.next()?.parse().ok()?,
            },
            event: number(it.next())?,
        };
        it.next().is_none().then_some(p)
    }
}

/// What the stream does next.
enum Step {
    /// Send the fleet from this MMSI on (a new page), then go on from `then`.
    Fleet {
        since: UnixMillis,
        after: u32,
        then: Position,
    },
    /// Send the newest events, then follow from `then`.
    Events { then: Position },
    /// Follow changes from here.
    Follow(Position),
    /// Done: the turn is over, or the daemon stops.
    End,
}

struct StreamState {
    shared: Arc<Shared>,
    step: Step,
    started: tokio::time::Instant,
    stop: Shutdown,
    /// The follow step found nothing last time: wait a tick before looking again.
    idle: bool,
}

/// `/api/stream`: Server-Sent Events. A new stream sends the fleet (`fleet` messages, a chunk of
/// vessels each), then `ready` with the newest events; after that an `update` whenever
/// vessels or events were stored, looked for each second. Every message's id is the stream's
/// position: a browser reconnecting with it (`Last-Event-ID`, which `EventSource` sends itself)
/// gets only what was stored since. Each stream ends after [`STREAM_TURN`], and the browser
/// reconnects at once (`retry: 1000`).
async fn stream(
    State(s): State<Arc<Shared>>,
    axum::Extension(stop): axum::Extension<Shutdown>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Position::parse);
    let r = read(&s, |c| {
        let position = Position {
            vessels: map::newest(c)?,
            event: map::last_event(c)?,
        };
        Ok((position, map::newest_fix(c)?))
    })
    .await;
    let (now, newest) = match r {
        Ok(x) => x,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    };
    let step = match resume {
        // A position past the database's own is from another file (a restored backup, `serve`
        // restarted over another database): followed, it would never see a change. The fleet
        // again instead.
        Some(p) if p.vessels <= now.vessels && p.event <= now.event => Step::Follow(p),
        _ => Step::Fleet {
            since: UnixMillis(
                newest
                    .unwrap_or(0)
                    .saturating_sub(FLEET_WINDOW.as_millis() as i64),
            ),
            after: 0,
            then: now,
        },
    };
    let state = StreamState {
        shared: s,
        step,
        started: tokio::time::Instant::now(),
        stop,
        idle: false,
    };
    let events = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            match std::mem::replace(&mut st.step, Step::End) {
                Step::End => return None,
                Step::Fleet { since, after, then } => {
                    let page =
                        read(&st.shared, move |c| map::fleet_page(c, since, after, CHUNK)).await;
                    let Ok(mut dots) = page else {
                        // The database did not answer: end, and the browser reconnects.
                        return None;
                    };
                    st.step = match dots.last() {
                        Some(last) if dots.len() == CHUNK => Step::Fleet {
                            since,
                            after: last.mmsi,
                            then,
                        },
                        _ => Step::Events { then },
                    };
                    label(&st.shared, &mut dots);
                    let data = format!(
                        "{{\"vessels\":{}}}",
                        serde_json::to_string(&dots).expect("dots serialise")
                    );
                    let e = SseEvent::default().event("fleet").data(data);
                    return Some((Ok::<_, std::convert::Infallible>(e), st));
                }
                Step::Events { then } => {
                    let Ok(mut rows) =
                        read(&st.shared, |c| map::newest_events(c, None, EVENTS)).await
                    else {
                        return None;
                    };
                    rows.reverse();
                    st.step = Step::Follow(then);
                    let records: Vec<&str> = rows.iter().map(|(_, r)| r.as_str()).collect();
                    let e = SseEvent::default()
                        .event("ready")
                        .id(then.id())
                        .retry(Duration::from_secs(1))
                        .data(format!("{{\"events\":[{}]}}", records.join(",")));
                    return Some((Ok(e), st));
                }
                Step::Follow(from) => {
                    if st.started.elapsed() >= STREAM_TURN || st.stop.is_shutdown() {
                        return None;
                    }
                    if st.idle {
                        tokio::select! {
                            _ = tokio::time::sleep(TICK) => {}
                            _ = st.stop.recv() => return None,
                        }
                    }
                    let r = read(&st.shared, move |c| {
                        let (dots, vessels) = map::changed_since(c, from.vessels, CHUNK)?;
                        let events = map::events_since(c, from.event, EVENTS)?;
                        Ok((dots, vessels, events))
                    })
                    .await;
                    let Ok((mut dots, vessels, events)) = r else {
                        return None;
                    };
                    let next = Position {
                        vessels,
                        event: events.last().map_or(from.event, |(id, _)| *id),
                    };
                    st.step = Step::Follow(next);
                    // A full chunk means more is waiting: look again at once.
                    st.idle = dots.len() < CHUNK && events.len() < EVENTS;
                    if next == from {
                        continue;
                    }
                    label(&st.shared, &mut dots);
                    let records: Vec<&str> = events.iter().map(|(_, r)| r.as_str()).collect();
                    let data = format!(
                        "{{\"vessels\":{},\"events\":[{}]}}",
                        serde_json::to_string(&dots).expect("dots serialise"),
                        records.join(",")
                    );
                    let e = SseEvent::default().event("update").id(next.id()).data(data);
                    return Some((Ok(e), st));
                }
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            takes_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("br, gzip;q=0.5"));
        assert!(with("deflate, gzip ; q=1"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip;q=0.0, br"));
        assert!(!with("br, deflate"));
        assert!(!with("x-gzip2"));
        assert!(!takes_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_tile_layer_must_be_a_url_template() {
        let with = |t: &str| super::super::http::HttpConfig {
            tiles: Some(t.into()),
            ..Default::default()
        };
        assert!(
            with("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
                .validate()
                .is_ok()
        );
        for bad in [
            "tile.openstreetmap.org/{z}/{x}/{y}.png",
            "https://tile.openstreetmap.org/{z}/{x}.png",
            "file:///etc/{z}/{x}/{y}",
        ] {
            let e = with(bad).validate().unwrap_err().to_string();
            assert!(e.contains("http.tiles"), "{bad}: {e}");
        }
        let settings = MapSettings::from_config(
            &with("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
            true,
        );
        assert!(settings.live);
        assert_eq!(
            settings.tiles.as_deref(),
            Some("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        );
    }

    #[test]
    fn a_stream_position_reads_back_as_written() {
        let p = Position {
            vessels: Cursor {
                changed: 42,
                mmsi: 273_000_201,
            },
            event: 7,
        };
        assert_eq!(p.id(), "42.273000201.7");
        assert_eq!(Position::parse(&p.id()), Some(p));
        for bad in [
            "", "1.2", "1.2.3.4", "a.b.c", "1.-2.3", "1.2.x", "-5.0.-3", "5.0.-3",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_gzipped_or_not() {
        let mut gzip = HeaderMap::new();
        gzip.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        for a in &ASSETS {
            let plain = asset(a.name, &HeaderMap::new()).await;
            assert_eq!(plain.status(), StatusCode::OK, "{}", a.name);
            assert_eq!(plain.headers()[header::CONTENT_TYPE], a.mime, "{}", a.name);
            assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
            let zipped = asset(a.name, &gzip).await;
            assert_eq!(
                zipped.headers().get(header::CONTENT_ENCODING).is_some(),
                a.gzipped,
                "{}",
                a.name
            );
            // What the client gets is the file either way: the inflated gzip is the plain body.
            let plain = axum::body::to_bytes(plain.into_body(), usize::MAX)
                .await
                .unwrap();
            let zipped = axum::body::to_bytes(zipped.into_body(), usize::MAX)
                .await
                .unwrap();
            let mut inflated = Vec::new();
            if a.gzipped {
                use std::io::Read;
                flate2::read::GzDecoder::new(&zipped[..])
                    .read_to_end(&mut inflated)
                    .unwrap();
            } else {
                inflated = zipped.to_vec();
            }
            assert_eq!(inflated, plain, "{}", a.name);
        }
        assert_eq!(
            asset("../Cargo.toml", &HeaderMap::new()).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
