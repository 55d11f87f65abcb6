//! Structured hostile input for the engine, shared by the `engine` fuzz target and the property
//! tests.
//!
//! Owns the generator of message sequences that no decoder test produces: times of 0, negative,
//! the years 2100 and 5138, going backwards; positions beyond ±90°/±180°, NaN and infinite;
//! one MMSI or many; names, call signs and IMO numbers that match the watchlist and then stop
//! matching; extreme thresholds. A [`Script`] is built by `arbitrary` (the fuzzer mutates its bytes
//! with coverage feedback, the property tests draw them from proptest through
//! [`Script::from_bytes`]) and [`Script::check`] drives it through the feed clocks and the engine
//! the way the daemon's pipeline does, asserting the invariants both harnesses share. Behind the
//! `fuzzgen` feature. It builds values and calls the engine: no I/O, no clock.

use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};

use crate::event::Event;
use crate::feedclock::{ClockSettings, FeedClocks, Mode, Now};
use crate::geofence::FenceSet;
use crate::movement::{Engine, EngineSettings};
use crate::settings::{FenceConfig, HumanDuration, LatLon, Vessels, WatchConfig};
use crate::vocab::FenceKind;
use crate::watchlist::Watchlist;
use vesselwatch_ais::decode::{
    AisMessage, AisText, BaseStation, Dimensions, ExtendedClassB, Header, InvalidFields, Position,
    StaticPartA, StaticPartB, StaticVoyage,
};
use vesselwatch_ais::frontend::{Decoded, Meta};
use vesselwatch_ais::time::UnixMillis;

/// The latest time any feed can state: `c:` and log epochs stop below 10^14 ms (the year 5138)
/// and type 4 years at 9999 (`UnixMillis::from_epoch_auto`, `from_civil`); the wall clock is far
/// below. Times handed in stay within ±this, the range the feed clock can produce.
pub const MAX_TIME: i64 = 253_402_300_799_000;
/// 2025-06-01T04:00:00Z, where the scripts' ordinary times start.
pub const T0: i64 = 1_748_750_400_000;
/// The port's centre; the other fences are placed around it.
pub const PORT: (f64, f64) = (34.9, 35.87);
/// The fences the engine is configured with; no event may name another.
pub const FENCES: [&str; 3] = ["port", "anchorage", "strait"];
/// MMSIs the scripts pick from, so that one vessel gets many messages.
const MMSIS: [u32; 4] = [273_000_001, 273_000_002, 999_999_999, 0];
/// Names, call signs and IMO numbers on the watchlist (and a vessel may take them and drop them).
const NAMES: [&str; 2] = ["WATCHED ONE", "OTHER"];
const CALLSIGNS: [&str; 2] = ["UBCD7", "ZZZ"];
const IMOS: [u32; 2] = [9_000_001, 1_073_741_823];

/// A sequence of messages, clock readings and ticks, and the engine's settings.
#[derive(Debug, Clone, Arbitrary)]
pub struct Script {
    /// Live (arrival times, the wall clock ticks) or replay (held messages, relative clocks).
    pub live: bool,
    /// Every vessel monitored, or the watchlist only.
    pub all_vessels: bool,
    /// `dark_after`, from a few values (1 ms to i64::MAX ms).
    pub dark_after: Duration,
    /// `holding_after`.
    pub holding_after: Duration,
    /// `max_speed_kn`, taken within what validation allows (0 to 1000].
    pub max_speed: u16,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// A threshold, from the smallest to the largest a configuration can say.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Duration {
    /// One millisecond.
    Tiny,
    /// A minute.
    Minute,
    /// Four hours (the default of `dark_after`).
    Hours,
    /// Hundreds of millions of years: `HumanDuration::millis` saturates at `i64::MAX`.
    Forever,
}

/// One step of a script.
#[derive(Debug, Clone, Arbitrary)]
pub enum Step {
    /// A message arrives on a feed (0 to 3).
    Message {
        /// Feed index (modulo 4).
        feed: u8,
        /// Which vessel.
        vessel: Vessel,
        /// What it says.
        body: Body,
        /// Its tag-block or log time.
        stated: Option<Time>,
        /// The receiver clock before it.
        receiver: Option<Time>,
        /// The wall clock when it arrives (live).
        wall: Time,
    },
    /// The daemon's loop turns with no data (wall clock at this time).
    Tick(Time),
    /// A feed ends (a reconnect, end of a file).
    FinishFeed(u8),
    /// The configuration is reloaded: every vessel is carried over through its snapshot.
    Reload,
}

/// Which vessel sends.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Vessel {
    /// One of a few MMSIs, so that state builds up.
    Known(u8),
    /// Any MMSI at all.
    Any(u32),
}

