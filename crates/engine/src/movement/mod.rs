//! The movement engine: decoded messages and clock ticks in, movement events out.
//!
//! Owns the state machine per (vessel, fence) that decides arrivals, departures and presence, with
//! hysteresis; the per-vessel rules for `dark`/`reappeared` and `holding`; gate transits; and the
//! engine clock (message time in replay). Pure: it never performs I/O or reads a clock; the caller
//! passes the arrival time and ticks. Same input, same events, byte for byte.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo::{Distance, Haversine};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::event::{Event, FixRecord, event_id};
use crate::geofence::{FenceSet, Zone};
use crate::settings::{MonitorConfig, Vessels, WatchConfig};
use crate::tracker::{Fix, Observation, Tracker, TrackerStats};
mod circle;
mod encounter;
mod memory;
mod recording;
mod snapshot;

pub use snapshot::{MovementSnapshot, VesselSnapshot};

use crate::vocab::Direction;
use crate::vocab::EventKind;
use crate::vocab::FenceKind;
use crate::watchlist::{Identity, Watchlist};
use vesselwatch_ais::decode::AisMessage;
use vesselwatch_ais::frontend::Decoded;
use vesselwatch_ais::time::UnixMillis;

/// A vessel holding off a port stays within this distance of where it stopped...
const HOLDING_RADIUS_M: f64 = 2000.0;
/// ...or moves no faster than this.
const HOLDING_MAX_SOG_KN: f32 = 1.0;

/// The engine's thresholds, from `[monitor]`.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    /// Watched vessels only, or all.
    pub vessels: Vessels,
    /// Silence before `dark`.
    pub dark_after_ms: i64,
    /// Holding time before `holding`.
    pub holding_after_ms: i64,
    /// Jump quarantine threshold.
    pub max_speed_kn: f64,
    /// Silence after which a vessel is forgotten from memory.
    pub forget_after_ms: i64,
    /// Vessels held in memory at most.
    pub max_vessels: usize,
    /// `loitering`: the spell it takes (ms) and the highest average speed (knots); `None` when
    /// it is off.
    pub loitering: Option<(i64, f64)>,
    /// `position_conflict`: the jumps that make an episode and the most time between two (ms);
    /// `None` when it is off.
    pub position_conflict: Option<(u32, i64)>,
    /// `encounter`: its thresholds; `None` when it is off.
    pub encounter: Option<EncounterSettings>,
}

/// `[detect.encounter]`, compiled: metres, knots and milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncounterSettings {
    /// Closer than this until started.
    pub max_m: f64,
    /// Farther than this once started: parted.
    pub part_m: f64,
    /// The highest median speed of each.
    pub max_sog_kn: f64,
    /// How long close before `encounter_started`.
    pub min_ms: i64,
    /// No encounter inside or this near a port or anchorage fence.
    pub harbour_m: f64,
    /// Pairs followed at most.
    pub max_pairs: usize,
}

impl From<&crate::settings::EncounterConfig> for EncounterSettings {
    fn from(e: &crate::settings::EncounterConfig) -> Self {
        Self {
            max_m: e.max_distance_m,
            part_m: e.part_distance_m,
            max_sog_kn: e.max_sog_kn,
            min_ms: e.min_duration.millis(),
            harbour_m: e.harbour_distance_km * 1000.0,
            max_pairs: e.max_pairs,
        }
    }
}

impl EngineSettings {
    /// These thresholds with the `[detect]` ones.
    pub fn with_detect(self, d: &crate::settings::DetectConfig) -> Self {
        Self {
            loitering: d
                .loitering
                .enabled
                .then(|| (d.loitering.min_duration.millis(), d.loitering.max_sog_kn)),
            position_conflict: d.position_conflict.enabled.then(|| {
                (
                    d.position_conflict.min_jumps,
                    d.position_conflict.window.millis(),
                )
            }),
            encounter: d
                .encounter
                .enabled
                .then(|| EncounterSettings::from(&d.encounter)),
            ..self
        }
    }
}

impl From<&MonitorConfig> for EngineSettings {
    fn from(m: &MonitorConfig) -> Self {
        Self {
            vessels: m.vessels,
            dark_after_ms: m.dark_after.millis(),
            holding_after_ms: m.holding_after.millis(),
            max_speed_kn: m.max_speed_kn,
            forget_after_ms: m.forget_after.millis(),
            max_vessels: m.max_vessels,
            loitering: Some((
                crate::settings::LoiteringConfig::default()
                    .min_duration
                    .millis(),
                crate::settings::LoiteringConfig::default().max_sog_kn,
            )),
            position_conflict: {
                let c = crate::settings::ConflictConfig::default();
                Some((c.min_jumps, c.window.millis()))
            },
            encounter: Some(EncounterSettings::from(
                &crate::settings::EncounterConfig::default(),
            )),
        }
    }
}

