//! The tracker: per-vessel state from decoded messages.
//!
//! Owns what is known of each vessel (latest fix, motion, status, static data, last seen) and the
//! rules that protect it from bad data: message time resolution, duplicates from several receivers,
//! reports older than the latest, and implausible jumps (quarantined, not applied). Pure: time comes
//! with the message, or as the arrival time the caller passes in.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::hash::{Hash, Hasher};

use geo::{Distance, Haversine, Point};
use rustc_hash::{FxHashMap, FxHasher};

use crate::watchlist::normalise;
use vesselwatch_ais::decode::{AisMessage, AisText, Position};
use vesselwatch_ais::frontend::Decoded;
use vesselwatch_ais::time::UnixMillis;

/// Metres per nautical mile.
const M_PER_NM: f64 = 1852.0;
/// Reports with the same content within this window are one report heard by several receivers.
const DUPLICATE_WINDOW_MS: i64 = 60_000;

/// One accepted position.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fix {
    /// Message time.
    pub time: UnixMillis,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Speed over ground in knots, when reported.
    pub sog: Option<f32>,
}

impl Fix {
    /// As a `geo` point (x = lon, y = lat).
    pub fn point(&self) -> Point {
        Point::new(self.lon, self.lat)
    }
}

/// What a vessel's static reports have said.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StaticData {
    /// IMO number.
    pub imo: Option<u32>,
    /// Name, normalised.
    pub name: Option<String>,
    /// Call sign, normalised.
    pub callsign: Option<String>,
    /// Ship and cargo type.
    pub shiptype: Option<u8>,
    /// Destination, normalised.
    pub destination: Option<String>,
    /// Length and beam in metres (bow plus stern, port plus starboard): the ship's size, not
    /// where its antenna is, which a new installation moves. Absent from state saved before it.
    #[serde(default)]
    pub dimensions: Option<Dimensions>,
}

/// A ship's length and beam in metres, as AIS gives them (to the metre; 511 m and 63 m at most
/// for each half).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dimensions {
    /// Bow plus stern.
    pub length: u16,
    /// Port plus starboard.
    pub beam: u16,
}

impl std::fmt::Display for Dimensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.length, self.beam)
    }
}

impl Dimensions {
    /// From a report's distances to the reference point; `None` when the length or the beam is
    /// not given (zeros).
    fn of(d: &vesselwatch_ais::decode::Dimensions) -> Option<Self> {
        let length = d.to_bow.saturating_add(d.to_stern);
        let beam = u16::from(d.to_port).saturating_add(u16::from(d.to_starboard));
        (length > 0 && beam > 0).then_some(Self { length, beam })
    }
}

/// A part of a vessel's identity whose change is an `identity_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityField {
    /// The name.
    Name,
    /// The call sign.
    Callsign,
    /// The IMO number.
    Imo,
    /// The ship and cargo type.
    Shiptype,
    /// The length and beam (`LxB` in metres).
    Dimensions,
    /// The MMSI: a known IMO number reported under a new MMSI (a new flag, a new transponder).
    Mmsi,
}

impl IdentityField {
    /// The field's name, as JSON and the event's id have it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Callsign => "callsign",
            Self::Imo => "imo",
            Self::Shiptype => "shiptype",
            Self::Dimensions => "dimensions",
            Self::Mmsi => "mmsi",
        }
    }
}

/// A confirmed change of identity: the same new value in two reports in a row, so that one
/// garbled report that reverts at once is not a change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityChange {
    /// What changed.
    pub field: IdentityField,
    /// The value before.
    pub old: String,
    /// The value now.
    pub new: String,
}

/// Everything known about one vessel.
#[derive(Debug, Clone, Default)]
pub struct Vessel {
    /// MMSI.
    pub mmsi: u32,
    /// The latest accepted fix.
    pub fix: Option<Fix>,
    /// Course over ground of the latest report.
    pub cog: Option<f32>,
    /// True heading of the latest report.
    pub heading: Option<u16>,
    /// Navigational status of the latest report.
    pub status: Option<u8>,
    /// Static data.
    pub statics: StaticData,
    /// Bumped whenever `statics` changes, so that watch matches can be cached.
    pub statics_version: u32,
    /// Time of the latest message of any kind.
    pub last_seen: Option<UnixMillis>,
    /// Time of the first message.
    pub first_seen: Option<UnixMillis>,
    fingerprint: u64,
    fingerprint_time: Option<UnixMillis>,
    quarantine: Option<Fix>,
    /// Identity values reported once, differing from the known ones: a change if the next report
    /// of the field says the same. Empty for nearly every vessel.
    pending: Vec<(IdentityField, String)>,
}

