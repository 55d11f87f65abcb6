//! `vesselwatch replay`: recorded feeds through the daemon's pipeline, events printed as they happen.
//!
//! Owns reading the inputs (plain or gzip), pacing (as fast as possible, or N× real time by message
//! time), and printing events as text or JSON lines. The pipeline itself is the library's: front end,
//! then movement engine. Store and webhooks join in later issues; `--db` is accepted already.

use super::CommandError;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::progress::Progress;
use super::{CHUNK, InputTally, open_input_counted};
use crate::alerts::{self, delivery::Delivery};
use crate::config::Loaded;
use crate::store::{self, Batch, Checkpoint, outbox};
use std::sync::Arc;
use vesselwatch_ais::frontend::{Counters, Decoded, FrontEnd};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::feedclock::{
    ClockSettings, ClockSource, ClockStats, FeedClocks, Mode, Now,
};
use vesselwatch_engine::movement::{Engine, EngineStats};
use vesselwatch_engine::{Event, EventKind};

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the machine goes.
    Max,
    /// This many times real time, by message time.
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.trim_end_matches('x').parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "`{s}` is not a speed: use `max` or a factor such as 60"
            )),
        }
    }
}

/// How to print events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One readable line per event: what the query commands call `table`, the name used here too
    /// (`text`, its old name, is still accepted so that scripts keep working, but not offered).
    #[default]
    Table,
    /// One JSON object per line: the event record.
    Jsonl,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            // `text`: the name before the query commands' `table` was used here too.
            "table" | "text" => Ok(Format::Table),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(format!("`{s}` is not a format: use `table` or `jsonl`")),
        }
    }
}

/// Options of `vesselwatch replay`.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The configuration; by default `config/vesselwatch.toml` when it exists, else the built-in one.
    pub config: Option<PathBuf>,
    /// The database to record into; default from the config (`[store] path`, else `vesselwatch.db`
    /// beside the config file).
    pub db: Option<PathBuf>,
    /// Run without a database (events are printed only).
    pub no_store: bool,
    /// Send the alerts this replay records (otherwise they are only recorded).
    pub send_alerts: bool,
    /// With `send_alerts`: how long to wait at the end for the outbox to empty.
    pub wait: Duration,
    /// Pacing.
    pub speed: Speed,
    /// Output format.
    pub format: Format,
    /// Recorded feeds, in order; `-` for standard input.
    pub inputs: Vec<PathBuf>,
    /// A progress bar on standard error, when it is a terminal (`commands::progress`): a long
    /// replay otherwise looks hung. `--no-progress` turns it off.
    pub progress: bool,
}

/// What a replay did.
#[derive(Debug)]
pub struct ReplayReport {
    /// Front-end counters.
    pub counters: Counters,
    /// What the feed clocks did.
    pub clocks: ClockStats,
    /// Warnings for standard error: inputs mostly rejected, clocks that are not real.
    pub warnings: Vec<String>,
    /// Engine counters.
    pub engine: EngineStats,
    /// Vessels tracked at the end.
    pub vessels: usize,
    /// The database written, if any, and the transactions committed.
    pub store: Option<(PathBuf, u64)>,
    /// Alerts still undelivered at the end, per webhook (with `send_alerts`).
    pub undelivered: Vec<(String, i64)>,
    /// Per webhook: delivered, retries, dead, last error (with `send_alerts`).
    pub deliveries: Vec<(String, u64, u64, u64, Option<String>)>,
}

fn write_event(out: &mut dyn Write, format: Format, e: &Event) -> io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", e.to_text()),
        Format::Jsonl => writeln!(out, "{}", e.to_json()),
    }
}

/// Times later than the wall clock by more than this are refused as impossible in a recording.
const LATEST_MARGIN_MS: i64 = 24 * 3_600_000;

/// A batch is sent to the writer at least this often...
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// ...and whenever this many rows are waiting.
const FLUSH_ROWS: usize = 20_000;

/// The engine side of a replay. A recording older than the database's saved state is history:
/// replayed on a fresh engine (from the saved state, every report would be stale and nothing would
/// be recorded), its events and positions added, the saved state kept; then only the events the
/// database did not hold already are printed.
struct Decider {
    engine: Engine,
    events: Vec<Event>,
    /// The saved engine clock, when the database had state.
    restored: Option<UnixMillis>,
    /// The engine for history, ready before the first message.
    fresh: Option<Engine>,
    /// Decided at the first message: whether this replay is history.
    history: Option<bool>,
    /// A reader of the database, to tell recorded events from new ones in history.
    known: Option<rusqlite::Connection>,
    /// Events of the history already recorded.
    already: u64,
    db: Option<PathBuf>,
}

