//! Movement events: the records vesselwatch decides, prints, stores and sends.
//!
//! Owns the event record, its stable id, and its two printed forms (a readable line and a JSON
//! line). The JSON of an event is the one record every later stage (store, queries, webhooks) uses.

use std::fmt::Write as _;

use serde::Serialize;

use crate::vocab::{Direction, EventKind};
use vesselwatch_ais::time::UnixMillis;

/// A position with its time, as events carry them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FixRecord {
    /// Message time.
    #[serde(serialize_with = "rfc3339")]
    pub time: UnixMillis,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// One movement event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Stable id derived from the content: the same feed always gives the same ids, so replaying
    /// twice never duplicates and webhook receivers can deduplicate.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// When it was decided, in message time.
    #[serde(serialize_with = "rfc3339")]
    pub time: UnixMillis,
    /// The vessel's MMSI.
    pub mmsi: u32,
    /// IMO number, when its static report was seen.
    pub imo: Option<u32>,
    /// Name, when its static report was seen.
    pub name: Option<String>,
    /// Call sign, when its static report was seen.
    pub callsign: Option<String>,
    /// Watchlist label, for a watched vessel.
    pub label: Option<String>,
    /// Watchlist group.
    pub group: Option<String>,
    /// The fence's name.
    pub fence: String,
    /// Latitude of the deciding fix (or the last known position).
    pub lat: Option<f64>,
    /// Longitude of the deciding fix.
    pub lon: Option<f64>,
    /// Speed over ground at the deciding fix.
    pub sog: Option<f32>,
    /// True when the event is inferred across a gap rather than observed (a departure found on
    /// reappearing far away).
    pub inferred: bool,
    /// When the boundary or gate was crossed, interpolated between the fixes either side.
    #[serde(serialize_with = "rfc3339_opt")]
    pub crossing_time: Option<UnixMillis>,
    /// Start of the window the event covers (silence, holding, inferred departure).
    #[serde(serialize_with = "rfc3339_opt")]
    pub window_start: Option<UnixMillis>,
    /// End of that window.
    #[serde(serialize_with = "rfc3339_opt")]
    pub window_end: Option<UnixMillis>,
    /// The last fix on the other side of the boundary or gate.
    pub other_side: Option<FixRecord>,
    /// Direction of a transit.
    pub direction: Option<Direction>,
    /// For a departure: when the visit began (its arrival, or when first seen present).
    #[serde(serialize_with = "rfc3339_opt")]
    pub visit_start: Option<UnixMillis>,
    /// For an `identity_change`: what changed, from what, to what. Absent from other events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::tracker::IdentityChange>,
    /// For `encounter_started` and `encounter`: the other vessel and the meeting so far. Absent
    /// from other events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Encounter>,
    /// For a `position_conflict`: what made the reports impossible, `jumps` (implausible jumps,
    /// two transmitters or spoofing) or `circle` (positions on a circle as only software draws
    /// one). Absent from other events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<&'static str>,
}

/// A meeting of two vessels at sea, as `encounter_started` and `encounter` carry it. The event's
/// own MMSI, names and position are the first vessel's and the meeting's; this says who the other
/// was and how the meeting went, so that one record answers "who met whom, where, how long".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encounter {
    /// The other vessel.
    pub other: OtherVessel,
    /// When they were first found close (both slow).
    #[serde(serialize_with = "rfc3339")]
    pub start: UnixMillis,
    /// The last report that found them close: the end of the meeting, or for
    /// `encounter_started` the report that made it two hours.
    #[serde(serialize_with = "rfc3339")]
    pub end: UnixMillis,
    /// `end - start`, seconds.
    pub duration_s: i64,
    /// The median of the distances measured between them over the meeting, metres, to the
    /// width of one bucket of its histogram (a hundredth of `part_distance_m`: 10 m by default).
    pub median_distance_m: f64,
    /// The longest silence of either vessel during the meeting, when it was longer than 15
    /// minutes: the meeting went on partly unseen (the event is then `inferred`).
    pub gap: Option<Gap>,
    /// Why an `encounter` ended; absent from `encounter_started`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<Parting>,
}

/// The other vessel of an encounter, as known when the event was decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherVessel {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number, when its static report was seen.
    pub imo: Option<u32>,
    /// Name, when its static report was seen.
    pub name: Option<String>,
    /// Call sign.
    pub callsign: Option<String>,
    /// Watchlist label, when it is watched too.
    pub label: Option<String>,
    /// Its latest position.
    pub lat: f64,
    /// Its latest position.
    pub lon: f64,
}

