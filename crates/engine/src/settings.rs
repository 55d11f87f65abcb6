//! The engine's part of the configuration: `[monitor]`, `[[fences]]` and `[[watch]]`, their
//! validation, and the vocabulary they share with events.
//!
//! Owns what these sections mean and which values are allowed, so that the component that uses a
//! section also says what is valid in it. Deserialised by the application's config loader (which
//! owns TOML, files and the other sections); nothing here reads a file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use crate::vocab::FenceKind;

/// A value outside what is allowed, named so that a user can find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` = {value}: {allowed}")]
pub struct Invalid {
    /// The key, as a path such as `fences[2].radius_km`.
    pub key: String,
    /// The value found.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

/// An [`Invalid`] for `key`.
pub fn invalid(key: impl Into<String>, value: impl std::fmt::Display, allowed: &str) -> Invalid {
    Invalid {
        key: key.into(),
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

/// A duration written for people (`"6h"`, `"30m"`, `"1h 30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a duration like \"6h\" or \"30m\": {e}"
                ))
            })
    }
}

impl HumanDuration {
    /// Milliseconds, the unit of message time.
    pub fn millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A position in decimal degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    /// Latitude, north positive.
    pub lat: f64,
    /// Longitude, east positive.
    pub lon: f64,
}

/// Which vessels produce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vessels {
    /// Only vessels on the watchlist (the default): the analyst's case.
    #[default]
    Watchlist,
    /// Every vessel, e.g. to log all port calls at a port.
    All,
}

/// `[monitor]`: what to watch for and the thresholds of the movement engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Events for watched vessels only, or for all.
    pub vessels: Vessels,
    /// Silence near a port after which a vessel is reported `dark`.
    pub dark_after: HumanDuration,
    /// How long a vessel must hold off a port before `holding` is reported.
    pub holding_after: HumanDuration,
    /// Implied speed above which a position jump is quarantined as implausible.
    pub max_speed_kn: f64,
    /// A vessel not heard for this long (message time) is forgotten from memory; its state stays
    /// in the store and comes back if it is heard again. Without it, every MMSI ever heard stayed
    /// in memory: 2M random MMSIs took 1.5 to 2.5 GB.
    pub forget_after: HumanDuration,
    /// The most vessels held in memory. Past it the longest-silent tenth are forgotten early
    /// (counted): a flood of made-up MMSIs costs a bounded amount of memory.
    pub max_vessels: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            vessels: Vessels::Watchlist,
            dark_after: HumanDuration(Duration::from_secs(4 * 3600)),
            holding_after: HumanDuration(Duration::from_secs(6 * 3600)),
            max_speed_kn: 60.0,
            forget_after: HumanDuration(Duration::from_secs(30 * 86_400)),
            max_vessels: 500_000,
        }
    }
}

/// `[[fences]]`: one fence with exactly one geometry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceConfig {
    /// A unique name, used in events and on the command line.
    pub name: String,
    /// What the fence stands for.
    pub kind: FenceKind,
    /// Centre of a circular fence (with `radius_km`).
    pub center: Option<LatLon>,
    /// Radius of a circular fence.
    pub radius_km: Option<f64>,
    /// A GeoJSON Polygon or MultiPolygon, relative to the config file.
    pub geojson: Option<PathBuf>,
    /// The two ends of a gate.
    pub line: Option<Vec<LatLon>>,
    /// Hysteresis: how far outside a vessel must be before it has departed (default 0.5 km).
    pub exit_margin_km: Option<f64>,
    /// Ports only: the surrounding zone where `dark` and `holding` apply (default 25 km).
    pub approach_km: Option<f64>,
    /// Time a vessel must stay inside before an arrival counts (default none).
    pub min_dwell: Option<HumanDuration>,
}

/// `[[watch]]`: a vessel of interest, matched by any of its identifiers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// How events name the vessel.
    pub label: String,
    /// An optional group, for filtering alerts (e.g. `russian-navy`).
    pub group: Option<String>,
    /// MMSI.
    pub mmsi: Option<u32>,
    /// IMO number; matches once the vessel's static report is seen.
    pub imo: Option<u32>,
    /// Ship name, compared normalised and exactly.
    pub name: Option<String>,
    /// Call sign, compared normalised and exactly.
    pub callsign: Option<String>,
}

