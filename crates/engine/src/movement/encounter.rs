//! Encounters at sea: two vessels close together and slow for hours, away from harbours, with at
//! least one of them monitored (`[detect.encounter]`, Global Fishing Watch's definition).
//!
//! Every slow fix places its vessel in a grid of latest positions ([`Neighbours`]; a fast vessel
//! neither begins a meeting nor is found for one); a slow fix that has moved or waited since it
//! last looked asks the grid for the vessels within `max_distance_m`, so the cost per fix follows
//! the neighbourhood, not the fleet. A pair found close (both slow, both heard lately) is followed from then on at
//! each fix of either vessel: the distance from the reporting vessel's fix to the other's latest,
//! and the reporting vessel's speed. Before `min_duration` the pair is a candidate that a
//! distance above `max_distance_m` drops; once it has lasted `min_duration` with the lower median
//! speed of each vessel at most `max_sog_kn`, `encounter_started` is emitted, and `encounter`
//! when they part: farther apart than `part_distance_m`, one silent for longer than `dark_after`,
//! or into a harbour. Both events carry both vessels, the start, the end, the median distance and
//! the mean position; a silence of either longer than [`GAP_MS`] during the meeting is marked.
//!
//! One event per meeting, not one per vessel: it names first the watched vessel (else the
//! monitored one, else the lower MMSI) and carries the other in `encounter.other`, so a
//! webhook fires once for one ship-to-ship transfer. Pairs are not saved: a restart in the middle
//! of a meeting starts counting again (a reload carries them over, `snapshot.rs`).

use std::collections::hash_map::Entry;

use geo::{Distance, Haversine};

use super::{Detail, EncounterSettings, Engine};
use crate::event::{Encounter, Gap, OtherVessel};
use crate::neighbours::{Neighbours, local_m, wrap_lon};
use crate::settings::Vessels;
use crate::tracker::Fix;
use crate::vocab::EventKind;
use vesselwatch_ais::time::UnixMillis;

/// A silence of either vessel longer than this during a meeting is marked as a gap: five times
/// the three minutes at which a ship at anchor (Class A) or a slow Class B reports.
pub(super) const GAP_MS: i64 = 15 * 60_000;

/// A pair is looked for only between fixes at most this far apart in time: the other's latest
/// fix must be this fresh for the two to be known close now (the slowest regular reporting,
/// three minutes, several times over).
const FRESH_MS: i64 = 10 * 60_000;

/// How often (engine time) pairs are looked at for a vessel that has fallen silent.
const SWEEP_EVERY_MS: i64 = 60_000;

/// A slow vessel looks for new neighbours again once it has moved this far from where it last
/// looked, or [`LOOK_EVERY_MS`] after (or at once when it was fast or silent before): a tenth of
/// the default 500 m, so a meeting is found at most a few reports late.
const LOOK_AGAIN_M: f64 = 50.0;

/// However little it has moved, a slow vessel looks again this long after it last did: the
/// last few metres of a slow approach, or a neighbour that became monitored (its static report
/// came after its positions), are found within this.
const LOOK_EVERY_MS: i64 = 10 * 60_000;

/// Buckets of the distance histogram, over `0..part_distance_m`.
const BUCKETS: usize = 100;

/// One pair of vessels followed: a candidate, or a meeting under way.
#[derive(Debug, Clone)]
struct Pair {
    /// When they were first found close.
    start: UnixMillis,
    /// The last report that found them close.
    last_close: UnixMillis,
    /// Distances measured, by bucket of `part_m / BUCKETS` metres.
    distances: [u32; BUCKETS],
    /// Speed samples of the lower and the higher MMSI: at most `max_sog_kn`, and all.
    slow: [u32; 2],
    speeds: [u32; 2],
    /// Sum of the midpoints (longitudes unwrapped around the first) and how many.
    sum_lat: f64,
    sum_lon: f64,
    samples: u32,
    /// The longest silence of either vessel so far.
    longest: Option<Gap>,
    /// Each side's latest fix (lower MMSI first): what the other side's fix is measured against
    /// and the sweep for silence reads, without a look into the tracker (a cache miss per fix).
    fixes: [Fix; 2],
    /// Where the pair was last found away from harbours: looked at again only after a move of
    /// [`HARBOUR_RECHECK_M`] (a meeting mostly lies still; a fence lookup per fix is waste).
    checked: (f64, f64),
    started: bool,
}