/// A time, absurd or ordinary.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Time {
    /// [`T0`] plus up to ±9 hours, in seconds.
    Near(i16),
    /// [`T0`] plus any number of milliseconds, within a month either way.
    Jitter(i32),
    /// The epoch.
    Zero,
    /// Before the epoch.
    Negative(u32),
    /// 2100-01-01.
    Y2100,
    /// The year 5138 (`c:99999999999`).
    Y5138,
    /// The latest time a type 4 can state (9999-12-31T23:59:59Z).
    Latest,
    /// Any time within ±[`MAX_TIME`].
    Any(i64),
}

/// A position, near the fences or absurd.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Place {
    /// The port's centre plus an offset in 1/10,000 degree (±3.2°).
    NearPort(i16, i16),
    /// Any coordinates, NaN and infinities included.
    Any(f64, f64),
    /// Not available.
    Unavailable,
}

/// A text field that matches the watchlist or not.
#[derive(Debug, Clone, Arbitrary)]
pub enum Text {
    /// One of the watched values (index modulo 2).
    Listed(u8),
    /// Anything.
    Any(String),
}

/// What a message says.
#[derive(Debug, Clone, Arbitrary)]
pub enum Body {
    /// A class A (1), class B (18) or type 19 position.
    Position {
        /// Types 1, 18 or 19 (modulo 3).
        kind: u8,
        /// Where.
        place: Place,
        /// Speed, any value.
        speed: Option<f32>,
        /// Course, any value.
        course: Option<f32>,
        /// Heading.
        heading: Option<u16>,
        /// UTC second, 0 to 63 and beyond.
        second: Option<u8>,
        /// The type 19's name.
        name: Text,
    },
    /// A type 5.
    Static {
        /// IMO.
        imo: Option<u32>,
        /// Name.
        name: Text,
        /// Call sign.
        callsign: Text,
        /// Destination.
        destination: String,
    },
    /// Type 24 part A (the name) or B (the call sign).
    Part24 {
        /// Part B.
        b: bool,
        /// Name or call sign.
        text: Text,
    },
    /// A base station's time.
    BaseStation(Option<Time>),
    /// Another message type.
    Other(u8),
}

impl Duration {
    fn millis(self) -> i64 {
        let d = match self {
            Duration::Tiny => std::time::Duration::from_millis(1),
            Duration::Minute => std::time::Duration::from_secs(60),
            Duration::Hours => std::time::Duration::from_secs(4 * 3600),
            Duration::Forever => std::time::Duration::from_secs(u64::MAX),
        };
        HumanDuration(d).millis()
    }
}

impl Time {
    /// The time in milliseconds, within ±[`MAX_TIME`].
    pub fn millis(self) -> i64 {
        match self {
            Time::Near(s) => T0 + i64::from(s) * 1000,
            Time::Jitter(ms) => T0 + i64::from(ms),
            Time::Zero => 0,
            Time::Negative(ms) => -i64::from(ms),
            Time::Y2100 => 4_102_444_800_000,
            Time::Y5138 => 99_999_999_999_000,
            Time::Latest => MAX_TIME,
            Time::Any(t) => t % (MAX_TIME + 1),
        }
    }
}

impl Text {
    fn pick<const N: usize>(&self, listed: [&str; 2]) -> AisText<N> {
        match self {
            Text::Listed(i) => AisText::from_text(listed[usize::from(*i % 2)]),
            Text::Any(s) => AisText::from_text(s),
        }
    }
}

impl Place {
    fn coordinates(self) -> (Option<f64>, Option<f64>) {
        match self {
            Place::NearPort(dlat, dlon) => (
                Some(PORT.0 + f64::from(dlat) * 1e-4),
                Some(PORT.1 + f64::from(dlon) * 1e-4),
            ),
            Place::Any(lat, lon) => (Some(lat), Some(lon)),
            Place::Unavailable => (None, None),
        }
    }
}