impl Vessel {
    /// The fix last held back as an implausible jump, until a later fix confirms or replaces it:
    /// the evidence of a `position_conflict`.
    pub fn quarantined(&self) -> Option<Fix> {
        self.quarantine
    }
}

/// What one message did to the tracker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// A new accepted position; `previous` is the fix it replaced.
    Fix {
        /// The new fix.
        fix: Fix,
        /// The previous fix, if any.
        previous: Option<Fix>,
    },
    /// Static data (possibly changed).
    Static,
    /// The vessel was heard, without a usable position (unavailable, or another message type).
    Heard,
    /// The same report again from another receiver: ignored.
    Duplicate,
    /// Older than the vessel's latest fix: not applied.
    Stale,
    /// An implausible jump: held back, not applied.
    Quarantined,
    /// Not from a vessel (base stations, aids to navigation) or of no use to tracking.
    Ignored,
}

/// Counters of the tracker's decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Accepted fixes.
    pub fixes: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Stale reports dropped.
    pub stale: u64,
    /// Jumps quarantined.
    pub quarantined: u64,
    /// Positions marked unavailable.
    pub no_position: u64,
}

/// Per-vessel state for every vessel heard.
#[derive(Debug)]
pub struct Tracker {
    vessels: FxHashMap<u32, Vessel>,
    max_speed_kn: f64,
    stats: TrackerStats,
    /// The MMSI each known IMO number was last reported under: a vessel tracked under one MMSI
    /// that reports its IMO under another has changed MMSI (a reflagging shows as a new MID).
    imo_owner: FxHashMap<u32, u32>,
    /// Identity changes confirmed since the last [`Tracker::take_changes`], by MMSI.
    changes: Vec<(u32, IdentityChange)>,
}

impl Tracker {
    /// A tracker that quarantines jumps implying more than `max_speed_kn`.
    pub fn new(max_speed_kn: f64) -> Self {
        Self {
            vessels: FxHashMap::default(),
            max_speed_kn,
            stats: TrackerStats::default(),
            imo_owner: FxHashMap::default(),
            changes: Vec::new(),
        }
    }

    /// The vessel with this MMSI, if heard.
    pub fn vessel(&self, mmsi: u32) -> Option<&Vessel> {
        self.vessels.get(&mmsi)
    }

    /// Every vessel heard.
    pub fn vessels(&self) -> impl Iterator<Item = &Vessel> {
        self.vessels.values()
    }

    /// Vessels tracked.
    pub fn len(&self) -> usize {
        self.vessels.len()
    }

    /// True when no vessel has been heard.
    pub fn is_empty(&self) -> bool {
        self.vessels.is_empty()
    }

    /// Puts back a vessel saved by the store, as it was (restart).
    pub fn restore(&mut self, v: Vessel) {
        self.vessels.insert(v.mmsi, v);
    }

    /// Drops a vessel (forgotten for its silence; its state is in the store).
    pub fn forget(&mut self, mmsi: u32) -> Option<Vessel> {
        let v = self.vessels.remove(&mmsi)?;
        if let Some(imo) = v.statics.imo
            && self.imo_owner.get(&imo) == Some(&mmsi)
        {
            self.imo_owner.remove(&imo);
        }
        Some(v)
    }

    /// Gives back the capacity left by forgotten vessels.
    pub fn shrink(&mut self) {
        self.vessels.shrink_to_fit();
    }

    /// Counters.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// Applies one decoded message at time `time` (the feed clock's, see `feedclock`).
    pub fn observe(&mut self, d: &Decoded, time: UnixMillis) -> (u32, Observation) {
        let mmsi = d.message.header().mmsi;
        // Only a type 5 report carries an IMO number: the owner map is not looked at for the
        // position reports that are nearly every message.
        if !matches!(d.message, AisMessage::StaticVoyage(_)) {
            return self.apply(d, time, mmsi);
        }
        let imo_before = self.vessels.get(&mmsi).and_then(|v| v.statics.imo);
        let r = self.apply(d, time, mmsi);
        if let Some(imo) = self
            .vessels
            .get(&mmsi)
            .and_then(|v| v.statics.imo)
            .filter(|&i| Some(i) != imo_before)
        {
            // The IMO it said before is no longer its own: the map holds one entry per vessel,
            // not one per IMO an MMSI has ever claimed (a hostile feed cycling IMOs).
            if let Some(old) = imo_before
                && self.imo_owner.get(&old) == Some(&mmsi)
            {
                self.imo_owner.remove(&old);
            }
            self.own_imo(mmsi, imo);
        }
        r
    }