/// `[detect]`: the detections beyond ports (issue 13), each in its own section with its
/// thresholds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// `[detect.loitering]`.
    pub loitering: LoiteringConfig,
    /// `[detect.position_conflict]`.
    pub position_conflict: ConflictConfig,
    /// `[detect.encounter]`.
    pub encounter: EncounterConfig,
}

/// `[detect.encounter]`: two vessels side by side at sea for hours, at least one of them
/// monitored: a ship-to-ship transfer, a bunkering, a meeting. The defaults are Global Fishing
/// Watch's published encounter definition (within 500 m, median speed of each at most 2 knots,
/// for at least 2 hours, away from ports and at least 10 km from an anchorage).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncounterConfig {
    /// Whether encounters are detected at all.
    pub enabled: bool,
    /// How close the two must stay until `encounter_started`.
    pub max_distance_m: f64,
    /// Once started, how far apart they must be to have parted.
    pub part_distance_m: f64,
    /// The highest median speed over ground of each vessel over the meeting.
    pub max_sog_kn: f64,
    /// How long they must stay close.
    pub min_duration: HumanDuration,
    /// No encounter is looked for inside a port or anchorage fence, nor this close to one.
    pub harbour_distance_km: f64,
    /// Pairs followed at once at most (memory bound); a new pair past it is counted and skipped.
    pub max_pairs: usize,
}

impl Default for EncounterConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_distance_m: 500.0,
            part_distance_m: 1000.0,
            max_sog_kn: 2.0,
            min_duration: HumanDuration(Duration::from_secs(2 * 3600)),
            harbour_distance_km: 10.0,
            max_pairs: 100_000,
        }
    }
}

/// `[detect.position_conflict]`: reports of one MMSI that cannot be one ship. Jumps that imply
/// more than `[monitor] max_speed_kn` are held back (quarantined) by the tracker; one is a glitch
/// or a real jump that the next fix confirms, but `min_jumps` within `window` are two transmitters
/// sharing the MMSI, or a position being spoofed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConflictConfig {
    /// Whether `position_conflict` is detected at all.
    pub enabled: bool,
    /// Implausible jumps that make an episode.
    pub min_jumps: u32,
    /// The most time between two jumps of one episode; a longer calm ends it.
    pub window: HumanDuration,
    /// Land polygons (GeoJSON, relative to the config file): a report this far inside them
    /// (`land_margin_km` from any coast) counts as a jump does. None by default: a coastline
    /// coarse enough to ship puts rivers and canals on land.
    pub land: Option<PathBuf>,
    /// How far inland a report must be to count.
    pub land_margin_km: f64,
}

impl Default for ConflictConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_jumps: 3,
            window: HumanDuration(Duration::from_secs(3600)),
            land: None,
            land_margin_km: 20.0,
        }
    }
}

/// `[detect.loitering]`: a monitored vessel slow for hours at sea, away from any port or
/// anchorage: waiting for a meeting, a transfer or orders. The defaults are Global Fishing
/// Watch's published loitering definition (average speed at most 2 knots for at least 4 hours),
/// which also keeps such events away from ports and anchorages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoiteringConfig {
    /// Whether `loitering` is detected at all.
    pub enabled: bool,
    /// How long the slow spell must last.
    pub min_duration: HumanDuration,
    /// The highest average speed over ground (time-weighted over the spell) that is loitering.
    pub max_sog_kn: f64,
}

impl Default for LoiteringConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_duration: HumanDuration(Duration::from_secs(4 * 3600)),
            max_sog_kn: 2.0,
        }
    }
}