/// How far a vessel of a pair moves before the harbour check is made again.
const HARBOUR_RECHECK_M: f64 = 1000.0;

/// The encounter state of the engine: the grids and the pairs.
#[derive(Debug)]
pub(super) struct Encounters {
    /// Every vessel's latest position.
    all: Neighbours,
    /// Monitored vessels' latest positions, for fixes of vessels that are not monitored (with
    /// `vessels = "watchlist"` a tiny grid, so that the many other fixes cost a few lookups).
    monitored: Neighbours,
    /// Pairs by (lower MMSI, higher MMSI).
    pairs: rustc_hash::FxHashMap<(u32, u32), Pair>,
    /// For each vessel in a pair, its partners.
    partners: rustc_hash::FxHashMap<u32, Vec<u32>>,
    /// How many links of `partners` fall in each of [`BUCKETS_PAIRED`] buckets of MMSIs: a fix of
    /// a vessel whose bucket is empty (nearly all) skips the look into `partners`, a cache miss
    /// at a hundred thousand vessels. 128 KiB, mostly in cache.
    paired: Vec<u16>,
    next_sweep: i64,
    /// New pairs not followed because `max_pairs` were.
    pub(super) refused: u64,
    near: Vec<(u32, f64)>,
    scratch: Vec<u32>,
}

impl Encounters {
    /// The state for these settings: grid cells twice the query radius (a disc then touches two
    /// rows of cells); the default radius when encounters are off (the grids stay empty).
    pub(super) fn for_settings(settings: Option<EncounterSettings>) -> Self {
        Self::new(settings.map_or(500.0, |s| s.max_m))
    }