/// Where a forgotten vessel's state is found again when it is heard: the store, for the
/// application. A trait so that the engine stays free of I/O.
pub trait Recall: Send {
    /// The saved state of `mmsi`, if the store has one.
    fn recall(&mut self, mmsi: u32) -> Option<VesselSnapshot>;
}

/// How often (engine time) vessels silent past `forget_after` are looked for.
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// Where a vessel stands with one fence: the state machine's state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum FenceState {
    /// Never placed yet (first fix in the margin band).
    Unknown,
    /// Known outside.
    Outside {
        /// The last fix outside.
        last: Fix,
    },
    /// Inside, but not yet for `min_dwell`.
    Entering {
        /// The first fix inside.
        first_inside: Fix,
        /// The last fix before it, outside.
        last_outside: Fix,
    },
    /// Inside.
    Inside {
        /// The last fix inside.
        last: Fix,
        /// When the visit began.
        since: UnixMillis,
    },
}

/// A slow spell at sea, for `loitering`: saved with the vessel, so that a restart in the middle
/// of one goes on counting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loitering {
    /// The fix that began it.
    pub start: Fix,
    /// The latest fix in it.
    pub last: Fix,
    /// Speed times time over the spell (knot-milliseconds), for the time-weighted average.
    pub sog_ms: f64,
    /// Whether it has been reported.
    pub emitted: bool,
}

#[derive(Debug, Clone, Copy)]
struct Holding {
    fence: usize,
    anchor: Fix,
    emitted: bool,
}

/// Movement state of one monitored vessel.
#[derive(Debug, Default)]
struct Movement {
    /// Cached watch match and the statics version it was computed for.
    watch: Option<usize>,
    watch_version: Option<u32>,
    fences: Vec<(usize, FenceState)>,
    /// The port the vessel is in or approaching: where going silent counts as `dark`.
    dark_zone: Option<usize>,
    /// Set while dark: since when (last seen) and at which port.
    dark: Option<(UnixMillis, usize)>,
    /// Set on reappearing, until the next fix: the start of the silence, so that a departure found
    /// by that fix is marked inferred with the window of the gap.
    gap_since: Option<UnixMillis>,
    /// Time of the latest message that reached the movement rules: the `dark` deadline runs
    /// from it.
    heard: Option<UnixMillis>,
    /// Whether the dark queue holds an entry for this vessel. One at a time: an entry found
    /// early is moved to the true deadline, instead of one entry per message (1,440 per vessel a
    /// day at one report every 10 s with `dark_after = 4h`).
    queued: bool,
    holding: Option<Holding>,
    loitering: Option<Loitering>,
    /// Implausible jumps: when the episode's first and latest were, how many, whether reported.
    conflict: Option<(UnixMillis, UnixMillis, u32, bool)>,
    /// The latest fixes, for circle spoofing.
    recent: circle::Recent,
    /// False until the first fix has been placed against the fences: until then, the state of
    /// every fence is unknown (a vessel already in port gets `present`, not an arrival).
    placed: bool,
}

/// Counts of what the engine did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// The tracker's counters.
    pub tracker: TrackerStats,
    /// Events emitted, by kind (in [`EventKind::ALL`] order).
    pub events: [u64; EventKind::COUNT],
    /// Vessels forgotten from memory after `forget_after` of silence.
    pub forgotten_silent: u64,
    /// Vessels forgotten early because `max_vessels` was reached.
    pub forgotten_cap: u64,
    /// Forgotten vessels whose state was found again in the store when they were heard.
    pub recalled: u64,
    /// Pairs of vessels followed for encounters now (candidates and meetings).
    pub encounter_pairs: u64,
    /// New pairs not followed because `[detect.encounter] max_pairs` were.
    pub encounter_pairs_refused: u64,
}