impl DetectConfig {
    /// Checks the thresholds.
    pub fn validate(&self) -> Result<(), Invalid> {
        let l = &self.loitering;
        if !(l.max_sog_kn > 0.0 && l.max_sog_kn <= 50.0) {
            return Err(invalid(
                "detect.loitering.max_sog_kn",
                l.max_sog_kn,
                "must be above 0 and at most 50 knots",
            ));
        }
        let c = &self.position_conflict;
        if !(2..=1000).contains(&c.min_jumps) {
            return Err(invalid(
                "detect.position_conflict.min_jumps",
                c.min_jumps,
                "must be between 2 and 1000 (one jump is a glitch or a real move)",
            ));
        }
        if !(c.land_margin_km >= 0.0 && c.land_margin_km <= 1000.0) {
            return Err(invalid(
                "detect.position_conflict.land_margin_km",
                c.land_margin_km,
                "must be between 0 and 1000 km",
            ));
        }
        if c.window.0.is_zero() {
            return Err(invalid(
                "detect.position_conflict.window",
                "0s",
                "must be longer than zero",
            ));
        }
        if l.min_duration.0.is_zero() {
            return Err(invalid(
                "detect.loitering.min_duration",
                "0s",
                "must be longer than zero",
            ));
        }
        let e = &self.encounter;
        if !(e.max_distance_m >= 10.0 && e.max_distance_m <= 10_000.0) {
            return Err(invalid(
                "detect.encounter.max_distance_m",
                e.max_distance_m,
                "must be between 10 and 10000 metres",
            ));
        }
        if !(e.part_distance_m >= e.max_distance_m && e.part_distance_m <= 20_000.0) {
            return Err(invalid(
                "detect.encounter.part_distance_m",
                e.part_distance_m,
                "must be at least max_distance_m and at most 20000 metres",
            ));
        }
        if !(e.max_sog_kn > 0.0 && e.max_sog_kn <= 50.0) {
            return Err(invalid(
                "detect.encounter.max_sog_kn",
                e.max_sog_kn,
                "must be above 0 and at most 50 knots",
            ));
        }
        if e.min_duration.0.is_zero() {
            return Err(invalid(
                "detect.encounter.min_duration",
                "0s",
                "must be longer than zero",
            ));
        }
        if !(e.harbour_distance_km >= 0.0 && e.harbour_distance_km <= 100.0) {
            return Err(invalid(
                "detect.encounter.harbour_distance_km",
                e.harbour_distance_km,
                "must be between 0 and 100 km",
            ));
        }
        if !(1..=10_000_000).contains(&e.max_pairs) {
            return Err(invalid(
                "detect.encounter.max_pairs",
                e.max_pairs,
                "must be between 1 and 10000000",
            ));
        }
        Ok(())
    }
}

impl MonitorConfig {
    /// Checks the thresholds.
    pub fn validate(&self) -> Result<(), Invalid> {
        let m = self;
        if !(m.max_speed_kn > 0.0 && m.max_speed_kn <= 1000.0) {
            return Err(invalid(
                "monitor.max_speed_kn",
                m.max_speed_kn,
                "must be between 0 and 1000 knots",
            ));
        }
        for (key, d) in [
            ("monitor.dark_after", m.dark_after),
            ("monitor.holding_after", m.holding_after),
        ] {
            if d.0.is_zero() {
                return Err(invalid(key, "0s", "must be longer than zero"));
            }
        }
        if m.forget_after.0 < m.dark_after.0.max(m.holding_after.0) {
            return Err(invalid(
                "monitor.forget_after",
                humantime::format_duration(m.forget_after.0),
                "must be at least dark_after and holding_after (a vessel forgotten sooner would \
                 never be reported dark or holding)",
            ));
        }
        if !(1_000..=50_000_000).contains(&m.max_vessels) {
            return Err(invalid(
                "monitor.max_vessels",
                m.max_vessels,
                "must be between 1000 and 50000000",
            ));
        }
        Ok(())
    }
}

