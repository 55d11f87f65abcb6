//! The feed clock: the time of every message, per feed, from the best clock the feed has.
//!
//! Owns the decision of what time a decoded message happened, between the front end and the
//! movement engine. In order of preference: the message's own time (tag block `c:`, a log's
//! timestamp); else the receiver's clock sentences (`$xxZDA`, `$xxRMC`, `$PGHP`); else a consensus of
//! base-station (type 4) reports; else, live, the arrival time. Between two clock readings, the UTC
//! second that position reports carry moves the clock on (a report's second is the second it was
//! made, heard within a second or two), so an untimed recording keeps real time between base
//! station reports.
//!
//! Times are data and can lie: a time far ahead of or far behind the feed's running clock is held
//! until messages after it confirm it (a feed that really skipped, a recording resumed after a
//! gap), and otherwise rejected, counted, and the message re-timed by the running clock. A base
//! station whose clock disagrees with the consensus is ignored and counted. Replay never reads the
//! wall clock: messages before a feed's first clock are held (bounded, counted) and stamped once it
//! is known, and a feed with no clock at all is replayed on a relative clock that starts at the
//! Unix epoch, so that its event times cannot be mistaken for real ones.
//!
//! Pure: the caller passes the arrival time (live) and the latest plausible time (the wall clock
//! plus a margin), read at the I/O edge. It never performs I/O or reads a clock.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use vesselwatch_ais::decode::AisMessage;
use vesselwatch_ais::frontend::Decoded;
use vesselwatch_ais::time::UnixMillis;

/// No AIS recording is older than this (2000-01-01T00:00:00Z): the first AIS standard is of 1998
/// and equipment carriage began in 2002. GPS receivers without a fix and base stations with an
/// unset clock report 1980 or 1997; those are not times.
pub const EARLIEST: UnixMillis = UnixMillis(946_684_800_000);

/// Where a message's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockSource {
    /// The message's own time: tag block or log timestamp.
    Stated,
    /// The receiver's clock sentences.
    Receiver,
    /// A consensus of base-station reports.
    BaseStations,
    /// The arrival time (live only).
    Arrival,
    /// No clock at all: a relative clock from the Unix epoch (replay only).
    Relative,
}

impl ClockSource {
    /// Every source, in summary order.
    pub const ALL: [ClockSource; 5] = [
        ClockSource::Stated,
        ClockSource::Receiver,
        ClockSource::BaseStations,
        ClockSource::Arrival,
        ClockSource::Relative,
    ];

    /// A short stable name for summaries and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ClockSource::Stated => "stated",
            ClockSource::Receiver => "receiver",
            ClockSource::BaseStations => "base_stations",
            ClockSource::Arrival => "arrival",
            ClockSource::Relative => "relative",
        }
    }
}

/// Whether the clock serves a replay (hold, never the wall clock) or a live feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Recorded feeds: messages before the first clock are held; no arrival time exists.
    Replay,
    /// Live feeds: the arrival time is the last resort and bounds plausible times.
    Live,
}

/// Limits of the feed clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSettings {
    /// Replay or live.
    pub mode: Mode,
    /// A time this far ahead of the running clock needs confirmation.
    pub far_ahead_ms: i64,
    /// A time this far behind the running clock needs confirmation. Larger than `far_ahead_ms`,
    /// because relayed and satellite feeds deliver late reports as a matter of course.
    pub far_behind_ms: i64,
    /// Consecutive messages whose times agree with each other that confirm a jump.
    pub confirm: usize,
    /// Messages held per feed while waiting for its first clock (replay).
    pub max_held: usize,
}

impl ClockSettings {
    /// The defaults for `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            far_ahead_ms: 10 * 60_000,
            far_behind_ms: 24 * 3_600_000,
            confirm: 5,
            max_held: 100_000,
        }
    }
}

/// What the feed clocks did, for the summary and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockStats {
    /// Messages timed, by [`ClockSource`] (in [`ClockSource::ALL`] order).
    pub timed_by: [u64; 5],
    /// Messages held until their feed's first clock was known.
    pub held: u64,
    /// Held messages dropped because the hold was full (the oldest go first).
    pub held_dropped: u64,
    /// Stated or receiver times rejected as far ahead of the running clock (or of the latest
    /// plausible time).
    pub rejected_ahead: u64,
    /// Stated or receiver times rejected as far behind the running clock (or before 2000).
    pub rejected_behind: u64,
    /// Jumps of the running clock confirmed by the messages after them.
    pub jumps: u64,
    /// Base-station reports whose time was ignored: unavailable, implausible, or disagreeing with
    /// the consensus.
    pub stations_ignored: u64,
    /// Feeds replayed on the relative clock because they had no usable clock.
    pub relative_feeds: u64,
}

