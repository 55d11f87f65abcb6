//! `/metrics`: the daemon's figures as OpenMetrics text, encoded by `prometheus-client`.
//!
//! Owns the metric names, their HELP texts, types and units, and the order of the families. It
//! renders values it is given and must never read a clock, the database or a socket: the HTTP
//! handler reads the database into [`StoreFigures`] and passes the time, so [`render`] is a
//! function of data that the unit tests below call directly.
//!
//! The exposed sample names are a compatibility contract (dashboards and alerts use them), listed
//! in `tests/metric-names.txt` and checked by the tests here and in `tests/daemon.rs`. A counter
//! family is named without `_total` and a family with a unit without its unit: the encoder appends
//! both (OpenMetrics), so the counter `vesselwatch_line_outcomes` exposes
//! `vesselwatch_line_outcomes_total`, and `vesselwatch_feed_lag` in seconds exposes
//! `vesselwatch_feed_lag_seconds`. The families, in order, as scraped:
//!
//! - `vesselwatch_messages_total{source}`, `vesselwatch_decoded_total{type}`,
//!   `vesselwatch_line_outcomes_total{outcome}`: what the front end made of the bytes.
//! - `vesselwatch_fragments_pending`, `vesselwatch_fragments_evicted_total{why}`: reassembly.
//! - `vesselwatch_vessels_tracked`.
//! - `vesselwatch_messages_timed_total{clock}`, `vesselwatch_times_rejected_total{why}`,
//!   `vesselwatch_base_station_times_ignored_total`, `vesselwatch_clock_jumps_total`,
//!   `vesselwatch_feed_lag_seconds`: the feed clocks.
//! - `vesselwatch_events_total{kind}`, `vesselwatch_reports_dropped_total{why}`: the engine.
//! - `vesselwatch_source_up{source}`, `vesselwatch_source_bytes_total{source}`,
//!   `vesselwatch_source_drops_total{source}`, `vesselwatch_source_last_data_age_seconds{source}`.
//! - `vesselwatch_outbox_undelivered{webhook}`, `vesselwatch_webhook_delivered_total{webhook}`,
//!   `vesselwatch_webhook_retries_total{webhook}`, `vesselwatch_webhook_dead_total{webhook}`.

use std::fmt;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::{Shared, Snapshot};
use vesselwatch_ais::frontend::Outcome;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::EventKind;
use vesselwatch_engine::feedclock::ClockSource;

/// The `Content-Type` of [`render`]'s output: Prometheus picks its parser by it, and only with it
/// reads a counter family `x` with sample `x_total` as one family. A classic-format parser (what
/// `promtool check metrics` uses) reads the samples too, but sees each `x_total` as a family of
/// its own, without HELP or TYPE.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/metrics` reads from the database, gathered by the handler before rendering, so that
/// rendering does no I/O and a scrape holds no connection while it encodes.
#[derive(Debug, Clone, Default)]
pub struct StoreFigures {
    /// Alerts not yet delivered (pending or failed) per webhook, as `outbox::undelivered` gives
    /// them: webhooks with nothing queued are absent (rendered as 0 when configured). Empty when
    /// the database could not be read.
    pub undelivered: Vec<(String, i64)>,
}

/// Renders every metric family as OpenMetrics text, ending in `# EOF`.
///
/// `now` is the wall clock, for the ages (`vesselwatch_feed_lag_seconds`,
/// `vesselwatch_source_last_data_age_seconds`); it is an argument so that tests can pin it.
pub fn render(shared: &Shared, store: &StoreFigures, now: UnixMillis) -> String {
    // A fresh registry per scrape, holding one collector that owns this scrape's reading. Why
    // not long-lived metric objects (`Family<_, Counter>`) registered at startup: the values
    // already live elsewhere (the sources' atomics, the pipeline's snapshot, the delivery
    // workers' atomics, the database), so keeping them would mean copying every value into a
    // second set of atomics on each scrape, and a `Family` writes its label sets in hash order.
    // A collector writes `ConstCounter`/`ConstGauge` readings in a fixed order (families as
    // listed above, label sets in configuration order). It must be `'static`, hence the owned
    // reading; and the registry is per scrape because `Shared` has no place for one.
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Reading::take(shared, store, now)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("encoding into a String cannot fail: the collector only passes on write errors");
    out
}

