//! The words every stage shares: what a fence is, which way a transit went, what kind an event is.
//!
//! A leaf module, so that settings, geofences and events can all use these without depending on
//! each other (the cycle config → geofence → config is what this breaks).

use geo::Point;
use serde::{Deserialize, Serialize};

/// What a fence stands for, which decides the events it produces.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Deserialize,
    Serialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FenceKind {
    /// A port: arrivals, departures, visits, and `dark`/`holding` within its approach.
    Port,
    /// An anchorage: arrivals and departures.
    Anchorage,
    /// Any other area: arrivals and departures.
    Area,
    /// A line across a strait: transits.
    Gate,
}

/// The direction of a gate transit, named for the larger component of the movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Moving east.
    Eastbound,
    /// Moving west.
    Westbound,
    /// Moving north.
    Northbound,
    /// Moving south.
    Southbound,
}

impl Direction {
    /// The direction of travel from `a` to `b`.
    pub fn of(a: Point, b: Point) -> Self {
        let dx = (b.x() - a.x()) * a.y().to_radians().cos();
        let dy = b.y() - a.y();
        if dx.abs() >= dy.abs() {
            if dx >= 0.0 {
                Direction::Eastbound
            } else {
                Direction::Westbound
            }
        } else if dy >= 0.0 {
            Direction::Northbound
        } else {
            Direction::Southbound
        }
    }
}

/// What happened. The names (`arrival`, ...) are the ones in JSON, in filters on the command line
/// and in `[[webhooks]] events`; strum derives them, and the list of kinds, from the variants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
    strum::EnumCount,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum EventKind {
    /// Already inside a fence when first seen: no arrival, but now known to be there.
    Present,
    /// Entered a fence (and stayed `min_dwell` where set).
    Arrival,
    /// Left a fence beyond its exit margin.
    Departure,
    /// Silent for `dark_after` inside or near a port.
    Dark,
    /// Heard again after going dark.
    Reappeared,
    /// Held off a port, slow or within 2 km, for `holding_after`.
    Holding,
    /// Crossed a gate line.
    Transit,
    /// Slow at sea for hours, away from ports and anchorages (`[detect.loitering]`).
    Loitering,
    /// A new name, call sign, IMO number, ship type or length and beam, confirmed by two reports;
    /// or a known IMO
    /// number under a new MMSI.
    #[serde(rename = "identity_change")]
    #[strum(serialize = "identity_change")]
    IdentityChange,
    /// Reports of one MMSI that cannot be one ship: repeated implausible jumps
    /// (`[detect.position_conflict]`).
    #[serde(rename = "position_conflict")]
    #[strum(serialize = "position_conflict")]
    PositionConflict,
    /// Two vessels close and slow at sea for `[detect.encounter] min_duration`, still together.
    #[serde(rename = "encounter_started")]
    #[strum(serialize = "encounter_started")]
    EncounterStarted,
    /// Two vessels that met at sea have parted (or one fell silent, or they reached a harbour).
    Encounter,
}

impl EventKind {
    /// Every kind, in declaration order (the order of counters).
    pub const ALL: &'static [EventKind] = <Self as strum::VariantArray>::VARIANTS;

    /// How many kinds there are: the length of per-kind counters.
    pub const COUNT: usize = <Self as strum::EnumCount>::COUNT;

    /// The lowercase name used in JSON, on the command line and in filters.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_between_serde_and_strum_and_parse_back() {
        for &k in EventKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
        }
        assert_eq!(EventKind::ALL.len(), 12);
        assert_eq!("gate".parse::<FenceKind>().unwrap(), FenceKind::Gate);
    }
}