    fn new(max_m: f64) -> Self {
        Self {
            all: Neighbours::new(2.0 * max_m),
            monitored: Neighbours::new(2.0 * max_m),
            pairs: Default::default(),
            partners: Default::default(),
            paired: vec![0; BUCKETS_PAIRED],
            next_sweep: i64::MIN,
            refused: 0,
            near: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Pairs followed now.
    pub(super) fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Forgets a vessel: out of both grids, its pairs dropped without an event (it is forgotten
    /// only after `forget_after` of silence, by which time its meetings have ended, or early for
    /// room, when nothing about it can be kept).
    /// `last` is its last fix: where it is in the grids, if it was slow.
    pub(super) fn forget(&mut self, mmsi: u32, last: Option<Fix>, max_sog_kn: f64) {
        if let Some(f) = last.filter(|f| slow(f, max_sog_kn)) {
            self.all.remove(mmsi, (f.lat, f.lon));
            self.monitored.remove(mmsi, (f.lat, f.lon));
        }
        let gone = self.partners.remove(&mmsi).unwrap_or_default();
        if let Some(n) = self.paired.get_mut(bucket(mmsi)) {
            *n = n.saturating_sub(u16::try_from(gone.len()).unwrap_or(u16::MAX));
        }
        for b in gone {
            self.pairs.remove(&key(mmsi, b));
            self.unlink(b, mmsi);
        }
    }

    fn unlink(&mut self, a: u32, b: u32) {
        if let Entry::Occupied(mut e) = self.partners.entry(a) {
            let before = e.get().len();
            e.get_mut().retain(|&m| m != b);
            if e.get().len() < before
                && let Some(n) = self.paired.get_mut(bucket(a))
            {
                *n = n.saturating_sub(1);
            }
            if e.get().is_empty() {
                e.remove();
            }
        }
    }

    fn link(&mut self, a: u32, b: u32) {
        self.partners.entry(a).or_default().push(b);
        if let Some(n) = self.paired.get_mut(bucket(a)) {
            // Saturated at 65,535 links in one bucket, it is never emptied again: a look into
            // `partners` at every fix of those MMSIs, still correct.
            *n = n.saturating_add(1);
        }
    }

    /// Whether `mmsi` may be in a pair (false: surely not).
    fn may_be_paired(&self, mmsi: u32) -> bool {
        self.paired.get(bucket(mmsi)).is_none_or(|&n| n > 0)
    }

    fn drop_pair(&mut self, a: u32, b: u32) -> Option<Pair> {
        let p = self.pairs.remove(&key(a, b))?;
        self.unlink(a, b);
        self.unlink(b, a);
        Some(p)
    }
}

/// Why a pair ends, as the engine sees it: a silence carries the silent vessel's last report.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Parting {
    Parted,
    Silence(UnixMillis),
    Harbour,
}

impl Parting {
    /// As the event says it.
    fn public(self) -> crate::event::Parting {
        match self {
            Parting::Parted => crate::event::Parting::Parted,
            Parting::Silence(_) => crate::event::Parting::Silence,
            Parting::Harbour => crate::event::Parting::Harbour,
        }
    }
}

/// Buckets of the `paired` counts.
const BUCKETS_PAIRED: usize = 1 << 16;

/// An MMSI's bucket (Fibonacci hashing: MMSIs of one country share their leading digits).
fn bucket(mmsi: u32) -> usize {
    (mmsi.wrapping_mul(0x9E37_79B9) >> 16) as usize
}

/// Whether a fix is slow enough to begin a pair: only such fixes are in the grids (a fast vessel
/// neither begins a meeting nor is found for one, and moves cell at nearly every report).
fn slow(f: &Fix, max_sog_kn: f64) -> bool {
    f.sog.is_some_and(|s| f64::from(s) <= max_sog_kn)
}

fn key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

/// Which side of the pair `mmsi` is: 0 for the lower MMSI.
fn side(a: u32, b: u32) -> usize {
    usize::from(a > b)
}

impl Pair {
    fn new(fixes: [Fix; 2], start: UnixMillis, checked: (f64, f64)) -> Self {
        Self {
            start,
            fixes,
            checked,
            last_close: start,
            distances: [0; BUCKETS],
            slow: [0; 2],
            speeds: [0; 2],
            sum_lat: 0.0,
            sum_lon: 0.0,
            samples: 0,
            longest: None,
            started: false,
        }
    }

    /// One measurement: the distance, the reporting vessel's speed (side `s`), the midpoint.
    fn sample(
        &mut self,
        cfg: &EncounterSettings,
        d: f64,
        s: usize,
        sog: Option<f32>,
        mid: (f64, f64),
    ) {
        let width = cfg.part_m / BUCKETS as f64;
        let bucket = ((d / width).floor().max(0.0) as usize).min(BUCKETS.saturating_sub(1));
        if let Some(n) = self.distances.get_mut(bucket) {
            *n = n.saturating_add(1);
        }
        if let Some(sog) = sog {
            if let Some(n) = self.speeds.get_mut(s) {
                *n = n.saturating_add(1);
            }
            if f64::from(sog) <= cfg.max_sog_kn
                && let Some(n) = self.slow.get_mut(s)
            {
                *n = n.saturating_add(1);
            }
        }
        // Longitudes near the first midpoint's, so that a meeting on the antimeridian averages
        // to it and not to the Greenwich meridian.
        let lon = if self.samples == 0 {
            mid.1
        } else {
            let first = self.sum_lon / f64::from(self.samples);
            first + wrap_lon(mid.1 - first)
        };
        self.sum_lat += mid.0;
        self.sum_lon += lon;
        self.samples = self.samples.saturating_add(1);
    }

    /// Whether the lower median speed of both vessels is at most the threshold: at least half
    /// of each one's speed samples are.
    fn slow_enough(&self) -> bool {
        self.slow
            .iter()
            .zip(self.speeds)
            .all(|(&slow, n)| n > 0 && u64::from(slow).saturating_mul(2) >= u64::from(n))
    }

    /// The lower median of the distances, as the middle of its bucket.
    fn median_m(&self, cfg: &EncounterSettings) -> f64 {
        let n: u64 = self.distances.iter().map(|&c| u64::from(c)).sum();
        // The lower median is the element at index (n - 1) / 2 of the sorted samples.
        let rank = n.saturating_sub(1) / 2;
        let mut seen = 0u64;
        let width = cfg.part_m / BUCKETS as f64;
        for (i, &c) in self.distances.iter().enumerate() {
            seen = seen.saturating_add(u64::from(c));
            if seen > rank {
                return (i as f64 + 0.5) * width;
            }
        }
        0.0
    }

    fn position(&self) -> (f64, f64) {
        let n = f64::from(self.samples.max(1));
        let lon = wrap_lon(self.sum_lon / n);
        (self.sum_lat / n, lon)
    }

    fn note_silence(&mut self, mmsi: u32, from: UnixMillis, to: UnixMillis) {
        let len = to.0.saturating_sub(from.0);
        if len > GAP_MS
            && self
                .longest
                .is_none_or(|g| g.end.0.saturating_sub(g.start.0) < len)
        {
            self.longest = Some(Gap {
                mmsi,
                start: from,
                end: to,
            });
        }
    }
}

fn midpoint(a: &Fix, b: &Fix) -> (f64, f64) {
    let lon = wrap_lon(a.lon + wrap_lon(b.lon - a.lon) / 2.0);
    ((a.lat + b.lat) / 2.0, lon)
}

impl Engine {
    /// The encounter rules for one fix of `mmsi` (any vessel: the other side of a meeting may
    /// be one that is not monitored). `previous` is its fix before this one.
    pub(super) fn encounters(
        &mut self,
        out: &mut Vec<crate::event::Event>,
        mmsi: u32,
        fix: &Fix,
        previous: Option<Fix>,
        monitored: bool,
    ) {
        let Some(cfg) = self.settings.encounter else {
            return;
        };
        let separate = self.settings.vessels != Vessels::All;
        let slow = |f: &Fix| slow(f, cfg.max_sog_kn);
        // In the grids while slow: placed at the previous fix if that was slow.
        let from = previous.filter(slow).map(|p| (p.lat, p.lon));
        let placed = if slow(fix) {
            self.enc.all.update(mmsi, from, fix.lat, fix.lon)
        } else {
            if let Some(from) = from {
                self.enc.all.remove(mmsi, from);
            }
            None
        };
        // Where the vessel looked for neighbours last decides whether it looks again: a slow
        // vessel that has moved less than `LOOK_AGAIN_M` since, reported lately, was slow then
        // and looked less than `LOOK_EVERY_MS` ago finds nobody new by looking (a vessel that
        // came near has looked itself, on coming; the last metres are caught by the clock).
        let look = match placed {
            Some(slot) => {
                let look = previous
                    .is_none_or(|p| !slow(&p) || fix.time.0.saturating_sub(p.time.0) > FRESH_MS)
                    || slot.looked.is_none_or(|(lat, lon, when)| {
                        if fix.time.0.saturating_sub(when) >= LOOK_EVERY_MS {
                            return true;
                        }
                        let (east, north) =
                            local_m((f64::from(lat), f64::from(lon)), (fix.lat, fix.lon));
                        east.hypot(north) >= LOOK_AGAIN_M
                    });
                if look {
                    slot.looked = Some((fix.lat as f32, fix.lon as f32, fix.time.0));
                }
                look
            }
            None => false,
        };
        if separate {
            if monitored && slow(fix) {
                self.enc.monitored.update(mmsi, from, fix.lat, fix.lon);
            } else if let Some(from) = from {
                self.enc.monitored.remove(mmsi, from);
            }
        }
        // The pairs it is in already (a small map: only vessels in pairs).
        let mut partners = std::mem::take(&mut self.enc.scratch);
        partners.clear();
        if self.enc.may_be_paired(mmsi)
            && let Some(p) = self.enc.partners.get(&mmsi)
        {
            partners.extend_from_slice(p);
        }
        for &b in &partners {
            self.pair_step(out, &cfg, mmsi, fix, previous, b);
        }
        // New pairs: only from a slow fix, with a slow vessel heard lately.
        if look {
            let mut near = std::mem::take(&mut self.enc.near);
            let grid = if monitored || !separate {
                &self.enc.all
            } else {
                &self.enc.monitored
            };
            grid.within(fix.lat, fix.lon, cfg.max_m, &mut near);
            // Found in the order of the grid's cells: sorted, so that the pairs begin in the
            // same order however the grid's lists were shuffled by earlier moves.
            near.sort_unstable_by_key(|(m, _)| *m);
            let mut harbour = None;
            for &(b, d) in &near {
                if b == mmsi || self.enc.pairs.contains_key(&key(mmsi, b)) {
                    continue;
                }
                let Some(bf) = self.tracker.vessel(b).and_then(|v| v.fix) else {
                    continue;
                };
                if fix.time.0.abs_diff(bf.time.0) > FRESH_MS.unsigned_abs()
                    || !slow(&bf)
                    || !(monitored || self.monitored(b))
                {
                    continue;
                }
                if *harbour
                    .get_or_insert_with(|| self.fences.harbour_within(fix.point(), cfg.harbour_m))
                {
                    break;
                }
                if self.enc.pairs.len() >= cfg.max_pairs {
                    self.enc.refused = self.enc.refused.saturating_add(1);
                    continue;
                }
                let fixes = if side(mmsi, b) == 0 {
                    [*fix, bf]
                } else {
                    [bf, *fix]
                };
                let mut pair = Pair::new(fixes, fix.time, (fix.lat, fix.lon));
                let mid = midpoint(fix, &bf);
                // Both vessels' fixes as they stand: whichever reported second, the pair starts
                // with the same two samples (time symmetry).
                pair.sample(&cfg, d, side(mmsi, b), fix.sog, mid);
                pair.sample(&cfg, d, side(b, mmsi), bf.sog, mid);
                self.enc.pairs.insert(key(mmsi, b), pair);
                self.enc.link(mmsi, b);
                self.enc.link(b, mmsi);
            }
            self.enc.near = near;
        }
        self.enc.scratch = partners;
    }

    /// One fix of `a` for its pair with `b`.
    fn pair_step(
        &mut self,
        out: &mut Vec<crate::event::Event>,
        cfg: &EncounterSettings,
        a: u32,
        fix: &Fix,
        previous: Option<Fix>,
        b: u32,
    ) {
        let dark = self.settings.dark_after_ms;
        let Some(pair) = self.enc.pairs.get_mut(&key(a, b)) else {
            return;
        };
        let Some(&bf) = pair.fixes.get(side(b, a)) else {
            return;
        };
        if let Some(f) = pair.fixes.get_mut(side(a, b)) {
            *f = *fix;
        }
        let started = pair.started;
        let moved = Haversine
            .distance(fix.point(), geo::Point::new(pair.checked.1, pair.checked.0))
            > HARBOUR_RECHECK_M;
        if moved {
            pair.checked = (fix.lat, fix.lon);
        }
        // A silence of this vessel that ends with this report is part of the meeting's record
        // whatever this report decides (a vessel back from a silence, far away, parts them).
        if let Some(p) = previous {
            pair.note_silence(a, p.time, fix.time);
        }
        // Measured against a fix of the other older than `FRESH_MS`, this report says nothing
        // about where they are now: it neither counts nor moves the meeting's end.
        let fresh = fix.time.0.abs_diff(bf.time.0) <= FRESH_MS.unsigned_abs();
        // Silent for longer than `dark_after` (found here before the sweep did): ended then.
        let silent = [(a, previous.map(|p| p.time)), (b, Some(bf.time))]
            .into_iter()
            .filter_map(|(m, t)| Some((m, t?)))
            .filter(|(_, t)| fix.time.0.saturating_sub(t.0) > dark)
            .min_by_key(|(_, t)| t.0);
        if let Some((_, since)) = silent {
            self.end_pair(
                out,
                cfg,
                a,
                b,
                since.0.saturating_add(dark),
                Parting::Silence(since),
            );
            return;
        }
        let d = Haversine.distance(fix.point(), bf.point());
        if moved && self.fences.harbour_within(fix.point(), cfg.harbour_m) {
            if started {
                self.end_pair(out, cfg, a, b, fix.time.0, Parting::Harbour);
            } else {
                self.enc.drop_pair(a, b);
            }
            return;
        }
        if !started && d > cfg.max_m {
            self.enc.drop_pair(a, b);
            return;
        }
        if started && d > cfg.part_m {
            self.end_pair(out, cfg, a, b, fix.time.0, Parting::Parted);
            return;
        }
        if !fresh {
            return;
        }
        let Some(pair) = self.enc.pairs.get_mut(&key(a, b)) else {
            return;
        };
        pair.sample(cfg, d, side(a, b), fix.sog, midpoint(fix, &bf));
        pair.last_close = fix.time;
        let due = !pair.started
            && fix.time.0.saturating_sub(pair.start.0) >= cfg.min_ms
            && pair.slow_enough();
        if due {
            pair.started = true;
            let pair = pair.clone();
            self.emit_encounter(out, cfg, a, b, &pair, fix.time, None);
        }
    }

    /// Ends the pair of `a` and `b` at `at`: `encounter` if it had started, nothing if not.
    fn end_pair(
        &mut self,
        out: &mut Vec<crate::event::Event>,
        cfg: &EncounterSettings,
        a: u32,
        b: u32,
        at: i64,
        why: Parting,
    ) {
        let Some(mut pair) = self.enc.drop_pair(a, b) else {
            return;
        };
        if !pair.started {
            return;
        }
        if let Parting::Silence(since) = why {
            // Together until the silent one's last report: that is all that is known.
            pair.last_close = pair.last_close.min(since);
        } else {
            // A silence still going on when they part counts as a gap.
            for m in [a, b] {
                if let Some(last) = self.tracker.vessel(m).and_then(|v| v.fix) {
                    pair.note_silence(m, last.time, UnixMillis(at));
                }
            }
        }
        self.emit_encounter(out, cfg, a, b, &pair, UnixMillis(at), Some(why.public()));
    }

    /// Looks at every pair for a vessel silent for longer than `dark_after`, once a minute of
    /// engine time: a meeting where both fall silent has no fix to end it.
    pub(super) fn sweep_pairs(&mut self, now: UnixMillis, out: &mut Vec<crate::event::Event>) {
        let Some(cfg) = self.settings.encounter else {
            return;
        };
        if now.0 < self.enc.next_sweep || self.enc.pairs.is_empty() {
            return;
        }
        self.enc.next_sweep = now.0.saturating_add(SWEEP_EVERY_MS);
        let dark = self.settings.dark_after_ms;
        let mut ended: Vec<(i64, u32, u32)> = self
            .enc
            .pairs
            .iter()
            .filter_map(|(&(a, b), p)| {
                let since = p.fixes.iter().map(|f| f.time.0).min().unwrap_or(i64::MIN);
                (now.0.saturating_sub(since) > dark).then_some((since.saturating_add(dark), a, b))
            })
            .collect();
        ended.sort_unstable();
        for (at, a, b) in ended {
            let since = UnixMillis(at.saturating_sub(dark));
            self.end_pair(out, &cfg, a, b, at, Parting::Silence(since));
        }
    }

    /// How much a vessel counts as the one an encounter is about: watched, then monitored.
    fn weight(&mut self, mmsi: u32) -> (bool, bool) {
        let monitored = self.monitored(mmsi);
        let watched = self.movement.get(&mmsi).is_some_and(|m| m.watch.is_some());
        (watched, monitored)
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_encounter(
        &mut self,
        out: &mut Vec<crate::event::Event>,
        cfg: &EncounterSettings,
        a: u32,
        b: u32,
        pair: &Pair,
        time: UnixMillis,
        ended: Option<crate::event::Parting>,
    ) {
        let (lo, hi) = key(a, b);
        let (first, other) = if self.weight(hi) > self.weight(lo) {
            (hi, lo)
        } else {
            (lo, hi)
        };
        let Some(ov) = self.tracker.vessel(other) else {
            return;
        };
        let (olat, olon) = ov.fix.map_or((0.0, 0.0), |f| (f.lat, f.lon));
        let label = self
            .movement
            .get(&other)
            .and_then(|m| m.watch)
            .map(|w| self.watchlist.get(w).label.clone());
        let other_vessel = OtherVessel {
            mmsi: other,
            imo: ov.statics.imo,
            name: ov.statics.name.clone(),
            callsign: ov.statics.callsign.clone(),
            label,
            lat: olat,
            lon: olon,
        };
        let (lat, lon) = pair.position();
        let end = pair.last_close;
        let encounter = Encounter {
            other: other_vessel,
            start: pair.start,
            end,
            duration_s: end.0.saturating_sub(pair.start.0) / 1000,
            median_distance_m: pair.median_m(cfg),
            gap: pair.longest,
            ended,
        };
        let kind = if ended.is_some() {
            EventKind::Encounter
        } else {
            EventKind::EncounterStarted
        };
        let position = Fix {
            time,
            lat,
            lon,
            sog: None,
        };
        self.emit(
            out,
            kind,
            first,
            None,
            time,
            Detail {
                fix: Some(position),
                window: Some((pair.start, end)),
                inferred: pair.longest.is_some(),
                encounter: Some(encounter),
                ..Detail::default()
            },
        );
    }
}