/// Checks `[[fences]]`: unique names, exactly one geometry each, coordinates and distances in
/// range. GeoJSON contents are checked when they are parsed ([`crate::geofence::parse_geojson`]).
pub fn validate_fences(fences: &[FenceConfig]) -> Result<(), Invalid> {
    let mut names = std::collections::HashSet::new();
    for (i, f) in fences.iter().enumerate() {
        let key = |k: &str| format!("fences[{i}].{k}");
        if f.name.trim().is_empty() {
            return Err(invalid(key("name"), "\"\"", "must not be empty"));
        }
        if !names.insert(f.name.as_str()) {
            return Err(invalid(
                key("name"),
                format!("{:?}", f.name),
                "must be unique among fences",
            ));
        }
        let geometries = [f.center.is_some(), f.geojson.is_some(), f.line.is_some()]
            .iter()
            .filter(|&&g| g)
            .count();
        if geometries != 1 {
            return Err(invalid(
                key("center|geojson|line"),
                format!("{geometries} geometries"),
                "a fence needs exactly one of `center` (with `radius_km`), `geojson` or `line`",
            ));
        }
        if (f.kind == FenceKind::Gate) != f.line.is_some() {
            return Err(invalid(
                key("kind"),
                format!("{:?}", f.kind).to_lowercase(),
                "gates take a `line`, and only gates do",
            ));
        }
        if let Some(line) = &f.line {
            if line.len() != 2 {
                return Err(invalid(
                    key("line"),
                    format!("{} points", line.len()),
                    "a gate line has exactly 2 points",
                ));
            }
            for (j, p) in line.iter().enumerate() {
                check_latlon(&key(&format!("line[{j}]")), p)?;
            }
        }
        if let Some(c) = &f.center {
            check_latlon(&key("center"), c)?;
            match f.radius_km {
                Some(r) if r > 0.0 && r <= 500.0 => {}
                Some(r) => {
                    return Err(invalid(key("radius_km"), r, "must be between 0 and 500 km"));
                }
                None => {
                    return Err(invalid(
                        key("radius_km"),
                        "missing",
                        "a `center` needs a `radius_km`",
                    ));
                }
            }
        } else if let Some(r) = f.radius_km {
            return Err(invalid(
                key("radius_km"),
                r,
                "only a fence with a `center` takes a radius",
            ));
        }
        if let Some(m) = f.exit_margin_km
            && !(0.0..=50.0).contains(&m)
        {
            return Err(invalid(
                key("exit_margin_km"),
                m,
                "must be between 0 and 50 km",
            ));
        }
        if let Some(a) = f.approach_km {
            if f.kind != FenceKind::Port {
                return Err(invalid(
                    key("approach_km"),
                    a,
                    "only ports have an approach zone",
                ));
            }
            if !(0.0..=500.0).contains(&a) {
                return Err(invalid(
                    key("approach_km"),
                    a,
                    "must be between 0 and 500 km",
                ));
            }
        }
    }
    Ok(())
}

/// Checks `[[watch]]`: a label and at least one well-formed identifier each.
pub fn validate_watch(watches: &[WatchConfig]) -> Result<(), Invalid> {
    for (i, w) in watches.iter().enumerate() {
        let key = |k: &str| format!("watch[{i}].{k}");
        if w.label.trim().is_empty() {
            return Err(invalid(key("label"), "\"\"", "must not be empty"));
        }
        if w.mmsi.is_none() && w.imo.is_none() && w.name.is_none() && w.callsign.is_none() {
            return Err(invalid(
                key("mmsi|imo|name|callsign"),
                "none",
                "a watch needs at least one identifier",
            ));
        }
        if let Some(m) = w.mmsi
            && !(1..=999_999_999).contains(&m)
        {
            return Err(invalid(key("mmsi"), m, "an MMSI has at most 9 digits"));
        }
        if let Some(imo) = w.imo
            && !(1_000_000..=9_999_999).contains(&imo)
        {
            return Err(invalid(key("imo"), imo, "an IMO number has 7 digits"));
        }
    }
    Ok(())
}

fn check_latlon(key: &str, p: &LatLon) -> Result<(), Invalid> {
    if !(-90.0..=90.0).contains(&p.lat) {
        return Err(invalid(
            format!("{key}.lat"),
            p.lat,
            "must be between -90 and 90",
        ));
    }
    if !(-180.0..=180.0).contains(&p.lon) {
        return Err(invalid(
            format!("{key}.lon"),
            p.lon,
            "must be between -180 and 180",
        ));
    }
    Ok(())
}