impl Body {
    fn message(&self, mmsi: u32) -> AisMessage {
        let header = |msg_type| Header {
            msg_type,
            repeat: 0,
            mmsi,
        };
        match self {
            Body::Position {
                kind,
                place,
                speed,
                course,
                heading,
                second,
                name,
            } => {
                let msg_type = [1, 18, 19][usize::from(kind % 3)];
                let (lat, lon) = place.coordinates();
                let p = Position {
                    header: header(msg_type),
                    status: (msg_type == 1).then_some(0),
                    turn: None,
                    speed: *speed,
                    accuracy: false,
                    lon,
                    lat,
                    course: *course,
                    heading: *heading,
                    second: *second,
                    maneuver: None,
                    raim: false,
                    radio: None,
                    gnss: None,
                    invalid: InvalidFields::default(),
                };
                if msg_type == 19 {
                    AisMessage::ExtendedClassB(
                        p,
                        ExtendedClassB {
                            shipname: name.pick(NAMES),
                            shiptype: 70,
                            dims: Dimensions::default(),
                            epfd: 1,
                        },
                    )
                } else {
                    AisMessage::Position(p)
                }
            }
            Body::Static {
                imo,
                name,
                callsign,
                destination,
            } => AisMessage::StaticVoyage(StaticVoyage {
                header: header(5),
                ais_version: 0,
                imo: *imo,
                callsign: callsign.pick(CALLSIGNS),
                shipname: name.pick(NAMES),
                shiptype: 70,
                dims: Dimensions::default(),
                epfd: 1,
                eta: [0, 0, 24, 60],
                draught: 0.0,
                destination: AisText::from_text(destination),
                dte: None,
            }),
            Body::Part24 { b: false, text } => AisMessage::StaticPartA(StaticPartA {
                header: header(24),
                shipname: text.pick(NAMES),
            }),
            Body::Part24 { b: true, text } => AisMessage::StaticPartB(StaticPartB {
                header: header(24),
                shiptype: 37,
                callsign: text.pick(CALLSIGNS),
                dims: None,
                mothership_mmsi: None,
            }),
            Body::BaseStation(t) => AisMessage::BaseStation(BaseStation {
                header: header(4),
                civil: [0; 6],
                utc: t.map(|t| UnixMillis(t.millis())),
                accuracy: false,
                lon: Some(PORT.1),
                lat: Some(PORT.0),
                epfd: 1,
                raim: false,
                radio: 0,
            }),
            Body::Other(t) => AisMessage::Other(header(6 + t % 4)),
        }
    }
}

/// What a script made the engine do, for the invariants and for tests that want more.
#[derive(Debug, Default)]
pub struct Run {
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Messages the feed clocks handed to the engine.
    pub messages: u64,
    /// The latest time handed to the engine (message times and ticks).
    pub latest_input: Option<UnixMillis>,
}

/// The engine the scripts drive: a port, an anchorage and a gate around [`PORT`], and a
/// watchlist of one MMSI, one IMO, one name and one call sign.
pub fn engine(script: &Script) -> Engine {
    let circle = |name: &str, kind, dlat: f64, km: f64| FenceConfig {
        name: name.into(),
        kind,
        center: Some(LatLon {
            lat: PORT.0 + dlat,
            lon: PORT.1,
        }),
        radius_km: Some(km),
        geojson: None,
        line: None,
        exit_margin_km: None,
        approach_km: None,
        min_dwell: Some(HumanDuration(std::time::Duration::from_secs(60))),
    };
    let gate = FenceConfig {
        line: Some(vec![
            LatLon {
                lat: PORT.0 - 0.1,
                lon: PORT.1 + 0.05,
            },
            LatLon {
                lat: PORT.0 + 0.1,
                lon: PORT.1 + 0.05,
            },
        ]),
        center: None,
        radius_km: None,
        min_dwell: None,
        ..circle(FENCES[2], FenceKind::Gate, 0.0, 0.0)
    };
    let fences = [
        circle(FENCES[0], FenceKind::Port, 0.0, 1.0),
        circle(FENCES[1], FenceKind::Anchorage, 0.03, 0.5),
        gate,
    ];
    let fences = FenceSet::build(&fences, vec![None, None, None]).expect("valid fences");
    let watch = |label: &str| WatchConfig {
        label: label.into(),
        group: None,
        mmsi: None,
        imo: None,
        name: None,
        callsign: None,
    };
    let watchlist = Watchlist::new(&[
        WatchConfig {
            mmsi: Some(MMSIS[0]),
            ..watch("by mmsi")
        },
        WatchConfig {
            imo: Some(IMOS[0]),
            ..watch("by imo")
        },
        WatchConfig {
            name: Some(NAMES[0].into()),
            ..watch("by name")
        },
        WatchConfig {
            callsign: Some(CALLSIGNS[0].into()),
            ..watch("by call sign")
        },
    ]);
    let settings = EngineSettings {
        vessels: if script.all_vessels {
            Vessels::All
        } else {
            Vessels::Watchlist
        },
        dark_after_ms: script.dark_after.millis(),
        holding_after_ms: script.holding_after.millis(),
        max_speed_kn: f64::from(script.max_speed % 1000) + 1.0,
        forget_after_ms: script
            .dark_after
            .millis()
            .max(script.holding_after.millis()),
        max_vessels: 1_000,
        // As long as holding, at the default speed: the fuzzer's short scripts reach it.
        loitering: Some((script.holding_after.millis(), 2.0)),
        position_conflict: Some((3, 3_600_000)),
        // Short enough for the fuzzer's scripts to reach, as wide as the default.
        encounter: Some(crate::movement::EncounterSettings {
            min_ms: script.holding_after.millis(),
            ..crate::movement::EncounterSettings::from(&crate::settings::EncounterConfig::default())
        }),
    };
    Engine::with_parts(settings, Arc::new(fences), watchlist)
}