/// A message with the time the feed clock gave it.
pub type Timed = (Decoded, UnixMillis);

/// How long a new live feed's messages wait for a clock of the feed's own before the arrival time
/// is taken: two base-station intervals.
pub const LIVE_HOLD_MS: i64 = 20_000;

/// Agreement of two base stations: within this of each other.
const STATION_AGREE_MS: i64 = 120_000;
/// A base station may be this far behind the running estimate and still agree with it.
const STATION_BEHIND_MS: i64 = 60_000;

#[derive(Debug, Default)]
struct FeedClock {
    /// The running clock: the latest accepted time.
    running: Option<UnixMillis>,
    /// Which source set `running` last.
    source: Option<ClockSource>,
    /// The latest five candidate times, from which report seconds advance `running`.
    recent: VecDeque<i64>,
    /// Messages with a stated time far from `running`, waiting for confirmation.
    suspect: Vec<Timed>,
    /// Messages waiting for the first clock (replay).
    held: VecDeque<Decoded>,
    /// Live: the arrival time of the first message held, which bounds how long it waits.
    held_since: Option<UnixMillis>,
    /// The receiver time already applied, so that one clock line is applied once.
    receiver_applied: Option<UnixMillis>,
    /// Base-station reports before a consensus (station, time).
    candidates: VecDeque<(u32, UnixMillis)>,
    /// Consecutive base-station reports that disagreed with the consensus.
    dissent: VecDeque<(u32, UnixMillis)>,
    /// Stations that have agreed with the consensus: only such a station may move it alone (a
    /// feed with one station that resumes after a gap); one that never agreed cannot.
    trusted: Vec<u32>,
}

/// The clocks of every feed.
#[derive(Debug)]
pub struct FeedClocks {
    settings: ClockSettings,
    feeds: FxHashMap<u32, FeedClock>,
    stats: ClockStats,
}

/// What the caller knows of the present, read at the I/O edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// When the message arrived (live); `None` in replay.
    pub arrival: Option<UnixMillis>,
    /// No message can be later than this (the wall clock plus a margin); `None` for no bound.
    pub latest: Option<UnixMillis>,
}

/// The UTC second a message carries (0–59), for refining a coarse clock.
fn report_second(d: &Decoded) -> Option<u8> {
    match &d.message {
        AisMessage::Position(p) | AisMessage::ExtendedClassB(p, _) => p.second.filter(|&s| s < 60),
        AisMessage::AidToNavigation(a) => Some(a.second).filter(|&s| s < 60),
        _ => None,
    }
}

/// The time nearest `clock` whose second is `second`: the report's minute is the clock's, or the
/// one before or after when that is nearer (a report may straddle a minute boundary).
fn refine(clock: UnixMillis, second: Option<u8>) -> UnixMillis {
    let Some(s) = second else {
        return clock;
    };
    // Times are within ±10^16 ms here (feeds state at most the year 9999), so none of this
    // saturates in practice; saturating keeps an absurd time absurd instead of wrapping it.
    let minute = clock.0.saturating_sub(clock.0.rem_euclid(60_000));
    let mut t = minute.saturating_add(i64::from(s).saturating_mul(1000));
    if t.saturating_sub(clock.0) > 30_000 {
        t = t.saturating_sub(60_000);
    } else if clock.0.saturating_sub(t) > 30_000 {
        t = t.saturating_add(60_000);
    }
    UnixMillis(t)
}

/// The second largest value (the only one for a single value; 0 for none, which no caller
/// passes).
fn second_latest(v: &VecDeque<i64>) -> i64 {
    let mut s: Vec<i64> = v.iter().copied().collect();
    s.sort_unstable();
    s.get(s.len().saturating_sub(2)).copied().unwrap_or(0)
}

/// The middle value of sorted times (0 for none, which no caller passes).
fn median(sorted: &[i64]) -> i64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// Counts one message timed by `source`.
fn count(timed_by: &mut [u64; 5], source: ClockSource) {
    if let Some(n) = timed_by.get_mut(source as usize) {
        *n = n.saturating_add(1);
    }
}

impl FeedClock {
    /// Advances the running clock by a refined report time, through the second latest of the
    /// latest five, so that one report with a wrong second cannot drag the clock ahead.
    fn advance(&mut self, t: UnixMillis) {
        if self.recent.len() == 5 {
            self.recent.pop_front();
        }
        self.recent.push_back(t.0);
        let m = UnixMillis(second_latest(&self.recent));
        if self.running.is_none_or(|r| m > r) {
            self.running = Some(m);
        }
    }