    /// `imo` is now `mmsi`'s: a change of MMSI when another vessel still tracked had it.
    fn own_imo(&mut self, mmsi: u32, imo: u32) {
        if let Some(old) = self.imo_owner.insert(imo, mmsi)
            && old != mmsi
            && self
                .vessels
                .get(&old)
                .is_some_and(|v| v.statics.imo == Some(imo))
        {
            self.changes.push((
                mmsi,
                IdentityChange {
                    field: IdentityField::Mmsi,
                    old: old.to_string(),
                    new: mmsi.to_string(),
                },
            ));
        }
    }

    /// Identity changes confirmed since the last call, with the MMSI (the new one, for an MMSI
    /// change), in the order they were confirmed.
    pub fn take_changes(&mut self) -> Vec<(u32, IdentityChange)> {
        std::mem::take(&mut self.changes)
    }

    fn apply(&mut self, d: &Decoded, time: UnixMillis, mmsi: u32) -> (u32, Observation) {
        let mut found = Vec::new();
        let r = match &d.message {
            AisMessage::Position(p) => (mmsi, self.position(p, time)),
            AisMessage::ExtendedClassB(p, x) => {
                let obs = self.position(p, time);
                let v = self.vessels.get_mut(&mmsi).expect("position() inserts");
                let report = Report {
                    name: Some(&x.shipname),
                    shiptype: Some(x.shiptype),
                    dimensions: Dimensions::of(&x.dims),
                    ..Report::default()
                };
                learn(v, report, &mut found);
                (mmsi, obs)
            }
            AisMessage::StaticVoyage(s) => {
                let v = self.heard(mmsi, time);
                let report = Report {
                    imo: s.imo,
                    name: Some(&s.shipname),
                    callsign: Some(&s.callsign),
                    shiptype: Some(s.shiptype),
                    destination: Some(&s.destination),
                    dimensions: Dimensions::of(&s.dims),
                };
                learn(v, report, &mut found);
                (mmsi, Observation::Static)
            }
            AisMessage::StaticPartA(a) => {
                let v = self.heard(mmsi, time);
                let report = Report {
                    name: Some(&a.shipname),
                    ..Report::default()
                };
                learn(v, report, &mut found);
                (mmsi, Observation::Static)
            }
            AisMessage::StaticPartB(b) => {
                let v = self.heard(mmsi, time);
                let report = Report {
                    callsign: Some(&b.callsign),
                    shiptype: Some(b.shiptype),
                    dimensions: b.dims.as_ref().and_then(Dimensions::of),
                    ..Report::default()
                };
                learn(v, report, &mut found);
                (mmsi, Observation::Static)
            }
            AisMessage::BaseStation(_) | AisMessage::AidToNavigation(_) | AisMessage::Other(_) => {
                (mmsi, Observation::Ignored)
            }
        };
        self.changes.extend(found.into_iter().map(|c| (mmsi, c)));
        r
    }

    fn heard(&mut self, mmsi: u32, time: UnixMillis) -> &mut Vessel {
        let v = self.vessels.entry(mmsi).or_insert_with(|| Vessel {
            mmsi,
            ..Vessel::default()
        });
        see(v, time);
        v
    }