impl Decider {
    fn message(&mut self, d: &Decoded, t: UnixMillis) {
        if self.history.is_none() {
            let history = self.restored.is_some_and(|c| t < c);
            self.history = Some(history);
            if history && let Some(fresh) = self.fresh.take() {
                self.engine = fresh;
                self.known = self
                    .db
                    .as_deref()
                    .and_then(|db| store::open_read_only(db).ok());
            }
        }
        self.engine.on_message(d, t, &mut self.events);
    }

    /// Moves decided events to `unsaved`, printing those not recorded before.
    fn drain(&mut self, unsaved: &mut Vec<Event>, mut print: impl FnMut(&Event)) {
        for e in self.events.drain(..) {
            let known = self.history == Some(true)
                && self
                    .known
                    .as_ref()
                    .is_some_and(|c| store::query::event_exists(c, &e.id).unwrap_or(false));
            if known {
                self.already += 1;
            } else {
                print(&e);
            }
            unsaved.push(e);
        }
    }

    fn is_history(&self) -> bool {
        self.history == Some(true)
    }
}

/// Waits until every enabled webhook's queue is empty or `wait` has passed; returns what is left.
fn drain(db: &Path, wait: Duration) -> Vec<(String, i64)> {
    let deadline = Instant::now() + wait;
    loop {
        let left: Vec<(String, i64)> = match store::open_read_only(db) {
            Ok(c) => outbox::undelivered(&c)
                .unwrap_or_default()
                .into_iter()
                .filter(|(w, _)| !outbox::is_disabled(&c, w).unwrap_or(false))
                .collect(),
            Err(_) => Vec::new(),
        };
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a replay, printing events to `out` and recording them in the store.
pub fn run(opts: &ReplayOptions, out: &mut dyn Write) -> Result<ReplayReport, CommandError> {
    let loaded = Loaded::load(opts.config.as_deref())?;
    let mut engine = loaded.engine();
    let db = (!opts.no_store).then(|| opts.db.clone().unwrap_or_else(|| loaded.db_path()));
    let writer = match &db {
        Some(db) => Some(Arc::new(loaded.start_store(db.clone(), &mut engine)?)),
        None => None,
    };
    let hooks = &loaded.config.webhooks;
    // `--send-alerts` delivers while the replay runs: the delivery worker's tasks need a runtime,
    // and only they do, so one small runtime exists for them alone.
    let delivery = match (&writer, &db, opts.send_alerts && !hooks.is_empty()) {
        (Some(w), Some(db), true) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("webhooks")
                .enable_all()
                .build()
                .map_err(CommandError::Runtime)?;
            let started = {
                let _entered = runtime.enter();
                Delivery::start(loaded.endpoints()?, db.clone(), Arc::clone(w))?
            };
            Some((runtime, started))
        }
        _ => None,
    };
    let mut fe = FrontEnd::default();
    let events = Vec::new();
    let mut unsaved: Vec<Event> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut first_time: Option<UnixMillis> = None;
    let mut output_error = None;
    // Replay never times a message by the wall clock; it only bounds what a recording can hold
    // (nothing recorded is from tomorrow), which refuses times such as the year 5138.
    let now = Now {
        arrival: None,
        latest: Some(UnixMillis(crate::clock::now().0 + LATEST_MARGIN_MS)),
    };
    let mut clocks = FeedClocks::new(ClockSettings::new(Mode::Replay));
    let mut warnings = Vec::new();

    let restored = engine.clock();
    let mut dec = Decider {
        fresh: match restored {
            Some(_) => {
                let mut fresh = loaded.engine();
                fresh.enable_recording(loaded.config.store.sample_positions.millis());
                Some(fresh)
            }
            None => None,
        },
        engine,
        events,
        restored,
        history: None,
        known: None,
        already: 0,
        db: db.clone(),
    };
    // Set when the store's writer has stopped: reading on would only drop what is read, so the
    // replay stops and `finish` reports the writer's error.
    let stopped = std::cell::Cell::new(false);
    let flush = |dec: &mut Decider, unsaved: &mut Vec<Event>, feed: &Path, position: u64| {
        if let Some(w) = &writer {
            let alerts = alerts::route(hooks, unsaved);
            let urgent = delivery.is_some() && !alerts.is_empty();
            let checkpoint = Checkpoint {
                feed: feed.display().to_string(),
                position,
                file_id: None,
                message_time: dec.engine.clock(),
            };
            let history = dec.is_history();
            let mut batch = Batch::decided(
                &mut dec.engine,
                std::mem::take(unsaved),
                alerts,
                vec![checkpoint],
            );
            batch.history = history;
            if urgent {
                // Alerts go out as soon as they are committed, not at the next second.
                stopped.set(stopped.get() | w.send_and_wait(batch).is_err());
                if let Some((_, d)) = &delivery {
                    d.wake();
                }
            } else {
                stopped.set(stopped.get() | w.send(batch).is_err());
            }
        }
    };

    // The inputs' size when every one is a regular file (an ETA), else none: standard input, a
    // FIFO or `<(zcat ...)` has a size of 0, which would give a nonsense share and ETA.
    let total = opts
        .inputs
        .iter()
        .map(|p| {
            (p != Path::new("-"))
                .then(|| {
                    std::fs::metadata(p)
                        .ok()
                        .filter(std::fs::Metadata::is_file)
                        .map(|m| m.len())
                })
                .flatten()
        })
        .sum::<Option<u64>>();
    let progress = Progress::on_stderr(opts.progress, total);
    let paced = matches!(opts.speed, Speed::Factor(_));
    let mut done_bytes = 0u64;
    for (feed, path) in opts.inputs.iter().enumerate() {
        if stopped.get() {
            break;
        }
        let feed = feed as u32;
        let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let mut reader = open_input_counted(path, std::rc::Rc::clone(&read)).map_err(|source| {
            CommandError::Input {
                path: path.clone(),
                source,
            }
        })?;
        let mut position = 0u64;
        let before = InputTally::of(fe.counters());
        loop {
            let n = match super::read_some(&mut reader, &mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(source) => {
                    return Err(CommandError::Input {
                        path: path.clone(),
                        source,
                    });
                }
            };
            position += n as u64;
            let mut sink = |d: Decoded, t: UnixMillis| {
                dec.message(&d, t);
                if let (Speed::Factor(f), Some(now)) = (opts.speed, dec.engine.clock()) {
                    let first = *first_time.get_or_insert(now);
                    let due =
                        Duration::from_secs_f64(((now.0 - first.0).max(0) as f64 / 1000.0) / f);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                dec.drain(&mut unsaved, |e| {
                    if let Err(err) = progress.print(|| {
                        write_event(out, opts.format, e)?;
                        if progress.interleaved() {
                            out.flush()?;
                        }
                        Ok(())
                    }) {
                        output_error.get_or_insert(err);
                    }
                });
                if paced {
                    let _ = out.flush();
                    progress.reached(dec.engine.clock());
                }
            };
            fe.push_bytes(feed, &chunk[..n], |d| clocks.push(d, now, &mut sink));
            if progress.is_shown() {
                progress.update(
                    done_bytes + read.get(),
                    fe.counters().total(),
                    dec.engine.clock(),
                );
            }
            if let Some(e) = output_error.take() {
                return Err(CommandError::Output(e));
            }
            if last_flush.elapsed() >= FLUSH_EVERY
                || unsaved.len() + dec.engine.pending_positions() >= FLUSH_ROWS
                || (delivery.is_some() && !unsaved.is_empty())
            {
                flush(&mut dec, &mut unsaved, path, position);
                if stopped.get() {
                    break;
                }
                last_flush = Instant::now();
            }
        }
        fe.finish_feed(feed, |d| clocks.push(d, now, |d, t| dec.message(&d, t)));
        clocks.finish_feed(feed, |d, t| dec.message(&d, t));
        warnings.extend(InputTally::of(fe.counters()).warning(before, path));
        dec.drain(&mut unsaved, |e| {
            if let Err(err) = progress.print(|| write_event(out, opts.format, e)) {
                output_error.get_or_insert(err);
            }
        });
        if let Some(e) = output_error.take() {
            return Err(CommandError::Output(e));
        }
        flush(&mut dec, &mut unsaved, path, position);
        done_bytes += read.get();
    }
    progress
        .print(|| out.flush())
        .map_err(CommandError::Output)?;
    progress.finish();
    let mut undelivered = Vec::new();
    let mut deliveries = Vec::new();
    if let (Some((runtime, d)), Some(w), Some(db)) = (delivery, &writer, &db) {
        let _ = w.send_and_wait(Batch::default());
        d.wake();
        undelivered = drain(db, opts.wait);
        let mut names: Vec<&String> = d.stats.keys().collect();
        names.sort();
        for name in names {
            let s = &d.stats[name];
            let load =
                |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
            deliveries.push((
                name.clone(),
                load(&s.delivered),
                load(&s.retries),
                load(&s.dead),
                s.last_error.lock().ok().and_then(|e| e.clone()),
            ));
        }
        runtime.block_on(d.stop());
    }
    let store = match writer {
        Some(w) => {
            let transactions = w
                .stats()
                .transactions
                .load(std::sync::atomic::Ordering::Relaxed);
            // The delivery worker has stopped and dropped its handle: this is the last one.
            if let Ok(w) = Arc::try_unwrap(w) {
                w.finish()?;
            }
            db.map(|d| (d, transactions))
        }
        None => None,
    };
    Ok(ReplayReport {
        counters: fe.counters().clone(),
        clocks: clocks.stats(),
        warnings: {
            if clocks.stats().relative_feeds > 0 {
                warnings.push(format!(
                    "warning: {} input(s) had no usable clock (no timestamps, receiver clock or base-station reports): \
                     they were replayed on a relative clock starting at 1970-01-01T00:00:00Z, so their event times are \
                     durations from the start of the recording, not real times",
                    clocks.stats().relative_feeds
                ));
            }
            if let (true, Some(restored)) = (dec.is_history(), dec.restored) {
                warnings.push(format!(
                    "note: the recording is older than the database's state (which runs to {restored}): it was \
                     replayed on its own, its events, visits and positions added and the saved state kept; \
                     {} of its events were recorded before",
                    dec.already
                ));
            }
            warnings
        },
        engine: dec.engine.stats(),
        vessels: dec.engine.tracker().len(),
        store,
        undelivered,
        deliveries,
    })
}

/// The replay summary for standard error: what was decoded, what was lost and why, and which
/// clocks timed the messages, so that silence in the output can be told from data not read.
pub fn format_summary(r: &ReplayReport) -> String {
    let t = &r.engine.tracker;
    let c = &r.clocks;
    let mut s = format!(
        "decoded {}  vessels {}  fixes {}  duplicates {}  stale {}  quarantined {}\nlines:",
        r.counters.get(vesselwatch_ais::frontend::Outcome::Decoded),
        r.vessels,
        t.fixes,
        t.duplicates,
        t.stale,
        t.quarantined
    );
    let before = s.len();
    for (k, n) in r.counters.summary() {
        if !k.starts_with("decoded") {
            s.push_str(&format!(" {k} {n}"));
        }
    }
    if s.len() == before {
        s.push_str(" all decoded");
    }
    s.push_str("\nclock:");
    let mut timed = false;
    for src in ClockSource::ALL {
        let n = c.timed_by[src as usize];
        if n > 0 {
            timed = true;
            s.push_str(&format!(" {} {n}", src.name()));
        }
    }
    if !timed {
        s.push_str(" none");
    }
    s.push_str(&format!(
        "  held {}  rejected ahead {} behind {}  jumps {}  base-station times ignored {}\nevents:",
        c.held, c.rejected_ahead, c.rejected_behind, c.jumps, c.stations_ignored
    ));
    for (k, n) in EventKind::ALL.iter().zip(r.engine.events) {
        s.push_str(&format!(" {} {n}", k.as_str()));
    }
    s.push('\n');
    if let Some((db, _)) = &r.store {
        s.push_str(&format!("recorded in {}\n", db.display()));
    }
    for (webhook, delivered, retries, dead, last) in &r.deliveries {
        s.push_str(&format!(
            "webhook {webhook}: delivered {delivered}  retries {retries}  dead {dead}{}\n",
            last.as_ref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("vesselwatch: {w}\n"));
    }
    for (webhook, n) in &r.undelivered {
        s.push_str(&format!(
            "{n} alert(s) for webhook {webhook} not delivered yet; they stay queued\n"
        ));
    }
    s
}