/// The movement engine.
#[derive(Debug)]
pub struct Engine {
    settings: EngineSettings,
    fences: Arc<FenceSet>,
    watchlist: Watchlist,
    tracker: Tracker,
    movement: FxHashMap<u32, Movement>,
    dark_queue: BinaryHeap<Reverse<(i64, u32)>>,
    clock: Option<UnixMillis>,
    feed_time: Option<UnixMillis>,
    /// Scratch buffers for the fences near a fix, reused so that the per-fix path allocates nothing.
    near: Vec<usize>,
    ids: Vec<usize>,
    events: [u64; EventKind::COUNT],
    /// Vessels changed since the last [`Engine::take_snapshots`].
    dirty: FxHashSet<u32>,
    /// Positions to record since the last [`Engine::take_positions`].
    positions: Vec<(u32, Fix)>,
    /// Whether changes and positions are collected for a store at all.
    recording: bool,
    /// Sampling of unwatched vessels' positions: `None` records none.
    sample_others_ms: Option<i64>,
    last_sampled: FxHashMap<u32, i64>,
    /// Where forgotten vessels are found again.
    recall: Option<RecallBox>,
    /// Engine time of the next look for silent vessels.
    next_sweep: i64,
    forgotten_silent: u64,
    forgotten_cap: u64,
    recalled: u64,
    /// While every vessel old enough to forget is still waiting for the store: the tracker size
    /// at which to try again (not at every message).
    room_retry_at: usize,
    /// Who is near whom, and the pairs followed for encounters.
    enc: encounter::Encounters,
    /// Land polygons and how far inland a report must be to be impossible.
    land: Option<(Arc<FenceSet>, f64)>,
}

/// What made a report impossible for one ship, for `position_conflict`.
#[derive(Debug, Clone, Copy)]
enum Finding {
    /// A fix held back as an implausible jump.
    Jump,
    /// Fixes on a circle as only software draws one; the circle's first.
    Circle(Fix),
    /// A fix far inland.
    Land,
}

/// A boxed [`Recall`], with a `Debug` that says only whether there is one.
struct RecallBox(Box<dyn Recall>);

impl std::fmt::Debug for RecallBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recall")
    }
}

/// Linear interpolation of the time a track crossed a line, weighted by each fix's distance to it.
fn interpolate(a: &Fix, da: f64, b: &Fix, db: f64) -> UnixMillis {
    let frac = if da + db > 0.0 { da / (da + db) } else { 0.5 };
    // Saturating: fix times are feed times, far inside ±i64::MAX; the float cast saturates too.
    let span = b.time.0.saturating_sub(a.time.0) as f64;
    UnixMillis(a.time.0.saturating_add((span * frac).round() as i64))
}

fn record(f: &Fix) -> FixRecord {
    FixRecord {
        time: f.time,
        lat: f.lat,
        lon: f.lon,
    }
}

/// What an event needs beyond its kind, fence and time.
#[derive(Default)]
struct Detail {
    fix: Option<Fix>,
    change: Option<crate::tracker::IdentityChange>,
    encounter: Option<crate::event::Encounter>,
    pattern: Option<&'static str>,
    other_side: Option<Fix>,
    crossing_time: Option<UnixMillis>,
    window: Option<(UnixMillis, UnixMillis)>,
    inferred: bool,
    direction: Option<Direction>,
    visit_start: Option<UnixMillis>,
}

impl Engine {
    /// An engine for the `[monitor]` thresholds, compiled fences (shared with the configuration
    /// that built them, so a start or reload compiles them once) and the `[[watch]]` list.
    pub fn new(monitor: &MonitorConfig, fences: Arc<FenceSet>, watch: &[WatchConfig]) -> Self {
        Self::with_parts(EngineSettings::from(monitor), fences, Watchlist::new(watch))
    }

    /// An engine from compiled parts (benchmarks add fences this way).
    pub fn with_parts(
        settings: EngineSettings,
        fences: Arc<FenceSet>,
        watchlist: Watchlist,
    ) -> Self {
        Self {
            tracker: Tracker::new(settings.max_speed_kn),
            settings,
            fences,
            watchlist,
            movement: FxHashMap::default(),
            dark_queue: BinaryHeap::new(),
            clock: None,
            feed_time: None,
            near: Vec::new(),
            ids: Vec::new(),
            events: [0; EventKind::COUNT],
            dirty: FxHashSet::default(),
            positions: Vec::new(),
            recording: false,
            sample_others_ms: None,
            last_sampled: FxHashMap::default(),
            recall: None,
            next_sweep: i64::MIN,
            forgotten_silent: 0,
            forgotten_cap: 0,
            recalled: 0,
            room_retry_at: 0,
            enc: encounter::Encounters::for_settings(settings.encounter),
            land: None,
        }
    }

    /// Land (one polygon fence) for `position_conflict`: a report of a monitored vessel more than
    /// `margin_m` inside it counts as an implausible jump does.
    pub fn set_land(&mut self, land: Arc<FenceSet>, margin_m: f64) {
        self.land = Some((land, margin_m));
    }