    fn position(&mut self, p: &Position, time: UnixMillis) -> Observation {
        let fingerprint = {
            let mut h = FxHasher::default();
            (
                p.header.msg_type,
                p.lat.map(f64::to_bits),
                p.lon.map(f64::to_bits),
            )
                .hash(&mut h);
            (
                p.speed.map(f32::to_bits),
                p.course.map(f32::to_bits),
                p.heading,
                p.second,
                p.status,
            )
                .hash(&mut h);
            h.finish()
        };
        let max_speed_kn = self.max_speed_kn;
        let v = self.vessels.entry(p.header.mmsi).or_insert_with(|| Vessel {
            mmsi: p.header.mmsi,
            ..Vessel::default()
        });
        if v.fingerprint == fingerprint
            && v.fingerprint_time
                .is_some_and(|t| time.0.abs_diff(t.0) <= DUPLICATE_WINDOW_MS.unsigned_abs())
        {
            self.stats.duplicates = self.stats.duplicates.saturating_add(1);
            return Observation::Duplicate;
        }
        v.fingerprint = fingerprint;
        v.fingerprint_time = Some(time);
        see(v, time);
        let (Some(lat), Some(lon)) = (p.lat, p.lon) else {
            self.stats.no_position = self.stats.no_position.saturating_add(1);
            return Observation::Heard;
        };
        let fix = Fix {
            time,
            lat,
            lon,
            sog: p.speed,
        };
        let previous = v.fix;
        if let Some(prev) = previous {
            if time < prev.time {
                self.stats.stale = self.stats.stale.saturating_add(1);
                return Observation::Stale;
            }
            let plausible = |from: &Fix| plausible(from, &fix, max_speed_kn);
            if !plausible(&prev) {
                // A jump is applied only when the next fix confirms it: then the old position was
                // the wrong one (or the ship really moved while unheard).
                let confirmed = v
                    .quarantine
                    .as_ref()
                    .is_some_and(|q| q.time <= time && plausible(q));
                if !confirmed {
                    v.quarantine = Some(fix);
                    self.stats.quarantined = self.stats.quarantined.saturating_add(1);
                    return Observation::Quarantined;
                }
            }
        }
        v.quarantine = None;
        v.fix = Some(fix);
        v.cog = p.course;
        v.heading = p.heading;
        if p.status.is_some() {
            v.status = p.status;
        }
        self.stats.fixes = self.stats.fixes.saturating_add(1);
        Observation::Fix { fix, previous }
    }
}

fn see(v: &mut Vessel, time: UnixMillis) {
    if v.last_seen.is_none_or(|t| time > t) {
        v.last_seen = Some(time);
    }
    if v.first_seen.is_none_or(|t| time < t) {
        v.first_seen = Some(time);
    }
}

/// Distance any fix may be off without the ship having moved: GPS error and the rounding of
/// positions to 1/10,000 minute, with room for a receiver's antenna offset.
const POSITION_ALLOWANCE_M: f64 = 100.0;

/// The resolution of a time as written: a whole minute (exports, archives), a whole second, or
/// finer. Two times at whole minutes may be up to a minute apart in truth.
fn resolution_ms(t: UnixMillis) -> i64 {
    if t.0.rem_euclid(60_000) == 0 {
        60_000
    } else if t.0.rem_euclid(1000) == 0 {
        1000
    } else {
        0
    }
}

/// Whether a ship could have gone from `a` to `b`: the distance, less the position allowance, is
/// covered at `max_speed_kn` within the time between them plus the times' resolution. Two fixes in
/// the same minute of a whole-minute archive, 180 m apart, are not a jump at infinite speed.
fn plausible(a: &Fix, b: &Fix, max_speed_kn: f64) -> bool {
    let metres = Haversine.distance(a.point(), b.point()) - POSITION_ALLOWANCE_M;
    if metres <= 0.0 {
        return true;
    }
    let slack = resolution_ms(a.time).max(resolution_ms(b.time));
    let seconds = b
        .time
        .0
        .abs_diff(a.time.0)
        .saturating_add(slack.unsigned_abs()) as f64
        / 1000.0;
    metres <= max_speed_kn * M_PER_NM * seconds / 3600.0
}

/// What one static report said (the fields it carries; `None` for those it does not).
#[derive(Default)]
struct Report<'a> {
    imo: Option<u32>,
    name: Option<&'a AisText>,
    callsign: Option<&'a AisText<7>>,
    shiptype: Option<u8>,
    destination: Option<&'a AisText>,
    dimensions: Option<Dimensions>,
}

/// Applies a static report. A field first reported is known at once; a different value becomes
/// known only when the next report of that field says the same (a confirmed [`IdentityChange`],
/// into `found`), so that one garbled report that reverts at once changes nothing. The
/// destination is not identity: it follows every report.
fn learn(v: &mut Vessel, r: Report<'_>, found: &mut Vec<IdentityChange>) {
    let before = v.statics.clone();
    let text = |t: Option<String>| t.filter(|t| !t.is_empty());
    let s = &mut v.statics;
    let p = &mut v.pending;
    confirm(&mut s.imo, r.imo, IdentityField::Imo, p, found);
    confirm(
        &mut s.name,
        text(r.name.map(|n| normalise(n.as_str()))),
        IdentityField::Name,
        p,
        found,
    );
    confirm(
        &mut s.callsign,
        text(r.callsign.map(|c| normalise(c.as_str()))),
        IdentityField::Callsign,
        p,
        found,
    );
    confirm(
        &mut s.shiptype,
        r.shiptype.filter(|&t| t != 0),
        IdentityField::Shiptype,
        p,
        found,
    );
    confirm(
        &mut s.dimensions,
        r.dimensions,
        IdentityField::Dimensions,
        p,
        found,
    );
    if let Some(d) = text(r.destination.map(|d| normalise(d.as_str()))) {
        s.destination = Some(d);
    }
    if *s != before {
        v.statics_version = v.statics_version.saturating_add(1);
    }
}