/// A live feed whose latest message time is within this of the wall clock is live (the
/// pipeline's `LIVE_LAG`).
const LIVE_LAG_MS: i64 = 600_000;

impl Script {
    /// Builds a script from unstructured bytes, as the fuzz target's `arbitrary` does: the
    /// property tests call this with proptest's bytes so that both run one generator.
    pub fn from_bytes(bytes: &[u8]) -> arbitrary::Result<Self> {
        Script::arbitrary_take_rest(Unstructured::new(bytes))
    }

    /// Runs the script through feed clocks and the engine as the daemon's pipeline does (feed
    /// clocks time each message; the engine ticks with the wall clock, or the feed's time while
    /// the feed lags), checking after every step that the engine clock never goes back and never
    /// passes the latest time it was given, that events name configured fences and are not later
    /// than the engine clock, and that only monitored vessels get events.
    pub fn check(&self) -> Result<Run, String> {
        let mut engine = engine(self);
        let mode = if self.live { Mode::Live } else { Mode::Replay };
        let mut clocks = FeedClocks::new(ClockSettings::new(mode));
        let mut run = Run::default();
        let mut events = Vec::new();
        let mut last_clock = None;
        for step in &self.steps {
            let mut wall = None;
            {
                let latest = &mut run.latest_input;
                let messages = &mut run.messages;
                let mut on_message = |d: Decoded, t: UnixMillis| {
                    *latest = (*latest).max(Some(t));
                    *messages += 1;
                    engine.on_message(&d, t, &mut events);
                };
                match step {
                    Step::Message {
                        feed,
                        vessel,
                        body,
                        stated,
                        receiver,
                        wall: w,
                    } => {
                        let mmsi = match vessel {
                            Vessel::Known(i) => MMSIS[usize::from(i % 4)],
                            Vessel::Any(m) => *m,
                        };
                        let d = Decoded {
                            message: body.message(mmsi),
                            meta: Meta {
                                feed: u32::from(feed % 4),
                                talker: *b"AI",
                                own_ship: false,
                                channel: b'A',
                                tag_time: stated.map(|t| UnixMillis(t.millis())),
                                tag_source: None,
                                log_time: None,
                                station: None,
                                receiver_time: receiver.map(|t| UnixMillis(t.millis())),
                            },
                        };
                        let w = UnixMillis(w.millis());
                        wall = Some(w);
                        let now = Now {
                            arrival: self.live.then_some(w),
                            latest: None,
                        };
                        clocks.push(d, now, &mut on_message);
                    }
                    Step::Tick(t) => wall = Some(UnixMillis(t.millis())),
                    Step::FinishFeed(f) => clocks.finish_feed(u32::from(f % 4), &mut on_message),
                    Step::Reload => {}
                }
                if self.live
                    && let Some(w) = wall
                {
                    clocks.release_due(
                        Now {
                            arrival: Some(w),
                            latest: None,
                        },
                        &mut on_message,
                    );
                }
            }
            if let Step::Reload = step {
                engine.reconfigure(self::engine(self));
            }
            // The pipeline's tick: the wall clock, unless the feed lags it.
            if let (true, Some(w), Some(feed)) = (self.live, wall, engine.feed_time()) {
                let clock = if w.0.saturating_sub(feed.0) <= LIVE_LAG_MS {
                    w
                } else {
                    feed
                };
                run.latest_input = run.latest_input.max(Some(clock));
                engine.tick(clock, &mut events);
            }
            let clock = engine.clock();
            if clock < last_clock {
                return Err(format!(
                    "engine clock went back: {last_clock:?} to {clock:?}"
                ));
            }
            last_clock = clock;
            if clock > run.latest_input {
                return Err(format!(
                    "engine clock {clock:?} past every time given ({:?})",
                    run.latest_input
                ));
            }
            for e in events.drain(..) {
                if !FENCES.contains(&e.fence.as_str()) {
                    return Err(format!("event for an unknown fence: {e:?}"));
                }
                if Some(e.time) > clock {
                    return Err(format!("event after the engine clock {clock:?}: {e:?}"));
                }
                run.events.push(e);
            }
        }
        clocks.finish(|d, t| {
            run.messages += 1;
            engine.on_message(&d, t, &mut events);
        });
        run.events.append(&mut events);
        Ok(run)
    }
}