    /// Where vessels forgotten from memory are found again when heard (the store).
    pub fn set_recall(&mut self, recall: Box<dyn Recall>) {
        self.recall = Some(RecallBox(recall));
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Entries in the dark queue: at most about one per vessel near a port (a gauge of the
    /// engine's memory, and what tests of that bound read).
    pub fn dark_deadlines(&self) -> usize {
        self.dark_queue.len()
    }

    /// The tracker, for queries of vessel state.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The engine clock: the latest message time or tick.
    pub fn clock(&self) -> Option<UnixMillis> {
        self.clock
    }

    /// The latest message time seen (ticks aside): how far the feed itself has got.
    pub fn feed_time(&self) -> Option<UnixMillis> {
        self.feed_time
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            tracker: self.tracker.stats(),
            events: self.events,
            forgotten_silent: self.forgotten_silent,
            forgotten_cap: self.forgotten_cap,
            recalled: self.recalled,
            encounter_pairs: self.enc.pairs() as u64,
            encounter_pairs_refused: self.enc.refused,
        }
    }

    /// Advances the engine clock to `now`, firing `dark` for vessels silent past the threshold.
    /// Replay ticks with message time; the daemon with the wall clock.
    pub fn tick(&mut self, now: UnixMillis, out: &mut Vec<Event>) {
        if self.clock.is_some_and(|c| c >= now) {
            return;
        }
        self.clock = Some(now);
        while let Some(&Reverse((deadline, mmsi))) = self.dark_queue.peek() {
            if deadline > now.0 {
                break;
            }
            self.dark_queue.pop();
            let Some(m) = self.movement.get_mut(&mmsi) else {
                continue;
            };
            m.queued = false;
            let (Some(fence), None) = (m.dark_zone, m.dark) else {
                continue;
            };
            // Heard since the entry was queued: move it to the true deadline (which may be due
            // already; it is then taken in deadline order with the others).
            let due = m.heard.map_or(deadline, |h| {
                h.0.saturating_add(self.settings.dark_after_ms)
            });
            if due != deadline {
                m.queued = true;
                self.dark_queue.push(Reverse((due, mmsi)));
                continue;
            }
            let last_seen = self
                .tracker
                .vessel(mmsi)
                .and_then(|v| v.last_seen)
                .unwrap_or(UnixMillis(deadline));
            let fix = self.tracker.vessel(mmsi).and_then(|v| v.fix);
            let time = UnixMillis(deadline);
            self.emit(
                out,
                EventKind::Dark,
                mmsi,
                Some(fence),
                time,
                Detail {
                    fix,
                    window: Some((last_seen, time)),
                    ..Detail::default()
                },
            );
            if let Some(m) = self.movement.get_mut(&mmsi) {
                m.dark = Some((last_seen, fence));
            }
            // Its state changed without a message: the store must have it (a restart, or a
            // recall after it was forgotten, would otherwise find it not dark).
            if self.recording {
                self.dirty.insert(mmsi);
            }
        }
        self.sweep(now);
        self.sweep_pairs(now, out);
    }

    /// Processes one decoded message at `time`, the time its feed clock gave it (`feedclock`): the
    /// engine trusts it, so implausible times must have been refused before.
    pub fn on_message(&mut self, d: &Decoded, time: UnixMillis, out: &mut Vec<Event>) {
        self.feed_time = self.feed_time.max(Some(time));
        self.tick(time, out);
        // Only messages the tracker keeps a vessel for: a base station or a binary message would
        // otherwise ask the store about the same absent MMSI every time.
        // With no store behind the engine (a replay without one) there is nothing to ask, and
        // the per-message cost is the one `is_some` below.
        if self.recall.is_some() {
            let vessel = !matches!(
                d.message,
                AisMessage::BaseStation(_) | AisMessage::AidToNavigation(_) | AisMessage::Other(_)
            );
            let heard = d.message.header().mmsi;
            if vessel && self.tracker.vessel(heard).is_none() {
                self.recall(heard);
            }
        }
        let (mmsi, obs) = self.tracker.observe(d, time);
        for (changed, change) in self.tracker.take_changes() {
            // A new MMSI for a known IMO matters if either MMSI is watched: a vessel watched by
            // its old MMSI that re-flags is the case to report.
            let old_watched = change.field == crate::tracker::IdentityField::Mmsi
                && change
                    .old
                    .parse::<u32>()
                    .is_ok_and(|old| self.monitored(old));
            if self.monitored(changed) || old_watched {
                let fix = self.tracker.vessel(changed).and_then(|v| v.fix);
                if self.recording {
                    self.dirty.insert(changed);
                }
                self.emit(
                    out,
                    EventKind::IdentityChange,
                    changed,
                    None,
                    time,
                    Detail {
                        fix,
                        change: Some(change),
                        ..Detail::default()
                    },
                );
            }
        }
        if self.tracker.len() > self.settings.max_vessels.max(self.room_retry_at) {
            self.forget_for_room(mmsi);
        }
        let (fix, previous) = match obs {
            Observation::Fix { fix, previous } => (Some(fix), previous),
            Observation::Static | Observation::Heard => (None, None),
            Observation::Quarantined => {
                self.conflict(out, mmsi, time, Finding::Jump);
                return;
            }
            Observation::Duplicate | Observation::Stale | Observation::Ignored => return,
        };
        let monitored = self.monitored(mmsi);
        if self.recording {
            self.dirty.insert(mmsi);
            if let Some(fix) = fix {
                self.record_position(mmsi, fix);
            }
        }
        if let Some(fix) = fix {
            self.encounters(out, mmsi, &fix, previous, monitored);
        }
        if !monitored {
            return;
        }
        let m = self.movement.entry(mmsi).or_default();
        let placed = m.placed;
        m.heard = m.heard.max(Some(time));
        if let Some((since, fence)) = m.dark.take() {
            m.gap_since = Some(since);
            // The position of this message when it has one; never the stale one from before.
            self.emit(
                out,
                EventKind::Reappeared,
                mmsi,
                Some(fence),
                time,
                Detail {
                    fix,
                    window: Some((since, time)),
                    ..Detail::default()
                },
            );
        }
        if let Some(fix) = fix {
            if let Some(prev) = previous {
                self.transits(out, mmsi, &prev, &fix);
            }
            let gap_since = self
                .movement
                .get_mut(&mmsi)
                .and_then(|m| m.gap_since.take());
            self.areas(out, mmsi, &fix, previous.filter(|_| placed), gap_since);
            if self.settings.position_conflict.is_some() {
                if let Some(oldest) = self.circling(mmsi, &fix) {
                    self.conflict(out, mmsi, time, Finding::Circle(oldest));
                }
                if self.inland(&fix) {
                    self.conflict(out, mmsi, time, Finding::Land);
                }
            }
        }
        let m = self.movement.get_mut(&mmsi).expect("inserted above");
        if m.dark_zone.is_some() && !m.queued {
            m.queued = true;
            self.dark_queue.push(Reverse((
                // Saturating: `dark_after` may be configured as centuries (its millis saturate at
                // i64::MAX); wrapping would make the deadline negative and the vessel dark at once.
                time.0.saturating_add(self.settings.dark_after_ms),
                mmsi,
            )));
        }
    }

    /// Whether events are wanted for this vessel; caches its watch match per statics version.
    fn monitored(&mut self, mmsi: u32) -> bool {
        let Some(v) = self.tracker.vessel(mmsi) else {
            return false;
        };
        let version = v.statics_version;
        let cached = self
            .movement
            .get(&mmsi)
            .and_then(|m| (m.watch_version == Some(version)).then_some(m.watch));
        let watch = match cached {
            Some(w) => w,
            None => {
                let id = Identity {
                    mmsi,
                    imo: v.statics.imo,
                    name: v.statics.name.as_deref(),
                    callsign: v.statics.callsign.as_deref(),
                };
                let w = self.watchlist.find(&id);
                if w.is_some()
                    || self.settings.vessels == Vessels::All
                    || self.movement.contains_key(&mmsi)
                {
                    let m = self.movement.entry(mmsi).or_default();
                    m.watch = w;
                    m.watch_version = Some(version);
                }
                w
            }
        };
        watch.is_some() || self.settings.vessels == Vessels::All
    }

    fn transits(&mut self, out: &mut Vec<Event>, mmsi: u32, prev: &Fix, fix: &Fix) {
        for (gate, at) in self.fences.gates_crossed(prev.point(), fix.point()) {
            let da = Haversine.distance(prev.point(), at);
            let db = Haversine.distance(at, fix.point());
            self.emit(
                out,
                EventKind::Transit,
                mmsi,
                Some(gate),
                fix.time,
                Detail {
                    fix: Some(*fix),
                    other_side: Some(*prev),
                    crossing_time: Some(interpolate(prev, da, fix, db)),
                    direction: Some(Direction::of(prev.point(), fix.point())),
                    ..Detail::default()
                },
            );
        }
    }

    fn areas(
        &mut self,
        out: &mut Vec<Event>,
        mmsi: u32,
        fix: &Fix,
        previous: Option<Fix>,
        dark_since: Option<UnixMillis>,
    ) {
        let mut hits = std::mem::take(&mut self.near);
        self.fences.areas_near(fix.point(), &mut hits);
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend_from_slice(&hits);
        let m = self
            .movement
            .get_mut(&mmsi)
            .expect("monitored vessels have movement");
        m.placed = true;
        ids.extend(
            m.fences
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !hits.contains(id)),
        );
        ids.sort_unstable();
        let mut in_port = None;
        let mut nearest_approach: Option<(f64, usize)> = None;
        // In or near a port or anchorage: where slowness is ordinary, not loitering.
        let mut harbour = false;
        for &id in &ids {
            let fence = self.fences.get(id);
            let zone = fence.zone(fix.point());
            if matches!(fence.kind, FenceKind::Port | FenceKind::Anchorage) {
                harbour |= match zone {
                    Zone::Inside => true,
                    Zone::Band { distance_m } | Zone::Outside { distance_m } => {
                        distance_m <= fence.approach_m
                    }
                };
            }
            if fence.kind == FenceKind::Port {
                match zone {
                    Zone::Inside => in_port = in_port.or(Some(id)),
                    Zone::Band { distance_m } | Zone::Outside { distance_m }
                        if distance_m <= fence.approach_m
                            && nearest_approach.is_none_or(|(d, _)| distance_m < d) =>
                    {
                        nearest_approach = Some((distance_m, id));
                    }
                    _ => {}
                }
            }
            self.step_fence(out, mmsi, id, zone, fix, previous, dark_since);
        }
        let m = self
            .movement
            .get_mut(&mmsi)
            .expect("monitored vessels have movement");
        // Fences the vessel is outside of and away from forget it: it is known to be outside, and
        // its previous fix says so when it comes near again.
        m.fences
            .retain(|(id, s)| !matches!(s, FenceState::Outside { .. }) || hits.contains(id));
        m.dark_zone = in_port.or(nearest_approach.map(|(_, id)| id));
        self.near = hits;
        self.ids = ids;
        let approach = if in_port.is_none() {
            nearest_approach.map(|(_, id)| id)
        } else {
            None
        };
        self.holding(out, mmsi, fix, approach);
        self.loitering(out, mmsi, fix, harbour);
    }