/// One field of [`learn`].
fn confirm<T: PartialEq + std::fmt::Display>(
    known: &mut Option<T>,
    reported: Option<T>,
    field: IdentityField,
    pending: &mut Vec<(IdentityField, String)>,
    found: &mut Vec<IdentityChange>,
) {
    let Some(new) = reported else {
        return;
    };
    let slot = pending.iter().position(|(f, _)| *f == field);
    match known {
        Some(k) if *k != new => {
            let text = new.to_string();
            let seen_before = slot
                .and_then(|i| pending.get(i))
                .is_some_and(|(_, v)| *v == text);
            if !seen_before {
                // Once: wait for the next report of this field.
                match slot.and_then(|i| pending.get_mut(i)) {
                    Some(p) => p.1 = text,
                    None => pending.push((field, text)),
                }
                return;
            }
            found.push(IdentityChange {
                field,
                old: k.to_string(),
                new: text,
            });
            *known = Some(new);
        }
        Some(_) => {}
        None => *known = Some(new),
    }
    if let Some(i) = slot {
        pending.swap_remove(i);
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use vesselwatch_ais::frontend::FrontEnd;

    fn decoded(line: &str) -> Decoded {
        FrontEnd::default().push_line(0, line.as_bytes()).unwrap()
    }

    #[test]
    fn coarse_times_widen_what_is_plausible() {
        let fix = |t: i64, lat: f64| Fix {
            time: UnixMillis(t),
            lat,
            lon: 35.0,
            sog: None,
        };
        // 180 m apart in the same whole minute: at 60 kn a ship covers 1,852 m in that minute.
        let m180 = 180.0 / 111_195.0;
        assert!(plausible(
            &fix(60_000, 34.0),
            &fix(60_000, 34.0 + m180),
            60.0
        ));
        // The same at millisecond times one second apart: 180 m in 1 s is 350 kn.
        assert!(!plausible(
            &fix(60_001, 34.0),
            &fix(61_002, 34.0 + m180),
            60.0
        ));
        // 90 m at the same instant is within the position allowance.
        assert!(plausible(
            &fix(60_001, 34.0),
            &fix(60_001, 34.0 + m180 / 2.0),
            60.0
        ));
        // 5 km between whole minutes one apart is not: at most two minutes at 60 kn, 3,704 m.
        assert!(!plausible(&fix(60_000, 34.0), &fix(120_000, 34.045), 60.0));
    }

    #[test]
    fn duplicates_stale_and_jumps() {
        let mut t = Tracker::new(60.0);
        let d = decoded("!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        let (mmsi, o) = t.observe(&d, UnixMillis(1_000_000));
        assert!(matches!(o, Observation::Fix { previous: None, .. }));
        // The same report from a second receiver a moment later.
        assert_eq!(
            t.observe(&d, UnixMillis(1_002_000)).1,
            Observation::Duplicate
        );
        let v = t.vessel(mmsi).unwrap();
        assert_eq!(v.fix.unwrap().time, UnixMillis(1_000_000));
        assert_eq!(t.stats().duplicates, 1);
        // An older report after the dedup window: stale.
        let mut earlier = d.clone();
        if let AisMessage::Position(p) = &mut earlier.message {
            p.second = Some(1);
        }
        assert_eq!(
            t.observe(&earlier, UnixMillis(900_000)).1,
            Observation::Stale
        );
        // A jump of ~1 degree in a minute: quarantined, then confirmed by a consistent next fix.
        let mut far = d.clone();
        if let AisMessage::Position(p) = &mut far.message {
            p.lat = p.lat.map(|l| l + 1.0);
        }
        assert_eq!(
            t.observe(&far, UnixMillis(1_060_000)).1,
            Observation::Quarantined
        );
        let mut far2 = far.clone();
        if let AisMessage::Position(p) = &mut far2.message {
            p.second = Some(2);
        }
        assert!(matches!(
            t.observe(&far2, UnixMillis(1_120_000)).1,
            Observation::Fix { .. }
        ));
        assert_eq!(t.stats().quarantined, 1);
    }
}