    fn trust(&mut self, station: u32) {
        if !self.trusted.contains(&station) && self.trusted.len() < 64 {
            self.trusted.push(station);
        }
    }

    fn anchor(&mut self, t: UnixMillis, source: ClockSource) {
        self.running = Some(t);
        self.source = Some(source);
        self.recent.clear();
        self.recent.push_back(t.0);
    }
}

impl FeedClocks {
    /// Clocks with the given limits.
    pub fn new(settings: ClockSettings) -> Self {
        Self {
            settings,
            feeds: FxHashMap::default(),
            stats: ClockStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ClockStats {
        self.stats
    }

    /// Messages held now, over all feeds.
    pub fn held(&self) -> usize {
        self.feeds
            .values()
            .map(|f| f.held.len().saturating_add(f.suspect.len()))
            .sum()
    }

    /// Messages held now for one feed (waiting for its first clock, or suspect times awaiting
    /// confirmation): until they are released, the feed's position is not fully processed.
    pub fn held_of(&self, feed: u32) -> usize {
        self.feeds
            .get(&feed)
            .map_or(0, |f| f.held.len().saturating_add(f.suspect.len()))
    }

    /// Times one message, calling `emit` for it and for any held messages it releases, in feed
    /// order. It may emit nothing (held until the feed's first clock).
    pub fn push(&mut self, d: Decoded, now: Now, mut emit: impl FnMut(Decoded, UnixMillis)) {
        let feed = d.meta.feed;
        let s = self.settings;
        let clock = self.feeds.entry(feed).or_default();
        let stats = &mut self.stats;
        let latest = match (s.mode, now.arrival, now.latest) {
            (Mode::Live, Some(a), l) => {
                let ahead = a.0.saturating_add(s.far_ahead_ms);
                Some(l.map_or(ahead, |l| l.0.min(ahead)))
            }
            (_, _, l) => l.map(|l| l.0),
        };
        let plausible = |t: UnixMillis, stats: &mut ClockStats| -> bool {
            if t < EARLIEST {
                stats.rejected_behind = stats.rejected_behind.saturating_add(1);
                false
            } else if latest.is_some_and(|l| t.0 > l) {
                stats.rejected_ahead = stats.rejected_ahead.saturating_add(1);
                false
            } else {
                true
            }
        };

        // 1. The message's own time.
        if let Some(t) = d.meta.time()
            && plausible(t, stats)
        {
            Self::stated(clock, s, stats, d, t, &mut emit);
            return;
        }

        // 2. The receiver's clock, applied once per clock line.
        if let Some(r) = d.meta.receiver_time
            && clock.receiver_applied != Some(r)
        {
            clock.receiver_applied = Some(r);
            if plausible(r, stats) {
                match clock.running {
                    Some(run) if r.0.saturating_sub(run.0) > s.far_ahead_ms => {
                        stats.rejected_ahead = stats.rejected_ahead.saturating_add(1)
                    }
                    Some(run) if run.0.saturating_sub(r.0) > s.far_behind_ms => {
                        stats.rejected_behind = stats.rejected_behind.saturating_add(1)
                    }
                    Some(run) if r < run && clock.source == Some(ClockSource::Receiver) => {}
                    _ => clock.anchor(r, ClockSource::Receiver),
                }
            }
        }

        // 3. Base-station reports.
        if let AisMessage::BaseStation(b) = &d.message {
            let mmsi = b.header.mmsi;
            match b.utc {
                Some(utc) if utc >= EARLIEST && latest.is_none_or(|l| utc.0 <= l) => {
                    Self::station(clock, stats, mmsi, utc)
                }
                _ => stats.stations_ignored = stats.stations_ignored.saturating_add(1),
            }
        }

        // 4. Live, the arrival time moves the clock on (never back) when nothing else has, or when
        // the feed's own clock has fallen more than half a minute behind it (rare base stations);
        // a feed far behind the wall clock (a backlog) keeps its own.
        if let (Mode::Live, Some(a)) = (s.mode, now.arrival) {
            let lag = clock.running.map(|run| a.0.saturating_sub(run.0));
            let arrival_leads = clock.source == Some(ClockSource::Arrival);
            match lag {
                // A new live feed waits a little for its own clock (base stations report every
                // 10 s): an old recording piped in must not be stamped with today's time.
                None if clock
                    .held_since
                    .is_some_and(|h| a.0.saturating_sub(h.0) >= LIVE_HOLD_MS) =>
                {
                    clock.anchor(a, ClockSource::Arrival)
                }
                None => {}
                Some(l) if l > 0 && l <= s.far_ahead_ms && (arrival_leads || l > 30_000) => {
                    clock.anchor(a, ClockSource::Arrival)
                }
                _ => {}
            }
        }

        let Some(running) = clock.running else {
            // Before the first clock: hold.
            stats.held = stats.held.saturating_add(1);
            if clock.held.is_empty() {
                clock.held_since = now.arrival;
            }
            clock.held.push_back(d);
            if clock.held.len() > s.max_held {
                // Full: the feed has no clock in sight. Start the relative clock.
                Self::go_relative(clock, stats, &mut emit);
            }
            return;
        };
        let source = clock.source.unwrap_or(ClockSource::Relative);
        Self::release_held(clock, stats, running, source, &mut emit);
        let t = refine(running, report_second(&d));
        clock.advance(t);
        count(&mut stats.timed_by, source);
        emit(d, t);
    }

    /// A message with a plausible stated time: accepted when near the running clock, otherwise held
    /// as suspect until confirmed or refuted.
    fn stated(
        clock: &mut FeedClock,
        s: ClockSettings,
        stats: &mut ClockStats,
        d: Decoded,
        t: UnixMillis,
        emit: &mut impl FnMut(Decoded, UnixMillis),
    ) {
        let near = |run: UnixMillis| {
            t.0.saturating_sub(run.0) <= s.far_ahead_ms
                && run.0.saturating_sub(t.0) <= s.far_behind_ms
        };
        // Live, the wall clock has already bounded the time from above: the first one is taken as
        // it is. In replay, the first times must confirm each other.
        let start = clock.running.is_none() && s.mode == Mode::Live;
        match clock.running {
            _ if start => {
                clock.anchor(t, ClockSource::Stated);
                count(&mut stats.timed_by, ClockSource::Stated);
                emit(d, t);
            }
            Some(run) if near(run) => {
                // Suspects waiting are refuted by a time near the running clock.
                Self::refute_suspects(clock, stats, emit);
                if t > run {
                    clock.anchor(t, ClockSource::Stated);
                }
                clock.source = Some(ClockSource::Stated);
                if !clock.held.is_empty() {
                    Self::release_held(clock, stats, t, ClockSource::Stated, emit);
                }
                count(&mut stats.timed_by, ClockSource::Stated);
                emit(d, t);
            }
            _ => {
                // No running clock yet, or far from it: wait for confirmation.
                clock.suspect.push((d, t));
                let times: Vec<i64> = clock.suspect.iter().map(|(_, t)| t.0).collect();
                let (lo, hi) = (
                    *times.iter().min().expect("one"),
                    *times.iter().max().expect("one"),
                );
                if hi.saturating_sub(lo) > s.far_ahead_ms {
                    // The suspects disagree among themselves: the oldest goes.
                    let (d0, _) = clock.suspect.remove(0);
                    Self::reject(clock, stats, d0, emit);
                    return;
                }
                if clock.suspect.len() >= s.confirm {
                    if clock.running.is_some() {
                        stats.jumps = stats.jumps.saturating_add(1);
                    }
                    let mut sorted = times;
                    sorted.sort_unstable();
                    clock.anchor(UnixMillis(median(&sorted)), ClockSource::Stated);
                    let anchor = clock.running.expect("anchored");
                    Self::release_held(clock, stats, anchor, ClockSource::Stated, emit);
                    for (d, t) in std::mem::take(&mut clock.suspect) {
                        if t > clock.running.expect("anchored") {
                            clock.running = Some(t);
                        }
                        count(&mut stats.timed_by, ClockSource::Stated);
                        emit(d, t);
                    }
                }
            }
        }
    }

    /// A stated time found implausible: counted, and the message timed by the running clock.
    fn reject(
        clock: &mut FeedClock,
        stats: &mut ClockStats,
        d: Decoded,
        emit: &mut impl FnMut(Decoded, UnixMillis),
    ) {
        let (Some(run), Some(t)) = (clock.running, d.meta.time()) else {
            // Nothing to time it by yet: keep it with the held messages.
            stats.held = stats.held.saturating_add(1);
            clock.held.push_back(d);
            return;
        };
        if t > run {
            stats.rejected_ahead = stats.rejected_ahead.saturating_add(1);
        } else {
            stats.rejected_behind = stats.rejected_behind.saturating_add(1);
        }
        let source = clock.source.unwrap_or(ClockSource::Stated);
        count(&mut stats.timed_by, source);
        let t = refine(run, report_second(&d));
        emit(d, t);
    }

    fn refute_suspects(
        clock: &mut FeedClock,
        stats: &mut ClockStats,
        emit: &mut impl FnMut(Decoded, UnixMillis),
    ) {
        for (d, _) in std::mem::take(&mut clock.suspect) {
            Self::reject(clock, stats, d, emit);
        }
    }

    /// A base station's report: extends or establishes the consensus, or is ignored.
    fn station(clock: &mut FeedClock, stats: &mut ClockStats, mmsi: u32, utc: UnixMillis) {
        if let Some(run) = clock.running {
            if clock.source == Some(ClockSource::Stated)
                || clock.source == Some(ClockSource::Receiver)
            {
                // A better clock is in charge; stations only time the messages it does not.
                return;
            }
            let offset = utc.0.saturating_sub(run.0);
            if (-STATION_BEHIND_MS..=10 * 60_000).contains(&offset) {
                clock.dissent.clear();
                clock.trust(mmsi);
                if utc > run {
                    clock.anchor(utc, ClockSource::BaseStations);
                }
                clock.source = Some(ClockSource::BaseStations);
                return;
            }
            stats.stations_ignored = stats.stations_ignored.saturating_add(1);
            clock.dissent.push_back((mmsi, utc));
            if clock.dissent.len() > 3 {
                clock.dissent.pop_front();
            }
            // The consensus moves only when reports after it agree with each other and not with it:
            // two stations, or one station three times running that agreed with it before.
            if let Some((t, stations)) = agreeing(&clock.dissent)
                && (stations.len() > 1 || clock.trusted.contains(&mmsi))
            {
                clock.dissent.clear();
                stats.jumps = stats.jumps.saturating_add(1);
                clock.anchor(t, ClockSource::BaseStations);
                for s in stations {
                    clock.trust(s);
                }
            }
            return;
        }
        clock.candidates.push_back((mmsi, utc));
        if clock.candidates.len() > 16 {
            clock.candidates.pop_front();
        }
        if let Some((t, stations)) = agreeing(&clock.candidates) {
            clock.candidates.clear();
            clock.anchor(t, ClockSource::BaseStations);
            for s in stations {
                clock.trust(s);
            }
        }
    }

    fn release_held(
        clock: &mut FeedClock,
        stats: &mut ClockStats,
        anchor: UnixMillis,
        source: ClockSource,
        emit: &mut impl FnMut(Decoded, UnixMillis),
    ) {
        clock.held_since = None;
        if clock.held.is_empty() {
            return;
        }
        // Walk back from the anchor through the held messages' report seconds, so that each gets
        // the time it was made rather than the anchor's.
        let held: Vec<Decoded> = clock.held.drain(..).collect();
        // Negated, so that `second_latest` gives the second earliest. Feed times are far inside
        // ±i64::MAX, so negating saturates in no real case.
        let mut recent: VecDeque<i64> = VecDeque::from([anchor.0.saturating_neg()]);
        let mut back = anchor;
        let mut times: Vec<UnixMillis> = held
            .iter()
            .rev()
            .map(|d| {
                let t = refine(back, report_second(d)).min(anchor);
                if recent.len() == 5 {
                    recent.pop_front();
                }
                recent.push_back(t.0.saturating_neg());
                back = back.min(UnixMillis(second_latest(&recent).saturating_neg()));
                t
            })
            .collect();
        times.reverse();
        for (d, t) in held.into_iter().zip(times) {
            count(&mut stats.timed_by, source);
            emit(d, t);
        }
    }

    fn go_relative(
        clock: &mut FeedClock,
        stats: &mut ClockStats,
        emit: &mut impl FnMut(Decoded, UnixMillis),
    ) {
        stats.relative_feeds = stats.relative_feeds.saturating_add(1);
        clock.anchor(UnixMillis(0), ClockSource::Relative);
        let held: Vec<Decoded> = clock.held.drain(..).collect();
        for d in held {
            let t = refine(clock.running.expect("anchored"), report_second(&d)).max(UnixMillis(0));
            clock.advance(t);
            count(&mut stats.timed_by, ClockSource::Relative);
            emit(d, t);
        }
    }

    /// Live: releases the messages of feeds that have waited [`LIVE_HOLD_MS`] for a clock of their
    /// own, timed by the arrival clock. The daemon calls it on every turn of its loop, so that a
    /// feed that falls silent does not keep its first messages.
    pub fn release_due(&mut self, now: Now, mut emit: impl FnMut(Decoded, UnixMillis)) {
        let Some(a) = now.arrival else {
            return;
        };
        let stats = &mut self.stats;
        let mut feeds: Vec<u32> = self
            .feeds
            .iter()
            .filter(|(_, c)| {
                c.held_since
                    .is_some_and(|h| a.0.saturating_sub(h.0) >= LIVE_HOLD_MS)
            })
            .map(|(f, _)| *f)
            .collect();
        feeds.sort_unstable();
        for f in feeds {
            let clock = self.feeds.get_mut(&f).expect("listed");
            clock.held_since = None;
            if clock.held.is_empty() {
                continue;
            }
            let anchor = match clock.running {
                Some(r) => r,
                None => {
                    clock.anchor(a, ClockSource::Arrival);
                    a
                }
            };
            let source = clock.source.unwrap_or(ClockSource::Arrival);
            Self::release_held(clock, stats, anchor, source, &mut emit);
        }
    }

    /// Ends a feed (end of a recording): suspects are decided and held messages released, on the
    /// best clock found or, failing any, the relative clock.
    pub fn finish_feed(&mut self, feed: u32, mut emit: impl FnMut(Decoded, UnixMillis)) {
        let Some(mut clock) = self.feeds.remove(&feed) else {
            return;
        };
        let stats = &mut self.stats;
        if !clock.suspect.is_empty() {
            if clock.running.is_none() {
                // Too few stated times to confirm each other: the few there are will do.
                let mut times: Vec<i64> = clock.suspect.iter().map(|(_, t)| t.0).collect();
                times.sort_unstable();
                clock.anchor(UnixMillis(median(&times)), ClockSource::Stated);
                let anchor = clock.running.expect("anchored");
                Self::release_held(&mut clock, stats, anchor, ClockSource::Stated, &mut emit);
                for (d, t) in std::mem::take(&mut clock.suspect) {
                    count(&mut stats.timed_by, ClockSource::Stated);
                    emit(d, t);
                }
            } else {
                Self::refute_suspects(&mut clock, stats, &mut emit);
            }
        }
        if clock.held.is_empty() {
            return;
        }
        // No consensus: a lone station's latest report is still better than no clock.
        if let Some(&(_, t)) = clock.candidates.back() {
            clock.anchor(t, ClockSource::BaseStations);
            Self::release_held(&mut clock, stats, t, ClockSource::BaseStations, &mut emit);
        } else {
            Self::go_relative(&mut clock, stats, &mut emit);
        }
    }

    /// Ends every feed (end of a replay).
    pub fn finish(&mut self, mut emit: impl FnMut(Decoded, UnixMillis)) {
        let mut feeds: Vec<u32> = self.feeds.keys().copied().collect();
        feeds.sort_unstable();
        for f in feeds {
            self.finish_feed(f, &mut emit);
        }
    }
}

/// The time two distinct stations agree on (within [`STATION_AGREE_MS`]), or one station three
/// times running: the latest of the agreeing reports, and the stations.
fn agreeing(reports: &VecDeque<(u32, UnixMillis)>) -> Option<(UnixMillis, Vec<u32>)> {
    let (last_station, last) = *reports.back()?;
    let others = reports.iter().rev().skip(1);
    for &(station, t) in others {
        if station != last_station && t.0.abs_diff(last.0) <= STATION_AGREE_MS.unsigned_abs() {
            return Some((last.max(t), vec![last_station, station]));
        }
    }
    let same: Vec<UnixMillis> = reports
        .iter()
        .rev()
        .take(3)
        .filter(|(s, _)| *s == last_station)
        .map(|(_, t)| *t)
        .collect();
    if same.len() == 3
        && same
            .iter()
            .all(|t| t.0.abs_diff(last.0) <= STATION_AGREE_MS.unsigned_abs())
    {
        return Some((last, vec![last_station]));
    }
    None
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use vesselwatch_ais::encode::{self, BaseStationReport, PositionReport};
    use vesselwatch_ais::frontend::FrontEnd;

    /// 2025-06-01T04:00:00Z.
    const T0: i64 = 1_748_750_400_000;

    fn position(mmsi: u32, t: i64) -> PositionReport {
        PositionReport {
            msg_type: 1,
            mmsi,
            status: 0,
            speed: Some(10.0),
            lat: 34.9,
            lon: 35.8,
            course: Some(90.0),
            heading: Some(90),
            second: ((t / 1000) % 60) as u8,
        }
    }

    /// A sentence made at `t` (ms): with its tag-block time when `tagged`, else bare.
    fn line(payload: (String, u8), t: i64, tagged: bool) -> String {
        let l = encode::sentences(&payload.0, payload.1, 'A', 0, "rT", t / 1000, 0).remove(0);
        if tagged {
            l
        } else {
            l[l.rfind('!').unwrap()..].to_string()
        }
    }

    fn pos_line(mmsi: u32, t: i64, tagged: bool) -> String {
        line(encode::position(&position(mmsi, t)).armour(), t, tagged)
    }

    fn base_line(mmsi: u32, t: i64, says: Option<i64>) -> String {
        let r = BaseStationReport {
            mmsi,
            utc: says.map(UnixMillis),
            lat: 34.9,
            lon: 35.9,
        };
        line(encode::base_station(&r).armour(), t, false)
    }

    /// Runs lines (of feed 0) through a front end and the clocks; returns (mmsi, time) per message.
    fn run(clocks: &mut FeedClocks, lines: &[String], now: Now) -> Vec<(u32, i64)> {
        let mut fe = FrontEnd::default();
        let mut out = Vec::new();
        for l in lines {
            if let Some(d) = fe.push_line(0, l.as_bytes()) {
                clocks.push(d, now, |d, t| out.push((d.message.header().mmsi, t.0)));
            }
        }
        clocks.finish(|d, t| out.push((d.message.header().mmsi, t.0)));
        out
    }

    const REPLAY: Now = Now {
        arrival: None,
        latest: Some(UnixMillis(T0 + 86_400_000)),
    };

    #[test]
    fn stated_times_pass_and_a_far_ahead_one_is_rejected_and_retimed() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Replay));
        let mut lines: Vec<String> = (0..10)
            .map(|i| pos_line(1, T0 + i * 10_000, true))
            .collect();
        // One sentence claims to be a day and a half ahead (within the plausible bound here, so only
        // the running clock can tell), then the feed goes on.
        lines.insert(6, pos_line(2, T0 + 36 * 3_600_000 + 55_000, true));
        // And one from the year 5138 (`c:99999999999`), beyond any plausible bound.
        let tag = "s:rT,c:99999999999";
        let body = &pos_line(3, T0 + 75_000, false)[1..];
        let cs = |s: &str| s.bytes().fold(0u8, |a, b| a ^ b);
        let l = format!(
            "\\{tag}*{:02X}\\{}",
            cs(tag),
            &pos_line(3, T0 + 75_000, false)
        );
        assert!(l.ends_with(body));
        lines.insert(8, l);
        let out = run(&mut c, &lines, REPLAY);
        assert_eq!(out.len(), 12);
        // Re-timed by the running clock: the suspect (second 55) sits between its neighbours.
        let two = out.iter().find(|(m, _)| *m == 2).unwrap().1;
        assert_eq!(two, T0 + 55_000);
        let three = out.iter().find(|(m, _)| *m == 3).unwrap().1;
        assert_eq!(three, T0 + 75_000);
        let s = c.stats();
        assert_eq!((s.rejected_ahead, s.rejected_behind, s.jumps), (2, 0, 0));
        assert_eq!(s.timed_by[ClockSource::Stated as usize], 12);
    }

    #[test]
    fn a_jump_confirmed_by_the_messages_after_it_is_taken() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Replay));
        let gap = 3 * 3_600_000;
        let lines: Vec<String> = (0..6)
            .map(|i| pos_line(1, T0 + i * 10_000, true))
            .chain((0..6).map(|i| pos_line(1, T0 + gap + i * 10_000, true)))
            .collect();
        let out = run(&mut c, &lines, REPLAY);
        let want: Vec<i64> = (0..6)
            .map(|i| T0 + i * 10_000)
            .chain((0..6).map(|i| T0 + gap + i * 10_000))
            .collect();
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), want);
        assert_eq!(c.stats().jumps, 1);
        assert_eq!(c.stats().rejected_ahead, 0);
    }

    #[test]
    fn untimed_messages_wait_for_the_base_station_consensus_and_ignore_a_wrong_station() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Replay));
        let wrong = -13 * 365 * 86_400_000;
        let mut lines = Vec::new();
        // 40 s of reports before any station: held, then stamped back from the consensus.
        for i in 0..5 {
            lines.push(pos_line(1, T0 + i * 8_000, false));
        }
        lines.push(base_line(900, T0 + 40_000, Some(T0 + 40_000 + wrong)));
        lines.push(base_line(901, T0 + 41_000, Some(T0 + 41_000)));
        lines.push(base_line(902, T0 + 42_000, Some(T0 + 42_000)));
        // Then two minutes of reports, the wrong station among them; the clock moves with the
        // reports' seconds between station reports.
        for i in 0..15 {
            let t = T0 + 45_000 + i * 8_000;
            lines.push(pos_line(1, t, false));
            if i % 5 == 0 {
                lines.push(base_line(900, t + 500, Some(t + 500 + wrong)));
            }
        }
        let out = run(&mut c, &lines, REPLAY);
        let got: Vec<i64> = out.iter().filter(|o| o.0 == 1).map(|o| o.1).collect();
        let want: Vec<i64> = (0..5)
            .map(|i| T0 + i * 8_000)
            .chain((0..15).map(|i| T0 + 45_000 + i * 8_000))
            .collect();
        assert_eq!(got, want);
        let s = c.stats();
        // Five positions and the reports of 900 and 901, which disagree; 902 agrees with 901.
        assert_eq!(s.held, 7);
        // The wrong station's first report was a candidate; its three later ones are ignored.
        assert_eq!(s.stations_ignored, 3);
        assert_eq!(
            s.timed_by[ClockSource::BaseStations as usize],
            out.len() as u64
        );
    }

    #[test]
    fn receiver_clock_is_preferred_to_base_stations() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Replay));
        let zda = |t: i64| {
            let (y, mo, d, h, mi, s) = UnixMillis(t).to_civil();
            let body = format!("GPZDA,{h:02}{mi:02}{s:02}.00,{d:02},{mo:02},{y},00,00");
            format!("${body}*{:02X}", body.bytes().fold(0u8, |a, b| a ^ b))
        };
        let lines = vec![
            zda(T0),
            pos_line(1, T0 + 1_000, false),
            // A station 20 minutes off, agreeing with nobody: ignored.
            base_line(900, T0 + 2_000, Some(T0 + 1_202_000)),
            zda(T0 + 60_000),
            pos_line(1, T0 + 61_000, false),
        ];
        let out = run(&mut c, &lines, REPLAY);
        assert_eq!(
            out.iter()
                .filter(|o| o.0 == 1)
                .map(|o| o.1)
                .collect::<Vec<_>>(),
            [T0 + 1_000, T0 + 61_000]
        );
        assert_eq!(c.stats().timed_by[ClockSource::Receiver as usize], 3);
    }

    #[test]
    fn a_feed_without_any_clock_is_replayed_on_a_relative_clock() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Replay));
        let lines: Vec<String> = (0..20)
            .map(|i| pos_line(1, T0 + i * 10_000, false))
            .collect();
        let out = run(&mut c, &lines, REPLAY);
        // The epoch plus the report seconds: 0 s (T0 is on a whole minute), 10 s, ... 190 s.
        assert_eq!(
            out.iter().map(|o| o.1).collect::<Vec<_>>(),
            (0..20).map(|i| i * 10_000).collect::<Vec<_>>()
        );
        assert_eq!(c.stats().relative_feeds, 1);
        assert_eq!(c.stats().held, 20);
    }

    #[test]
    fn live_uses_arrival_and_bounds_stated_times_by_it() {
        let mut c = FeedClocks::new(ClockSettings::new(Mode::Live));
        let mut out = Vec::new();
        let now = |t: i64| Now {
            arrival: Some(UnixMillis(t)),
            latest: None,
        };
        // An untimed report arriving 1.5 s after it was made waits for a clock of the feed's own;
        // none comes, so after 20 s it is timed by arrival, and the report's second wins.
        let line = |feed: u32, mmsi: u32, t: i64, tagged: bool| {
            FrontEnd::default()
                .push_line(feed, pos_line(mmsi, t, tagged).as_bytes())
                .unwrap()
        };
        c.push(line(0, 1, T0 + 20_000, false), now(T0 + 21_500), |_, t| {
            out.push(t.0)
        });
        c.release_due(now(T0 + 30_000), |_, t| out.push(t.0));
        assert!(out.is_empty());
        c.release_due(now(T0 + 42_000), |_, t| out.push(t.0));
        assert_eq!(out, [T0 + 20_000]);
        // Later reports are timed at once.
        c.push(line(0, 1, T0 + 50_000, false), now(T0 + 50_900), |_, t| {
            out.push(t.0)
        });
        // A tagged one on a new feed stating a time an hour after its arrival: the time is rejected,
        // and the message waits like an untimed one, then is timed by arrival and its second (0).
        c.push(
            line(1, 2, T0 + 3_600_000, true),
            now(T0 + 52_000),
            |_, t| out.push(t.0),
        );
        c.release_due(now(T0 + 72_000), |_, t| out.push(t.0));
        assert_eq!(out, [T0 + 20_000, T0 + 50_000, T0 + 60_000]);
        assert_eq!(c.stats().rejected_ahead, 1);
    }
}