/// A silence of one vessel during an encounter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gap {
    /// The vessel that was silent.
    pub mmsi: u32,
    /// Its last report before the silence.
    #[serde(serialize_with = "rfc3339")]
    pub start: UnixMillis,
    /// Its first report after it (or the end of the meeting, when it never spoke again).
    #[serde(serialize_with = "rfc3339")]
    pub end: UnixMillis,
}

/// Why an encounter ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Parting {
    /// More than `part_distance_m` apart.
    Parted,
    /// One of them silent for longer than `dark_after`.
    Silence,
    /// They came into a port or anchorage, or near one.
    Harbour,
}

fn rfc3339<S: serde::Serializer>(t: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn rfc3339_opt<S: serde::Serializer>(t: &Option<UnixMillis>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// FNV-1a, 64 bits. Spelled out rather than taken from a hasher crate because event ids are stored
/// and sent to other systems: the function must never change between releases or platforms.
/// The store uses it too, for fingerprints it keeps across releases.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The stable id of an event: its kind, vessel, fence and time.
pub fn event_id(kind: EventKind, mmsi: u32, fence: &str, time: UnixMillis) -> String {
    let h = fnv1a(&[
        kind.as_str().as_bytes(),
        &mmsi.to_le_bytes(),
        fence.as_bytes(),
        &time.0.to_le_bytes(),
    ]);
    format!("{h:016x}")
}

impl Event {
    /// One JSON object, no newline: what `replay --format jsonl` prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }

    /// One readable line.
    pub fn to_text(&self) -> String {
        let who = self
            .label
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| format!("MMSI {}", self.mmsi));
        let mut s = format!(
            "{}  {:<10}  {:<20}  {:<22}",
            self.time,
            self.kind.as_str(),
            who,
            self.fence
        );
        if let (Some(lat), Some(lon)) = (self.lat, self.lon) {
            let _ = write!(s, "  {lat:.4},{lon:.4}");
        }
        if let Some(sog) = self.sog {
            let _ = write!(s, "  {sog:.1} kn");
        }
        if let Some(d) = self.direction {
            let _ = write!(
                s,
                "  {}",
                serde_json::to_value(d)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            );
        }
        if let (Some(a), Some(b)) = (self.window_start, self.window_end) {
            let _ = write!(s, "  [{a} .. {b}]");
        }
        if self.inferred {
            s.push_str("  (inferred)");
        }
        if let Some(c) = &self.change {
            let _ = write!(s, "  {}: {} -> {}", c.field.as_str(), c.old, c.new);
        }
        if let Some(e) = &self.encounter {
            let other = e
                .other
                .label
                .clone()
                .or_else(|| e.other.name.clone())
                .unwrap_or_else(|| format!("MMSI {}", e.other.mmsi));
            let _ = write!(
                s,
                "  with {other}  {:.1} h at {:.0} m",
                e.duration_s as f64 / 3600.0,
                e.median_distance_m
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = event_id(
            EventKind::Departure,
            273_000_001,
            "tartus-naval",
            UnixMillis(1_733_100_000_000),
        );
        // Pinned: an id must never change between releases, since stored events and webhook
        // receivers deduplicate by it. The literals were computed outside this code (Python, from
        // the FNV-1a definition with a 0xff byte after each part).
        assert_eq!(a, "d372d34abf8bd18f");
        assert_eq!(
            event_id(
                EventKind::Arrival,
                273_000_001,
                "tartus-naval",
                UnixMillis(1_733_100_000_000)
            ),
            "54ca07beaad63b66"
        );
        // FNV-1a's published offset basis and its test vector for "a" (0xaf63dc4c8601ec8c), which
        // with our part separator becomes FNV-1a of "a\xff".
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(
            fnv1a(&[b"a"]),
            (0xaf63_dc4c_8601_ec8c_u64 ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3)
        );
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            event_id(
                EventKind::Arrival,
                273_000_001,
                "tartus-naval",
                UnixMillis(1_733_100_000_000)
            )
        );
        assert_ne!(
            a,
            event_id(
                EventKind::Departure,
                273_000_001,
                "tartus-port",
                UnixMillis(1_733_100_000_000)
            )
        );
    }
}