/// One source's figures at the moment of the scrape.
#[derive(Debug)]
struct SourceReading {
    name: String,
    messages: u64,
    up: u64,
    bytes: u64,
    drops: u64,
    rejected: u64,
    full: u64,
    last_data_ms: i64,
}

/// One webhook's delivery counters at the moment of the scrape.
#[derive(Debug)]
struct WebhookReading {
    name: String,
    delivered: u64,
    retries: u64,
    dead: u64,
}

/// Everything one scrape shows, copied out of [`Shared`] and [`StoreFigures`].
#[derive(Debug)]
struct Reading {
    snap: Snapshot,
    sources: Vec<SourceReading>,
    webhooks: Vec<WebhookReading>,
    /// The outbox backlog per webhook: every configured one (0 when nothing is queued), then any
    /// other the database still holds alerts for (a webhook a reload removed).
    undelivered: Vec<(String, i64)>,
    writer: WriterReading,
    /// HTTP connections open, rejected, timed out; database reads refused.
    http: [u64; 4],
    now: UnixMillis,
}

/// The store writer's figures at the scrape.
#[derive(Debug)]
struct WriterReading {
    failing_since_ms: i64,
    pending: u64,
    retries: u64,
    reopens: u64,
    restores: u64,
}

impl Reading {
    fn take(shared: &Shared, store: &StoreFigures, now: UnixMillis) -> Self {
        let snap = shared.snapshot.lock().expect("not poisoned").clone();
        let sources = shared
            .source_names
            .iter()
            .zip(&shared.source_stats)
            .enumerate()
            .map(|(i, (name, st))| SourceReading {
                name: name.clone(),
                messages: snap.messages_by_source.get(i).copied().unwrap_or(0),
                up: st.up.load(Ordering::Relaxed),
                bytes: st.bytes.load(Ordering::Relaxed),
                drops: st.drops.load(Ordering::Relaxed),
                rejected: st.rejected.load(Ordering::Relaxed),
                full: st.full.load(Ordering::Relaxed),
                last_data_ms: st.last_data_ms.load(Ordering::Relaxed),
            })
            .collect();
        let webhooks: Vec<WebhookReading> = shared
            .deliveries
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(name, st)| WebhookReading {
                name: name.clone(),
                delivered: st.delivered.load(Ordering::Relaxed),
                retries: st.retries.load(Ordering::Relaxed),
                dead: st.dead.load(Ordering::Relaxed),
            })
            .collect();
        let queued = |name: &str| {
            (store.undelivered.iter())
                .find(|(w, _)| w == name)
                .map_or(0, |(_, n)| *n)
        };
        let mut undelivered: Vec<(String, i64)> = (webhooks.iter())
            .map(|w| (w.name.clone(), queued(&w.name)))
            .collect();
        for (name, n) in &store.undelivered {
            if !webhooks.iter().any(|w| &w.name == name) {
                undelivered.push((name.clone(), *n));
            }
        }
        let st = &shared.store;
        let writer = WriterReading {
            failing_since_ms: st.failing_since_ms.load(Ordering::Relaxed),
            pending: st.pending.load(Ordering::Relaxed),
            retries: st.retries.load(Ordering::Relaxed),
            reopens: st.reopens.load(Ordering::Relaxed),
            restores: st.restores.load(Ordering::Relaxed),
        };
        let h = &shared.http;
        let http = [&h.open, &h.rejected, &h.timed_out, &h.reads_refused]
            .map(|n| n.load(Ordering::Relaxed));
        Self {
            snap,
            sources,
            webhooks,
            undelivered,
            writer,
            http,
            now,
        }
    }

    /// Seconds from `then` (ms) to the scrape.
    fn age(&self, then_ms: i64) -> f64 {
        (self.now.0 - then_ms) as f64 / 1000.0
    }
}

