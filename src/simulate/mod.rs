//! The simulator: scenario files to tag-blocked NMEA feeds.
//!
//! Owns scenarios (vessels following waypoints at given speeds, with waits, GPS noise, dropouts
//! and optional junk lines) and turning them into the feed a receiver would have recorded, with the
//! reporting intervals AIS prescribes. Deterministic: the same scenario and seed give the same bytes,
//! which is what lets fixtures commit their feed and expected events. Pure apart from reading the
//! scenario text the caller passes.

use geo::{Bearing, Distance, Haversine, Point};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;

use vesselwatch_ais::encode::{self, BaseStationReport, PositionReport, StaticReport};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::settings::HumanDuration;

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The TOML does not parse or fit the schema.
    #[error("scenario does not parse: {0}")]
    Parse(String),
    /// A value is not allowed.
    #[error("`{key}` = {value}: {allowed}")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is allowed.
        allowed: String,
    },
}

/// AIS equipment class, which sets the reporting interval and the static message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Class {
    /// Class A: types 1 and 5.
    #[default]
    A,
    /// Class B: types 18 and 24.
    B,
}

/// A point the vessel goes to, and how.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waypoint {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Speed on the way here (ignored for the first waypoint).
    pub speed_kn: Option<f64>,
    /// Time spent here before going on.
    pub wait: Option<HumanDuration>,
}

/// A time window, RFC 3339.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
}

/// One simulated vessel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimVessel {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number.
    pub imo: Option<u32>,
    /// Name.
    pub name: String,
    /// Call sign.
    #[serde(default)]
    pub callsign: String,
    /// Ship type code.
    #[serde(default)]
    pub shiptype: u8,
    /// Destination.
    #[serde(default)]
    pub destination: String,
    /// Equipment class.
    #[serde(default)]
    pub class: Class,
    /// Standard deviation of GPS noise, metres per axis.
    #[serde(default)]
    pub noise_m: f64,
    /// The route; the vessel starts at the first waypoint at the scenario's start.
    pub waypoints: Vec<Waypoint>,
    /// Windows with AIS switched off.
    #[serde(default)]
    pub dropouts: Vec<Window>,
    /// Static data that changes: a new name from a time on (a ship renamed), or for one report
    /// (a typo), for `identity_change` scenarios.
    #[serde(default)]
    pub identity: Vec<IdentityWindow>,
}

/// What a vessel's static reports say instead, from `from` (RFC 3339) until `to` when given,
/// for good when not. Later windows win where they overlap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityWindow {
    /// Start, RFC 3339.
    pub from: String,
    /// End (exclusive), RFC 3339; none for a lasting change.
    pub to: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Call sign.
    pub callsign: Option<String>,
    /// IMO number.
    pub imo: Option<u32>,
    /// Ship type code.
    pub shiptype: Option<u8>,
}

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What it shows, and what is invented.
    #[serde(default)]
    pub description: String,
    /// Seed for noise and junk.
    pub seed: u64,
    /// Start, RFC 3339.
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// The receiving station named in tag blocks.
    #[serde(default = "default_station")]
    pub station: String,
    /// A fixed reporting interval for every vessel, as a sparse (satellite) feed gives; by default
    /// the intervals AIS prescribes by class and speed.
    pub interval: Option<HumanDuration>,
    /// How often static data is sent (default 6 minutes).
    pub static_interval: Option<HumanDuration>,
    /// Junk lines added per sentence (0 to 1): corrupt copies, garbage, orphan fragments, other
    /// NMEA sentences. They are added, never substituted, so events stay those of the clean feed.
    #[serde(default)]
    pub junk: f64,
    /// The vessels.
    pub vessels: Vec<SimVessel>,
    /// Base stations heard by the receiver: their type 4 reports are the clock of a feed without
    /// timestamps, so scenarios about time need them (one with a wrong clock, say).
    #[serde(default)]
    pub base_stations: Vec<SimBaseStation>,
}

/// A base station sending type 4 reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBaseStation {
    /// MMSI (00MIDxxxx).
    pub mmsi: u32,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Reporting interval (default 10 s, as ITU-R M.1371 prescribes).
    pub interval: Option<HumanDuration>,
    /// What the station's clock says at the scenario's start, RFC 3339, when it is wrong (a real
    /// network had one reporting 1997 in 2010); it runs on at the right rate from there.
    pub clock: Option<String>,
    /// The station sends its time fields as "not available".
    #[serde(default)]
    pub clock_unavailable: bool,
}