    /// `position_conflict`: a report of `mmsi` that cannot be the same ship's ([`Finding`]).
    /// Findings less than `window` apart make an episode; at `min_jumps` jumps or reports inland,
    /// or at once for a circle, it is reported once, with the fix the vessel is known at and the
    /// evidence against it (the held-back jump, or the circle's first fix).
    fn conflict(&mut self, out: &mut Vec<Event>, mmsi: u32, time: UnixMillis, finding: Finding) {
        let (pattern, evidence) = match finding {
            Finding::Jump => ("jumps", None),
            Finding::Circle(f) => ("circle", Some(f)),
            Finding::Land => ("land", None),
        };
        let Some((min_jumps, window_ms)) = self.settings.position_conflict else {
            return;
        };
        if !self.monitored(mmsi) {
            return;
        }
        let m = self.movement.entry(mmsi).or_default();
        let (first, count, emitted) = match m.conflict {
            Some((first, last, n, emitted)) if time.0.saturating_sub(last.0) <= window_ms => {
                (first, n.saturating_add(1), emitted)
            }
            _ => (time, 1, false),
        };
        let due = !emitted && (count >= min_jumps || matches!(finding, Finding::Circle(_)));
        m.conflict = Some((first, time, count, emitted || due));
        if !due {
            return;
        }
        let v = self.tracker.vessel(mmsi);
        let fix = v.and_then(|v| v.fix);
        let other = match finding {
            Finding::Jump => v.and_then(|v| v.quarantined()),
            Finding::Circle(_) | Finding::Land => evidence,
        };
        if self.recording {
            self.dirty.insert(mmsi);
        }
        self.emit(
            out,
            EventKind::PositionConflict,
            mmsi,
            None,
            time,
            Detail {
                fix,
                other_side: other,
                window: Some((evidence.map_or(first, |c| c.time), time)),
                pattern: Some(pattern),
                ..Detail::default()
            },
        );
    }