impl Collector for Reading {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let snap = &self.snap;
        let c = &snap.counters;
        let sources = || self.sources.iter();
        let webhooks = || self.webhooks.iter();
        counter(
            &mut e,
            "vesselwatch_messages",
            "AIS messages decoded from each source; a message of several sentences counts once.",
            sources().map(|s| ([("source", s.name.as_str())], s.messages)),
        )?;
        counter(
            &mut e,
            "vesselwatch_decoded",
            "AIS messages decoded, by message type (1-3 class A position, 5 static, 18 class B...).",
            (c.by_type.iter().enumerate())
                .filter(|(_, n)| **n > 0)
                .map(|(t, n)| ([("type", t)], *n)),
        )?;
        counter(
            &mut e,
            "vesselwatch_line_outcomes",
            "Lines read from all sources, by what became of each: decoded, fragment_buffered, or \
             the reason it was skipped or rejected. The sum is every line read.",
            Outcome::ALL
                .iter()
                .map(|o| ([("outcome", o.name())], c.get(*o))),
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_fragments_pending",
            None,
            "Multi-sentence messages waiting for their remaining fragments now.",
            Some(snap.fragments_pending as u64),
        )?;
        let r = c.reassembly;
        counter(
            &mut e,
            "vesselwatch_fragments_evicted",
            "Incomplete multi-sentence messages discarded: expired (too old), cap (the table of \
             pending messages was full), superseded (a new first fragment with the same key).",
            [
                ("expired", r.expired),
                ("cap", r.evicted),
                ("superseded", r.superseded),
            ]
            .map(|(why, n)| ([("why", why)], n)),
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_vessels_tracked",
            None,
            "Vessels whose state the tracker holds now.",
            Some(snap.vessels as u64),
        )?;
        let en = &snap.engine;
        counter(
            &mut e,
            "vesselwatch_vessels_forgotten",
            "Vessels dropped from memory: silent (not heard for [monitor] forget_after) or cap \
             (the longest-silent tenth, when [monitor] max_vessels was reached). Their state \
             stays in the store and comes back if they are heard.",
            [("silent", en.forgotten_silent), ("cap", en.forgotten_cap)]
                .map(|(why, n)| ([("why", why)], n)),
        )?;
        counter_one(
            &mut e,
            "vesselwatch_vessels_recalled",
            "Forgotten vessels heard again whose state was read back from the store.",
            en.recalled,
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_encounter_pairs",
            None,
            "Pairs of vessels followed for encounters now (candidates and meetings under way).",
            Some(en.encounter_pairs),
        )?;
        counter_one(
            &mut e,
            "vesselwatch_encounter_pairs_refused",
            "Pairs of vessels close and slow that were not followed because [detect.encounter] \
             max_pairs were already: growth means meetings may go unreported.",
            en.encounter_pairs_refused,
        )?;
        let clocks = &snap.clocks;
        counter(
            &mut e,
            "vesselwatch_messages_timed",
            "Messages by where their time came from: stated (tag block or log), receiver (its \
             clock sentences), base_stations (their consensus), arrival (wall clock on receipt), \
             relative (replay without any clock).",
            ClockSource::ALL.map(|s| ([("clock", s.name())], clocks.timed_by[s as usize])),
        )?;
        counter(
            &mut e,
            "vesselwatch_times_rejected",
            "Stated or receiver times rejected as implausible: ahead of or behind the feed's \
             running clock. Growth means a receiver with a wrong clock.",
            [
                ("ahead", clocks.rejected_ahead),
                ("behind", clocks.rejected_behind),
            ]
            .map(|(why, n)| ([("why", why)], n)),
        )?;
        counter_one(
            &mut e,
            "vesselwatch_base_station_times_ignored",
            "Base-station reports whose time was not used: unavailable, implausible, or \
             disagreeing with the other stations.",
            clocks.stations_ignored,
        )?;
        counter_one(
            &mut e,
            "vesselwatch_clock_jumps",
            "Jumps of a feed's clock that the messages after them confirmed.",
            clocks.jumps,
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_feed_lag",
            Some(&Unit::Seconds),
            "How far the latest message time is behind the wall clock: a delayed or stalled \
             feed shows here. No sample before the first timed message.",
            snap.feed_time.map(|t| self.age(t.0)),
        )?;
        counter(
            &mut e,
            "vesselwatch_events",
            "Movement events emitted, by kind.",
            (EventKind::ALL.iter().zip(snap.engine.events))
                .map(|(k, n)| ([("kind", k.as_str())], n)),
        )?;
        let t = snap.engine.tracker;
        counter(
            &mut e,
            "vesselwatch_reports_dropped",
            "Position reports not applied: duplicate (heard from another receiver), stale (older \
             than the vessel's latest fix), quarantined (an implausible jump, held until the next \
             fix confirms it).",
            [
                ("duplicate", t.duplicates),
                ("stale", t.stale),
                ("quarantined", t.quarantined),
            ]
            .map(|(why, n)| ([("why", why)], n)),
        )?;
        gauge(
            &mut e,
            "vesselwatch_source_up",
            None,
            "1 while a source is connected, bound or open; 0 while it is down or reconnecting.",
            sources().map(|s| ([("source", s.name.as_str())], s.up)),
        )?;
        counter(
            &mut e,
            "vesselwatch_source_bytes",
            "Bytes received from each source.",
            sources().map(|s| ([("source", s.name.as_str())], s.bytes)),
        )?;
        counter(
            &mut e,
            "vesselwatch_source_drops",
            "Disconnects, stalls and read errors of each source; a client source then reconnects \
             with backoff.",
            sources().map(|s| ([("source", s.name.as_str())], s.drops)),
        )?;
        counter(
            &mut e,
            "vesselwatch_source_rejected",
            "Messages a source received but could not use (aisstream JSON that does not parse or \
             holds values out of range; NMEA lines are counted by outcome instead), and \
             connections a listener failed to accept (out of descriptors).",
            sources().map(|s| ([("source", s.name.as_str())], s.rejected)),
        )?;
        counter(
            &mut e,
            "vesselwatch_source_full",
            "Times a listener (tcp_listen) reached its max_connections: new receivers then wait in \
             the kernel's backlog until a connection ends or falls idle.",
            sources().map(|s| ([("source", s.name.as_str())], s.full)),
        )?;
        gauge(
            &mut e,
            "vesselwatch_source_last_data_age",
            Some(&Unit::Seconds),
            "Time since each source last delivered data; no sample before its first data.",
            sources()
                .filter(|s| s.last_data_ms > 0)
                .map(|s| ([("source", s.name.as_str())], self.age(s.last_data_ms))),
        )?;
        let w = &self.writer;
        gauge_one(
            &mut e,
            "vesselwatch_store_failing",
            Some(&Unit::Seconds),
            "How long store writes have been failing without a success (0 while they succeed). \
             Intake waits meanwhile; past [store] give_up_after the daemon stops non-zero.",
            Some(match w.failing_since_ms {
                0 => 0.0,
                t => self.age(t).max(0.0),
            }),
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_store_pending_batches",
            None,
            "Batches waiting for the store writer (queued or being retried).",
            Some(w.pending),
        )?;
        counter_one(
            &mut e,
            "vesselwatch_store_retries",
            "Store writes that failed with an error waiting may fix (locked, disk full, \
             read-only, I/O) and were retried.",
            w.retries,
        )?;
        counter_one(
            &mut e,
            "vesselwatch_store_reopens",
            "Times the store connection was opened again after a failure a new connection may \
             not have (read-only, cannot open, I/O error).",
            w.reopens,
        )?;
        counter_one(
            &mut e,
            "vesselwatch_store_restores",
            "Times the database file or its write-ahead log was found deleted or replaced and \
             the database was written anew from the open connection.",
            w.restores,
        )?;
        gauge_one(
            &mut e,
            "vesselwatch_http_connections",
            None,
            "HTTP connections open now (at most [http] max_connections).",
            Some(self.http[0]),
        )?;
        counter_one(
            &mut e,
            "vesselwatch_http_connections_rejected",
            "HTTP connections closed unserved: at the connection cap, or accepting failed (out \
             of descriptors).",
            self.http[1],
        )?;
        counter_one(
            &mut e,
            "vesselwatch_http_connections_timed_out",
            "HTTP connections closed for taking too long: headers not sent within 5 s, or open \
             longer than 120 s.",
            self.http[2],
        )?;
        counter_one(
            &mut e,
            "vesselwatch_http_reads_refused",
            "HTTP requests answered 503 because their database read got no turn or no answer \
             within 2 s (a locked or slow database, or four reads already running).",
            self.http[3],
        )?;
        gauge(
            &mut e,
            "vesselwatch_outbox_undelivered",
            None,
            "Alerts in the outbox not yet delivered (pending or failing) for each webhook.",
            (self.undelivered.iter()).map(|(w, n)| ([("webhook", w.as_str())], *n)),
        )?;
        counter(
            &mut e,
            "vesselwatch_webhook_delivered",
            "Alerts each webhook accepted (a 2xx response).",
            webhooks().map(|w| ([("webhook", w.name.as_str())], w.delivered)),
        )?;
        counter(
            &mut e,
            "vesselwatch_webhook_retries",
            "Delivery attempts that failed and will be retried: no response, 408, 429, 5xx, or \
             another 4xx not yet repeated enough to give up.",
            webhooks().map(|w| ([("webhook", w.name.as_str())], w.retries)),
        )?;
        counter(
            &mut e,
            "vesselwatch_webhook_dead",
            "Alerts dead-lettered: refused with a 4xx too many times, or older than the \
             webhook's max_age. They are not sent again unless retried by hand (alerts retry).",
            webhooks().map(|w| ([("webhook", w.name.as_str())], w.dead)),
        )
    }
}