fn default_station() -> String {
    "rSIM".into()
}

fn time(key: &str, s: &str) -> Result<UnixMillis, ScenarioError> {
    UnixMillis::parse_rfc3339(s.as_bytes()).ok_or_else(|| ScenarioError::Invalid {
        key: key.into(),
        value: s.into(),
        allowed: "an RFC 3339 time such as 2024-12-02T14:00:00Z".into(),
    })
}

/// A stretch of a track: from `a` at `t0` to `b` at `t1` (equal points for a wait).
#[derive(Debug, Clone, Copy)]
struct Leg {
    t0: i64,
    t1: i64,
    a: Point,
    b: Point,
    speed_kn: f64,
}

/// One message the simulator sends, with the fields it encoded (for round-trip tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A position report.
    Position(PositionReport),
    /// Static data.
    Static(StaticReport),
    /// A base station report.
    BaseStation(BaseStationReport),
}

/// One transmission: time, what was encoded, and its sentences (junk lines included).
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    /// Message time.
    pub time: UnixMillis,
    /// Index of the vessel in the scenario; base stations follow the vessels.
    pub vessel: usize,
    /// What was encoded.
    pub report: Report,
    /// The lines, in order.
    pub lines: Vec<String>,
}

impl Scenario {
    /// Parses a scenario file's text.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        let (start, end) = (time("start", &s.start)?, time("end", &s.end)?);
        if end <= start {
            return Err(ScenarioError::Invalid {
                key: "end".into(),
                value: s.end.clone(),
                allowed: "must be after `start`".into(),
            });
        }
        if !(0.0..=1.0).contains(&s.junk) {
            return Err(ScenarioError::Invalid {
                key: "junk".into(),
                value: s.junk.to_string(),
                allowed: "must be between 0 and 1".into(),
            });
        }
        for (i, v) in s.vessels.iter().enumerate() {
            if v.waypoints.is_empty() {
                return Err(ScenarioError::Invalid {
                    key: format!("vessels[{i}].waypoints"),
                    value: "[]".into(),
                    allowed: "needs at least one waypoint".into(),
                });
            }
            for (j, w) in v.waypoints.iter().enumerate().skip(1) {
                if !w.speed_kn.is_some_and(|s| s > 0.0 && s < 60.0) {
                    return Err(ScenarioError::Invalid {
                        key: format!("vessels[{i}].waypoints[{j}].speed_kn"),
                        value: format!("{:?}", w.speed_kn),
                        allowed:
                            "every waypoint after the first needs a speed between 0 and 60 knots"
                                .into(),
                    });
                }
            }
            for (j, d) in v.dropouts.iter().enumerate() {
                time(&format!("vessels[{i}].dropouts[{j}].from"), &d.from)?;
                time(&format!("vessels[{i}].dropouts[{j}].to"), &d.to)?;
            }
            for (j, w) in v.identity.iter().enumerate() {
                let from = time(&format!("vessels[{i}].identity[{j}].from"), &w.from)?;
                if let Some(to) = &w.to
                    && time(&format!("vessels[{i}].identity[{j}].to"), to)? <= from
                {
                    return Err(ScenarioError::Invalid {
                        key: format!("vessels[{i}].identity[{j}].to"),
                        value: to.clone(),
                        allowed: "must be after `from`".into(),
                    });
                }
            }
        }
        Ok(s)
    }

    fn legs(&self, v: &SimVessel, start: i64) -> Vec<Leg> {
        let mut legs = Vec::new();
        let mut t = start;
        let mut at = Point::new(v.waypoints[0].lon, v.waypoints[0].lat);
        for (i, w) in v.waypoints.iter().enumerate() {
            let to = Point::new(w.lon, w.lat);
            if i > 0 {
                let speed = w.speed_kn.unwrap_or(10.0);
                let ms =
                    (Haversine.distance(at, to) / (speed * 1852.0) * 3_600_000.0).round() as i64;
                legs.push(Leg {
                    t0: t,
                    t1: t + ms,
                    a: at,
                    b: to,
                    speed_kn: speed,
                });
                t += ms;
                at = to;
            }
            if let Some(wait) = w.wait {
                legs.push(Leg {
                    t0: t,
                    t1: t + wait.millis(),
                    a: at,
                    b: at,
                    speed_kn: 0.0,
                });
                t += wait.millis();
            }
        }
        legs.push(Leg {
            t0: t,
            t1: i64::MAX,
            a: at,
            b: at,
            speed_kn: 0.0,
        });
        legs
    }

    /// Every transmission of the scenario, in time order.
    pub fn run(&self) -> Result<Vec<Emission>, ScenarioError> {
        let (start, end) = (time("start", &self.start)?.0, time("end", &self.end)?.0);
        let static_every = self
            .static_interval
            .map_or(360_000, |d| d.millis().max(1000));
        let mut out = Vec::new();
        let mut group = 1u32;
        for (vi, v) in self.vessels.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ u64::from(v.mmsi).rotate_left(17));
            // Junk has its own generator, so that adding junk leaves the vessel's track unchanged.
            let mut junk_rng = ChaCha8Rng::seed_from_u64(!self.seed ^ u64::from(v.mmsi));
            let dropouts: Vec<(i64, i64)> = v
                .dropouts
                .iter()
                .map(|d| Ok((time("from", &d.from)?.0, time("to", &d.to)?.0)))
                .collect::<Result<_, ScenarioError>>()?;
            let identity: Vec<(i64, i64, &IdentityWindow)> = v
                .identity
                .iter()
                .map(|w| {
                    let to =
                        w.to.as_deref()
                            .map_or(Ok(i64::MAX), |t| time("to", t).map(|t| t.0));
                    Ok((time("from", &w.from)?.0, to?, w))
                })
                .collect::<Result<_, ScenarioError>>()?;
            let legs = self.legs(v, start);
            let mut leg = 0;
            let mut t = start;
            let mut next_static = start;
            let mut seq = 0u8;
            while t < end {
                while legs[leg].t1 <= t {
                    leg += 1;
                }
                let l = legs[leg];
                let moving = l.speed_kn > 0.0;
                let silent = dropouts.iter().any(|&(a, b)| (a..b).contains(&t));
                if !silent {
                    let channel = if rng.random::<bool>() { 'A' } else { 'B' };
                    if t >= next_static {
                        next_static = t + static_every;
                        let mut report = StaticReport {
                            dims: None,
                            mmsi: v.mmsi,
                            imo: v.imo,
                            callsign: v.callsign.clone(),
                            name: v.name.clone(),
                            shiptype: v.shiptype,
                            destination: v.destination.clone(),
                        };
                        for (_, _, w) in identity.iter().filter(|(a, b, _)| (*a..*b).contains(&t)) {
                            if let Some(n) = &w.name {
                                report.name = n.clone();
                            }
                            if let Some(c) = &w.callsign {
                                report.callsign = c.clone();
                            }
                            report.imo = w.imo.or(report.imo);
                            report.shiptype = w.shiptype.unwrap_or(report.shiptype);
                        }
                        let payloads = match v.class {
                            Class::A => vec![encode::static_voyage(&report).armour()],
                            Class::B => {
                                let (a, b) = encode::static_class_b(&report);
                                vec![a.armour(), b.armour()]
                            }
                        };
                        let mut lines = Vec::new();
                        for (payload, fill) in payloads {
                            seq = (seq + 1) % 10;
                            group += 1;
                            lines.extend(encode::sentences(
                                &payload,
                                fill,
                                channel,
                                seq,
                                &self.station,
                                t / 1000,
                                group,
                            ));
                        }
                        self.add_junk(&mut junk_rng, &mut lines);
                        out.push(Emission {
                            time: UnixMillis(t),
                            vessel: vi,
                            report: Report::Static(report),
                            lines,
                        });
                    }
                    let frac = if l.t1 > l.t0 && l.t1 != i64::MAX {
                        (t - l.t0) as f64 / (l.t1 - l.t0) as f64
                    } else {
                        0.0
                    };
                    let lat = l.a.y() + (l.b.y() - l.a.y()) * frac;
                    let lon = l.a.x() + (l.b.x() - l.a.x()) * frac;
                    let (n1, n2) = gaussian_pair(&mut rng);
                    let lat_n = lat + n1 * v.noise_m / 111_200.0;
                    let lon_n = lon + n2 * v.noise_m / (111_200.0 * lat.to_radians().cos());
                    let course = if moving {
                        Haversine.bearing(l.a, l.b).rem_euclid(360.0)
                    } else {
                        0.0
                    };
                    let speed = if moving {
                        l.speed_kn + rng.random_range(-0.2..0.2)
                    } else {
                        rng.random_range(0.0..0.2)
                    };
                    let report = PositionReport {
                        msg_type: if v.class == Class::B { 18 } else { 1 },
                        mmsi: v.mmsi,
                        status: if moving { 0 } else { 5 },
                        speed: Some(((speed * 10.0).round() / 10.0).max(0.0) as f32),
                        lat: (lat_n * 600_000.0).round() / 600_000.0,
                        lon: (lon_n * 600_000.0).round() / 600_000.0,
                        course: Some(((course * 10.0).round() / 10.0 % 360.0) as f32),
                        heading: Some((course.round() as u16) % 360),
                        second: ((t / 1000) % 60) as u8,
                    };
                    let (payload, fill) = encode::position(&report).armour();
                    let mut lines =
                        encode::sentences(&payload, fill, channel, 0, &self.station, t / 1000, 0);
                    self.add_junk(&mut junk_rng, &mut lines);
                    out.push(Emission {
                        time: UnixMillis(t),
                        vessel: vi,
                        report: Report::Position(report),
                        lines,
                    });
                }
                let sog = if moving { l.speed_kn } else { 0.0 };
                t += match (self.interval, v.class) {
                    (Some(i), _) => i.millis().max(1000),
                    (None, Class::A) if sog < 0.5 => 180_000,
                    (None, Class::A) if sog <= 14.0 => 10_000,
                    (None, Class::A) if sog <= 23.0 => 6_000,
                    (None, Class::A) => 2_000,
                    (None, Class::B) if sog <= 2.0 => 180_000,
                    (None, Class::B) => 30_000,
                };
            }
        }
        for (i, b) in self.base_stations.iter().enumerate() {
            let every = b.interval.map_or(10_000, |d| d.millis().max(1000));
            let offset = match &b.clock {
                Some(c) => time("base_stations.clock", c)?.0 - start,
                None => 0,
            };
            let mut t = start;
            while t < end {
                let report = BaseStationReport {
                    mmsi: b.mmsi,
                    utc: (!b.clock_unavailable).then_some(UnixMillis(t + offset)),
                    lat: b.lat,
                    lon: b.lon,
                };
                let (payload, fill) = encode::base_station(&report).armour();
                out.push(Emission {
                    time: UnixMillis(t),
                    vessel: self.vessels.len() + i,
                    report: Report::BaseStation(report),
                    lines: encode::sentences(&payload, fill, 'A', 0, &self.station, t / 1000, 0),
                });
                t += every;
            }
        }
        out.sort_by_key(|e| (e.time, e.vessel));
        Ok(out)
    }

    /// Adds junk lines after `lines`, each with probability `junk`.
    fn add_junk(&self, rng: &mut ChaCha8Rng, lines: &mut Vec<String>) {
        if self.junk <= 0.0 {
            return;
        }
        let mut extra = Vec::new();
        for l in lines.iter() {
            if rng.random::<f64>() >= self.junk {
                continue;
            }
            extra.push(match rng.random_range(0..4u8) {
                0 => {
                    // A corrupt copy: one payload character changed, checksum kept.
                    let mut b = l.clone().into_bytes();
                    let i = b.len() - 8;
                    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
                    String::from_utf8(b).expect("ASCII")
                }
                1 => "$GPZDA,201530.00,04,07,2002,00,00*60".to_string(),
                2 => "!AIVDM,2,2,7,B,00000000000,2*20".to_string(),
                _ => "\u{0}\u{0}garbage after a reconnect".to_string(),
            });
        }
        lines.extend(extra);
    }

    /// The whole feed as text, one sentence per line.
    pub fn feed(&self) -> Result<String, ScenarioError> {
        let mut s = String::new();
        for e in self.run()? {
            for l in e.lines {
                s.push_str(&l);
                s.push('\n');
            }
        }
        Ok(s)
    }
}

/// Two independent standard normal values (Box–Muller), from the scenario's seeded generator.
fn gaussian_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let r = (-2.0 * u1.ln()).sqrt();
    let a = std::f64::consts::TAU * u2;
    (r * a.cos(), r * a.sin())
}