    /// Whether `fix` lies more than the margin inside the land polygons.
    fn inland(&self, fix: &Fix) -> bool {
        let Some((land, margin_m)) = &self.land else {
            return false;
        };
        land.fences()
            .iter()
            .any(|f| f.contains(fix.point()) && f.boundary_distance_m(fix.point()) >= *margin_m)
    }

    /// `loitering`: a spell begins at a slow fix away from harbours and lasts while the
    /// time-weighted average speed since stays at most the threshold; reported once, when it has
    /// lasted `min_duration`. A harbour, a silence longer than `dark_after`, a faster average or a
    /// fix at more than twice the threshold (under way) ends it. Fixes without a speed leave it as
    /// it is.
    fn loitering(&mut self, out: &mut Vec<Event>, mmsi: u32, fix: &Fix, harbour: bool) {
        let Some((after_ms, max_kn)) = self.settings.loitering else {
            return;
        };
        let gap_ms = self.settings.dark_after_ms;
        let m = self.movement.get_mut(&mmsi).expect("monitored");
        let Some(sog) = fix.sog.map(f64::from) else {
            return;
        };
        if harbour {
            m.loitering = None;
            return;
        }
        let fresh = |fix: &Fix| {
            (sog <= max_kn).then_some(Loitering {
                start: *fix,
                last: *fix,
                sog_ms: 0.0,
                emitted: false,
            })
        };
        let next = match m.loitering {
            // Under way (twice the threshold): the spell is over, however slow it was before. An
            // average alone would let a long wait carry a departure at 12 kn for half an hour.
            Some(_) if sog > 2.0 * max_kn => None,
            Some(l) if fix.time.0.saturating_sub(l.last.time.0) <= gap_ms => {
                let dt = fix.time.0.saturating_sub(l.last.time.0) as f64;
                // The speed over an interval is the mean of its ends' (a ship slowing is counted
                // as slowing, not as stopped or still fast).
                let before = f64::from(l.last.sog.unwrap_or(0.0));
                let sog_ms = l.sog_ms + dt * (before + sog) / 2.0;
                let span = fix.time.0.saturating_sub(l.start.time.0) as f64;
                if span > 0.0 && sog_ms / span > max_kn {
                    fresh(fix)
                } else {
                    Some(Loitering {
                        last: *fix,
                        sog_ms,
                        ..l
                    })
                }
            }
            _ => fresh(fix),
        };
        let Some(l) = next else {
            m.loitering = None;
            return;
        };
        let span = fix.time.0.saturating_sub(l.start.time.0);
        let due = !l.emitted && span >= after_ms;
        m.loitering = Some(Loitering {
            emitted: l.emitted || due,
            ..l
        });
        if due {
            self.emit(
                out,
                EventKind::Loitering,
                mmsi,
                None,
                fix.time,
                Detail {
                    fix: Some(*fix),
                    window: Some((l.start.time, fix.time)),
                    ..Detail::default()
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step_fence(
        &mut self,
        out: &mut Vec<Event>,
        mmsi: u32,
        id: usize,
        zone: Zone,
        fix: &Fix,
        previous: Option<Fix>,
        dark_since: Option<UnixMillis>,
    ) {
        let fence = self.fences.get(id);
        let m = self.movement.get_mut(&mmsi).expect("monitored");
        let state = match m.fences.iter().find(|(f, _)| *f == id) {
            Some((_, s)) => *s,
            // No state: either never placed (first fix), or away from this fence until now.
            None => match previous {
                None => FenceState::Unknown,
                Some(p) => match fence.zone(p.point()) {
                    Zone::Inside => FenceState::Inside {
                        last: p,
                        since: p.time,
                    },
                    _ => FenceState::Outside { last: p },
                },
            },
        };
        // The time a track crossed the boundary between fixes `a` and `b` on either side of it.
        let crossing = |a: &Fix, b: &Fix| {
            interpolate(
                a,
                fence.boundary_distance_m(a.point()),
                b,
                fence.boundary_distance_m(b.point()),
            )
        };
        // An entry from outside is `Entering` until it has lasted `min_dwell` (at once without one).
        let state = match (state, zone) {
            (FenceState::Outside { last }, Zone::Inside) => FenceState::Entering {
                first_inside: *fix,
                last_outside: last,
            },
            _ => state,
        };
        let mut event = None;
        let next = match (state, zone) {
            (FenceState::Unknown, Zone::Inside) => {
                event = Some((
                    EventKind::Present,
                    Detail {
                        fix: Some(*fix),
                        visit_start: Some(fix.time),
                        ..Detail::default()
                    },
                ));
                FenceState::Inside {
                    last: *fix,
                    since: fix.time,
                }
            }
            (
                FenceState::Entering {
                    first_inside,
                    last_outside,
                },
                Zone::Inside,
            ) => {
                if fix.time.0.saturating_sub(first_inside.time.0) < fence.min_dwell_ms.unwrap_or(0)
                {
                    state
                } else {
                    let since = crossing(&last_outside, &first_inside);
                    event = Some((
                        EventKind::Arrival,
                        Detail {
                            fix: Some(*fix),
                            other_side: Some(last_outside),
                            crossing_time: Some(since),
                            ..Detail::default()
                        },
                    ));
                    FenceState::Inside { last: *fix, since }
                }
            }
            (FenceState::Inside { since, .. }, Zone::Inside) => {
                FenceState::Inside { last: *fix, since }
            }
            (FenceState::Inside { last, since }, Zone::Outside { .. }) => {
                event = Some((
                    EventKind::Departure,
                    Detail {
                        fix: Some(*fix),
                        other_side: Some(last),
                        crossing_time: Some(crossing(&last, fix)),
                        inferred: dark_since.is_some(),
                        window: dark_since.map(|s| (s, fix.time)),
                        visit_start: Some(since),
                        ..Detail::default()
                    },
                ));
                FenceState::Outside { last: *fix }
            }
            // Outside, or an entry that did not last: known outside now.
            (_, Zone::Outside { .. }) => FenceState::Outside { last: *fix },
            (FenceState::Outside { .. }, Zone::Inside) => {
                unreachable!("turned into Entering above")
            }
            // The margin band changes nothing.
            (s, Zone::Band { .. }) => s,
        };
        match m.fences.iter_mut().find(|(f, _)| *f == id) {
            Some((_, s)) => *s = next,
            None => m.fences.push((id, next)),
        }
        if let Some((kind, detail)) = event {
            self.emit(out, kind, mmsi, Some(id), fix.time, detail);
        }
    }

    fn holding(&mut self, out: &mut Vec<Event>, mmsi: u32, fix: &Fix, approach: Option<usize>) {
        let holding_after = self.settings.holding_after_ms;
        let m = self.movement.get_mut(&mmsi).expect("monitored");
        let Some(fence) = approach else {
            m.holding = None;
            return;
        };
        let h = match m.holding {
            Some(h) if h.fence == fence => {
                let slow = fix.sog.is_some_and(|s| s <= HOLDING_MAX_SOG_KN);
                let close = Haversine.distance(h.anchor.point(), fix.point()) <= HOLDING_RADIUS_M;
                if slow || close {
                    h
                } else {
                    Holding {
                        fence,
                        anchor: *fix,
                        emitted: false,
                    }
                }
            }
            _ => Holding {
                fence,
                anchor: *fix,
                emitted: false,
            },
        };
        let due = !h.emitted && fix.time.0.saturating_sub(h.anchor.time.0) >= holding_after;
        m.holding = Some(Holding {
            emitted: h.emitted || due,
            ..h
        });
        if due {
            self.emit(
                out,
                EventKind::Holding,
                mmsi,
                Some(fence),
                fix.time,
                Detail {
                    fix: Some(*fix),
                    window: Some((h.anchor.time, fix.time)),
                    ..Detail::default()
                },
            );
        }
    }

    fn emit(
        &mut self,
        out: &mut Vec<Event>,
        kind: EventKind,
        mmsi: u32,
        fence: Option<usize>,
        time: UnixMillis,
        d: Detail,
    ) {
        // Detections at sea (loitering) belong to no fence: their fence is empty.
        let fence = fence.map_or_else(String::new, |f| self.fences.get(f).name.clone());
        let fence = &fence;
        let vessel = self.tracker.vessel(mmsi);
        let statics = vessel.map(|v| &v.statics);
        let watch = self
            .movement
            .get(&mmsi)
            .and_then(|m| m.watch)
            .map(|w| self.watchlist.get(w));
        if let Some(n) = self.events.get_mut(kind as usize) {
            *n = n.saturating_add(1);
        }
        // Two changes of one vessel at one time (a new name and call sign in one report) are two
        // events: the field stands where a fence would in the id.
        // An encounter's other vessel stands there too: one vessel may meet two at once.
        let other = d.encounter.as_ref().map(|e| e.other.mmsi.to_string());
        let key = match (&d.change, &other) {
            (Some(c), _) => c.field.as_str(),
            (None, Some(o)) => o.as_str(),
            (None, None) => fence.as_str(),
        };
        out.push(Event {
            id: event_id(kind, mmsi, key, time),
            kind,
            time,
            mmsi,
            imo: statics.and_then(|s| s.imo),
            name: statics.and_then(|s| s.name.clone()),
            callsign: statics.and_then(|s| s.callsign.clone()),
            label: watch.map(|w| w.label.clone()),
            group: watch.and_then(|w| w.group.clone()),
            fence: fence.clone(),
            lat: d.fix.map(|f| f.lat),
            lon: d.fix.map(|f| f.lon),
            sog: d.fix.and_then(|f| f.sog),
            inferred: d.inferred,
            crossing_time: d.crossing_time,
            window_start: d.window.map(|w| w.0),
            window_end: d.window.map(|w| w.1),
            other_side: d.other_side.as_ref().map(record),
            direction: d.direction,
            visit_start: d.visit_start,
            change: d.change,
            encounter: d.encounter,
            pattern: d.pattern,
        });
    }
}