/// Writes one counter family: its HELP and TYPE, then a `_total` sample per label set.
fn counter<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, n) in samples {
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one gauge family: HELP, TYPE, UNIT when given (appended to the name), then a sample
/// per label set.
fn gauge<L: EncodeLabelSet, V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    unit: Option<&Unit>,
    help: &str,
    samples: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut family = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes a counter family of one sample without labels (no `{}` after its name).
fn counter_one(e: &mut DescriptorEncoder, name: &str, help: &str, n: u64) -> fmt::Result {
    ConstCounter::new(n).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// Writes a gauge family of at most one sample without labels: `None` writes HELP and TYPE only
/// (the value is unknown yet, which is not the same as 0).
fn gauge_one<V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    unit: Option<&Unit>,
    help: &str,
    value: Option<V>,
) -> fmt::Result {
    let family = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    match value {
        Some(v) => ConstGauge::new(v).encode(family),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::delivery::EndpointStats;
    use crate::sources::SourceStats;
    use std::sync::atomic::AtomicI64;
    use std::sync::{Arc, Mutex};

    /// The compatibility contract: every sample name `/metrics` exposes, with its label
    /// (tests/metric-names.txt, shared with the real-binary test in tests/daemon.rs).
    fn scraped() -> Vec<(&'static str, Option<&'static str>)> {
        include_str!("../../tests/metric-names.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut words = l.split_whitespace();
                (words.next().unwrap(), words.next())
            })
            .collect()
    }

    const NOW: UnixMillis = UnixMillis(1_750_000_000_000);

    /// A daemon's shared state with every optional figure present: sources with data, a feed
    /// time, a decoded type, a webhook.
    fn shared(sources: &[&str], webhooks: &[&str]) -> Shared {
        let source_stats: Vec<Arc<SourceStats>> = sources
            .iter()
            .map(|_| {
                let s = SourceStats::default();
                s.bytes.store(4096, Ordering::Relaxed);
                s.up.store(1, Ordering::Relaxed);
                s.last_data_ms.store(NOW.0 - 250, Ordering::Relaxed);
                Arc::new(s)
            })
            .collect();
        let mut snap = Snapshot {
            messages_by_source: vec![7; sources.len()],
            feed_time: Some(UnixMillis(NOW.0 - 1_500)),
            vessels: 3,
            ..Snapshot::default()
        };
        snap.counters.by_type[1] = 5;
        snap.counters.by_type[5] = 2;
        snap.engine.events[1] = 4;
        Shared {
            source_names: sources.iter().map(|s| s.to_string()).collect(),
            source_stats,
            snapshot: Mutex::new(snap),
            heartbeat: AtomicI64::new(NOW.0),
            waiting_on_store: Default::default(),
            store: Default::default(),
            http: Default::default(),
            readers: Arc::new(tokio::sync::Semaphore::new(1)),
            db: "unused.db".into(),
            deliveries: Mutex::new(
                webhooks
                    .iter()
                    .map(|w| (w.to_string(), Arc::new(EndpointStats::default())))
                    .collect(),
            ),
            watchlist: Default::default(),
            map: Default::default(),
        }
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn sample_names_are_the_ones_users_scrape() {
        let text = render(&shared(&["feed"], &["ops"]), &StoreFigures::default(), NOW);
        let mut got: Vec<(&str, Option<&str>)> = samples(&text)
            .iter()
            .map(|l| {
                let name = l.split(['{', ' ']).next().unwrap();
                let label = l
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('{'))
                    .map(|rest| rest.split('=').next().unwrap());
                (name, label)
            })
            .collect();
        got.dedup();
        let mut want = scraped();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{text}");
    }

    #[test]
    fn every_family_has_help_then_type_once_and_owns_its_samples() {
        let text = render(
            &shared(&["a", "b"], &["ops"]),
            &StoreFigures::default(),
            NOW,
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        let mut families: Vec<(String, String)> = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line == "# EOF" {
                assert!(lines.peek().is_none());
                break;
            }
            let help = line.strip_prefix("# HELP ").expect(line);
            let (name, help) = help.split_once(' ').unwrap();
            // HELP is written as given: nothing in it may need escaping.
            assert!(
                !help.contains(['\\', '"', '\n']) && !help.is_empty(),
                "{line}"
            );
            let ty = lines.next().unwrap().strip_prefix("# TYPE ").unwrap();
            let (ty_name, ty) = ty.split_once(' ').unwrap();
            assert_eq!(ty_name, name);
            assert!(!families.iter().any(|(f, _)| f == name), "{name} twice");
            families.push((name.to_string(), ty.to_string()));
            if lines.peek().is_some_and(|l| l.starts_with("# UNIT ")) {
                let unit = lines.next().unwrap();
                assert!(name.ends_with(unit.rsplit(' ').next().unwrap()), "{unit}");
            }
            while let Some(sample) = lines.next_if(|l| !l.starts_with('#')) {
                let sample_name = sample.split(['{', ' ']).next().unwrap();
                let own = match ty {
                    "counter" => format!("{name}_total"),
                    _ => name.to_string(),
                };
                assert_eq!(sample_name, own, "{sample} under {name}");
            }
        }
        assert_eq!(families.len(), scraped().len());
    }

    #[test]
    fn label_values_with_quotes_backslashes_and_newlines_are_escaped() {
        let nasty = "north \"quay\" C:\\feeds\nsecond line";
        let text = render(&shared(&[nasty], &[nasty]), &StoreFigures::default(), NOW);
        let escaped = r#""north \"quay\" C:\\feeds\nsecond line""#;
        for line in [
            format!("vesselwatch_source_up{{source={escaped}}} 1"),
            format!("vesselwatch_source_bytes_total{{source={escaped}}} 4096"),
            format!("vesselwatch_webhook_delivered_total{{webhook={escaped}}} 0"),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        // No line was split by the newline in the name.
        assert!(
            text.lines()
                .all(|l| l.starts_with("# ") || l.starts_with("vesselwatch_"))
        );
    }

    #[test]
    fn ages_are_seconds_to_now_and_absent_until_known() {
        let s = shared(&["feed"], &[]);
        let text = render(&s, &StoreFigures::default(), NOW);
        assert!(
            text.contains("\nvesselwatch_feed_lag_seconds 1.5\n"),
            "{text}"
        );
        assert!(
            text.contains("\nvesselwatch_source_last_data_age_seconds{source=\"feed\"} 0.25\n")
        );
        s.snapshot.lock().unwrap().feed_time = None;
        s.source_stats[0].last_data_ms.store(0, Ordering::Relaxed);
        let text = render(&s, &StoreFigures::default(), NOW);
        assert!(
            !samples(&text)
                .iter()
                .any(|l| l.contains("_seconds") && !l.starts_with("vesselwatch_store_failing")),
            "{text}"
        );
        assert!(text.contains("# TYPE vesselwatch_feed_lag_seconds gauge\n"));
        // The store's failing time is always known: 0 while writes succeed.
        assert!(
            text.contains("\nvesselwatch_store_failing_seconds 0.0\n"),
            "{text}"
        );
        s.store
            .failing_since_ms
            .store(NOW.0 - 2_500, Ordering::Relaxed);
        let text = render(&s, &StoreFigures::default(), NOW);
        assert!(
            text.contains("\nvesselwatch_store_failing_seconds 2.5\n"),
            "{text}"
        );
    }

    #[test]
    fn outbox_backlog_is_zero_for_a_quiet_webhook_and_kept_for_a_removed_one() {
        let store = StoreFigures {
            undelivered: vec![("gone".into(), 3), ("ops".into(), 2)],
        };
        let text = render(&shared(&[], &["ops", "quiet"]), &store, NOW);
        for line in [
            "vesselwatch_outbox_undelivered{webhook=\"ops\"} 2",
            "vesselwatch_outbox_undelivered{webhook=\"quiet\"} 0",
            "vesselwatch_outbox_undelivered{webhook=\"gone\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        // A removed webhook has a backlog but no delivery worker: no counters made up for it.
        assert!(
            !samples(&text)
                .iter()
                .any(|l| l.starts_with("vesselwatch_webhook_") && l.contains("\"gone\""))
        );
    }
}
