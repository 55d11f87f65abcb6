//! Property tests of the movement engine and the simulator.
//!
//! - No flapping: GPS jitter inside a fence and in its margin band produces no events.
//! - A clean pass (outside → deep inside with jitter → outside) gives exactly one arrival and one
//!   departure.
//! - Simulate, then decode, returns what was encoded.

use proptest::prelude::*;
use vesselwatch::config::{Loaded, Origin};
use vesselwatch::simulate::{Report, Scenario};
use vesselwatch_ais::decode::AisMessage;
use vesselwatch_ais::encode::{self, PositionReport};
use vesselwatch_ais::frontend::FrontEnd;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::movement::{Engine, Recall, VesselSnapshot};
use vesselwatch_engine::{Event, EventKind};

const CENTER: (f64, f64) = (34.9, 35.87);
const RADIUS_KM: f64 = 1.0;
const MARGIN_KM: f64 = 0.5;

fn engine() -> Engine {
    let toml = format!(
        "[monitor]\nvessels = \"all\"\n[[fences]]\nname = \"port\"\nkind = \"port\"\n\
         center = {{ lat = {}, lon = {} }}\nradius_km = {RADIUS_KM}\nexit_margin_km = {MARGIN_KM}\n",
        CENTER.0, CENTER.1
    );
    Loaded::from_str(&toml, Origin::Embedded).unwrap().engine()
}

/// The point `km` from the centre on `bearing` degrees (flat approximation, fine at 1.5 km).
fn offset(km: f64, bearing: f64) -> (f64, f64) {
    let b = bearing.to_radians();
    let dlat = km * b.cos() / 111.2;
    let dlon = km * b.sin() / (111.2 * CENTER.0.to_radians().cos());
    (CENTER.0 + dlat, CENTER.1 + dlon)
}

/// Sends `report` at `t` seconds through the real front end into the engine.
fn push(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    report: &PositionReport,
    channel: char,
    t: i64,
    out: &mut Vec<Event>,
) {
    let (payload, fill) = encode::position(report).armour();
    for line in encode::sentences(&payload, fill, channel, 0, "rTEST", 1_700_000_000 + t, 0) {
        if let Some(d) = fe.push_line(0, line.as_bytes()) {
            engine.on_message(&d, d.meta.time().expect("tagged"), out);
        }
    }
}

/// Feeds one type 1 report at `t` seconds into the engine, through the real front end.
fn feed(engine: &mut Engine, fe: &mut FrontEnd, t: i64, lat: f64, lon: f64, out: &mut Vec<Event>) {
    let report = PositionReport {
        msg_type: 1,
        mmsi: 273_000_999,
        status: 5,
        speed: Some(0.1),
        lat,
        lon,
        course: Some(0.0),
        heading: Some(0),
        second: (t % 60) as u8,
    };
    push(engine, fe, &report, 'A', t, out);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn jitter_inside_and_in_the_band_never_flaps(
        jitter in proptest::collection::vec((0.0..(RADIUS_KM + MARGIN_KM - 0.01), 0.0..360.0), 1..200),
    ) {
        let (mut e, mut fe, mut out) = (engine(), FrontEnd::default(), Vec::new());
        feed(&mut e, &mut fe, 0, CENTER.0, CENTER.1, &mut out);
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(out[0].kind, EventKind::Present);
        out.clear();
        for (i, (km, bearing)) in jitter.iter().enumerate() {
            let (lat, lon) = offset(*km, *bearing);
            // Ten minutes apart: no jump is implausible at this scale.
            feed(&mut e, &mut fe, 600 * (i as i64 + 1), lat, lon, &mut out);
        }
        prop_assert!(out.is_empty(), "{:?}", out.iter().map(|e| e.kind).collect::<Vec<_>>());
    }

    #[test]
    fn one_pass_through_is_one_arrival_and_one_departure(
        jitter in proptest::collection::vec((0.0..(RADIUS_KM + MARGIN_KM - 0.01), 0.0..360.0), 0..50),
        approach in 0.0..360.0f64,
    ) {
        let (mut e, mut fe, mut out) = (engine(), FrontEnd::default(), Vec::new());
        let (lat, lon) = offset(5.0, approach);
        feed(&mut e, &mut fe, 0, lat, lon, &mut out);
        feed(&mut e, &mut fe, 600, CENTER.0, CENTER.1, &mut out);
        let mut t = 600;
        for (km, bearing) in &jitter {
            t += 600;
            let (lat, lon) = offset(*km, *bearing);
            feed(&mut e, &mut fe, t, lat, lon, &mut out);
        }
        let (lat, lon) = offset(5.0, approach + 180.0);
        feed(&mut e, &mut fe, t + 1200, lat, lon, &mut out);
        let kinds: Vec<_> = out.iter().map(|e| e.kind).collect();
        prop_assert_eq!(kinds, vec![EventKind::Arrival, EventKind::Departure]);
        let (arr, dep) = (&out[0], &out[1]);
        // Crossing times lie between the fixes either side.
        let crossing = arr.crossing_time.unwrap();
        prop_assert!(crossing.0 >= 1_700_000_000_000 && crossing.0 <= 1_700_000_600_000);
        prop_assert_eq!(dep.visit_start, Some(crossing));
        prop_assert!(dep.crossing_time.unwrap() <= dep.time);
    }

    #[test]
    fn simulate_then_decode_returns_what_was_encoded(
        seed in any::<u64>(),
        class_b in any::<bool>(),
        name in "[A-Z][A-Z0-9 ]{0,18}[A-Z]",
        callsign in "[A-Z0-9]{4,7}",
        lat in -60.0..60.0f64,
        lon in -170.0..170.0f64,
        legs in proptest::collection::vec((-0.5..0.5f64, -0.5..0.5f64, 1.0..30.0f64), 1..4),
    ) {
        let mut waypoints = format!("{{ lat = {lat}, lon = {lon} }}");
        for (dlat, dlon, kn) in &legs {
            waypoints.push_str(&format!(", {{ lat = {}, lon = {}, speed_kn = {kn} }}", lat + dlat, lon + dlon));
        }
        let toml = format!(
            "name = \"p\"\nseed = {seed}\nstart = \"2025-01-01T00:00:00Z\"\nend = \"2025-01-01T03:00:00Z\"\n\
             [[vessels]]\nmmsi = 273000555\nimo = 9123456\nname = \"{name}\"\ncallsign = \"{callsign}\"\n\
             shiptype = 70\ndestination = \"TARTUS\"\nclass = \"{}\"\nnoise_m = 20\nwaypoints = [{waypoints}]\n",
            if class_b { "B" } else { "A" }
        );
        let emissions = Scenario::parse(&toml).unwrap().run().unwrap();
        prop_assert!(emissions.len() > 10);
        let mut fe = FrontEnd::default();
        for em in &emissions {
            let decoded: Vec<AisMessage> = em
                .lines
                .iter()
                .filter_map(|l| fe.push_line(0, l.as_bytes()))
                .map(|d| d.message)
                .collect();
            match &em.report {
                Report::Position(r) => {
                    prop_assert_eq!(decoded.len(), 1);
                    let AisMessage::Position(p) = &decoded[0] else { panic!("{decoded:?}") };
                    prop_assert_eq!(p.header.mmsi, r.mmsi);
                    prop_assert_eq!(p.header.msg_type, r.msg_type);
                    prop_assert!((p.lat.unwrap() - r.lat).abs() < 1e-9);
                    prop_assert!((p.lon.unwrap() - r.lon).abs() < 1e-9);
                    prop_assert!((p.speed.unwrap() - r.speed.unwrap()).abs() < 0.051);
                    prop_assert!((p.course.unwrap() - r.course.unwrap()).abs() < 0.051);
                    prop_assert_eq!(p.heading, r.heading);
                    prop_assert_eq!(p.second, Some(r.second));
                }
                Report::Static(s) if class_b => {
                    prop_assert_eq!(decoded.len(), 2);
                    let (AisMessage::StaticPartA(a), AisMessage::StaticPartB(b)) = (&decoded[0], &decoded[1]) else {
                        panic!("{decoded:?}")
                    };
                    prop_assert_eq!(a.shipname.as_str(), s.name.as_str());
                    prop_assert_eq!(b.callsign.as_str(), s.callsign.as_str());
                    prop_assert_eq!(b.shiptype, s.shiptype);
                }
                Report::BaseStation(_) => unreachable!("the scenario has no base stations"),
                Report::Static(s) => {
                    prop_assert_eq!(decoded.len(), 1);
                    let AisMessage::StaticVoyage(v) = &decoded[0] else { panic!("{decoded:?}") };
                    prop_assert_eq!(v.header.mmsi, s.mmsi);
                    prop_assert_eq!(v.imo, s.imo);
                    prop_assert_eq!(v.shipname.as_str(), s.name.as_str());
                    prop_assert_eq!(v.callsign.as_str(), s.callsign.as_str());
                    prop_assert_eq!(v.destination.as_str(), s.destination.as_str());
                    prop_assert_eq!(v.shiptype, s.shiptype);
                }
            }
        }
    }
}

/// Feeds a type 5 static report for `mmsi` at `t` seconds (call sign UBXS, cargo).
fn feed_static(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    t: i64,
    mmsi: u32,
    imo: u32,
    name: &str,
    out: &mut Vec<Event>,
) {
    feed_identity(engine, fe, t, mmsi, imo, name, "UBXS", 70, out);
}

fn feed_at(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    mmsi: u32,
    t: i64,
    (lat, lon): (f64, f64),
    out: &mut Vec<Event>,
) {
    let report = PositionReport {
        msg_type: 1,
        mmsi,
        status: 0,
        speed: Some(5.0),
        lat,
        lon,
        course: Some(90.0),
        heading: Some(90),
        second: (t % 60) as u8,
    };
    push(engine, fe, &report, 'B', t, out);
}

fn watch_engine(extra_fence: &str) -> Engine {
    let toml = format!(
        "[[fences]]\nname = \"port\"\nkind = \"port\"\ncenter = {{ lat = {}, lon = {} }}\nradius_km = 1\n{extra_fence}\n\
         [[watch]]\nlabel = \"Sparta\"\nimo = 9268710\nname = \"SPARTA\"\n",
        CENTER.0, CENTER.1
    );
    Loaded::from_str(&toml, Origin::Embedded).unwrap().engine()
}

#[test]
fn watch_by_imo_starts_with_the_static_report_and_follows_a_new_mmsi() {
    let (mut e, mut fe, mut out) = (watch_engine(""), FrontEnd::default(), Vec::new());
    // Positions before the static report: not yet known to be Sparta, no events.
    feed_at(&mut e, &mut fe, 273_000_001, 0, CENTER, &mut out);
    assert!(out.is_empty());
    feed_static(
        &mut e,
        &mut fe,
        60,
        273_000_001,
        9268710,
        "SPARTA",
        &mut out,
    );
    // Now watched, already in port: present (not an arrival).
    feed_at(&mut e, &mut fe, 273_000_001, 600, CENTER, &mut out);
    assert_eq!(
        out.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Present]
    );
    assert_eq!(out[0].label.as_deref(), Some("Sparta"));
    // The ship re-flags with a new MMSI: matched again by IMO from its static report.
    out.clear();
    feed_static(
        &mut e,
        &mut fe,
        700,
        273_999_999,
        9268710,
        "SPARTA",
        &mut out,
    );
    feed_at(
        &mut e,
        &mut fe,
        273_999_999,
        1200,
        offset(5.0, 270.0),
        &mut out,
    );
    feed_at(&mut e, &mut fe, 273_999_999, 2400, CENTER, &mut out);
    let kinds: Vec<_> = out.iter().map(|e| (e.kind, e.mmsi)).collect();
    // Issue 13: the IMO under a new MMSI is an identity change, at its static report.
    assert_eq!(
        kinds,
        [
            (EventKind::IdentityChange, 273_999_999),
            (EventKind::Arrival, 273_999_999)
        ]
    );
    let change = out[0].change.as_ref().unwrap();
    assert_eq!(
        (
            change.field.as_str(),
            change.old.as_str(),
            change.new.as_str()
        ),
        ("mmsi", "273000001", "273999999")
    );
    assert_eq!(out[0].time.0, (1_700_000_000 + 700) * 1000);
    // A different ship called SPARTA IV never matches SPARTA.
    out.clear();
    feed_static(
        &mut e,
        &mut fe,
        3000,
        273_000_004,
        9743033,
        "SPARTA IV",
        &mut out,
    );
    feed_at(&mut e, &mut fe, 273_000_004, 3600, CENTER, &mut out);
    assert!(out.is_empty());
}

#[test]
fn min_dwell_delays_the_arrival_and_a_short_visit_is_none() {
    let toml = format!(
        "[monitor]\nvessels = \"all\"\n[[fences]]\nname = \"anch\"\nkind = \"anchorage\"\n\
         center = {{ lat = {}, lon = {} }}\nradius_km = 1\nmin_dwell = \"1h\"\n",
        CENTER.0, CENTER.1
    );
    let mut e = Loaded::from_str(&toml, Origin::Embedded).unwrap().engine();
    let (mut fe, mut out) = (FrontEnd::default(), Vec::new());
    let m = 273_000_010;
    feed_at(&mut e, &mut fe, m, 0, offset(5.0, 0.0), &mut out);
    feed_at(&mut e, &mut fe, m, 1200, CENTER, &mut out);
    feed_at(&mut e, &mut fe, m, 2400, CENTER, &mut out);
    // Only 20 minutes inside, then out: no events at all.
    feed_at(&mut e, &mut fe, m, 3600, offset(5.0, 180.0), &mut out);
    assert!(out.is_empty(), "{out:?}");
    feed_at(&mut e, &mut fe, m, 4800, CENTER, &mut out);
    feed_at(&mut e, &mut fe, m, 6000, CENTER, &mut out);
    assert!(out.is_empty());
    feed_at(&mut e, &mut fe, m, 4800 + 3600, CENTER, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind, EventKind::Arrival);
    // The crossing is the first entry, not the moment the dwell was satisfied.
    assert!(out[0].crossing_time.unwrap().0 < 1_700_000_000_000 + 4_800_000);
}

/// An engine for `vessels = "all"` with a 1 km port at `CENTER` and `[monitor]` `extra`.
fn all_engine(extra: &str) -> Engine {
    let toml = format!(
        "[monitor]\nvessels = \"all\"\n{extra}\n[[fences]]\nname = \"port\"\nkind = \"port\"\n\
         center = {{ lat = {}, lon = {} }}\nradius_km = 1\n",
        CENTER.0, CENTER.1
    );
    Loaded::from_str(&toml, Origin::Embedded).unwrap().engine()
}

/// Regression (issue 11, item 6): a `dark` deadline was pushed for every message, 8,640 a day for
/// a vessel reporting every 10 s. Now the queue holds one per vessel, and `dark` still comes at
/// the scenario's time: the last report plus `dark_after` (4 h).
#[test]
fn one_dark_deadline_per_vessel_however_often_it_reports() {
    let mut engine = all_engine("");
    let mut fe = FrontEnd::default();
    let mut out = Vec::new();
    let (a, b) = (273_000_001, 273_000_002);
    for i in 0..8_640 {
        feed_at(&mut engine, &mut fe, a, i * 10, CENTER, &mut out);
        feed_at(
            &mut engine,
            &mut fe,
            b,
            i * 10 + 5,
            offset(0.3, 90.0),
            &mut out,
        );
    }
    assert_eq!(engine.dark_deadlines(), 2);
    let last_a = 1_700_000_000_000 + 86_390_000;
    engine.tick(UnixMillis(last_a + 5 * 3_600_000), &mut out);
    let dark: Vec<(u32, i64)> = out
        .iter()
        .filter(|e| e.kind == EventKind::Dark)
        .map(|e| (e.mmsi, e.time.0))
        .collect();
    assert_eq!(
        dark,
        [
            (a, last_a + 4 * 3_600_000),
            (b, last_a + 5_000 + 4 * 3_600_000)
        ]
    );
}

/// A [`Recall`] over snapshots kept as a store would keep them.
#[derive(Default, Clone)]
struct Saved(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u32, VesselSnapshot>>>);

impl Recall for Saved {
    fn recall(&mut self, mmsi: u32) -> Option<VesselSnapshot> {
        self.0.lock().unwrap().get(&mmsi).cloned()
    }
}

impl Saved {
    fn keep(&self, engine: &mut Engine) {
        let mut saved = self.0.lock().unwrap();
        for s in engine.take_snapshots() {
            saved.insert(s.mmsi, s);
        }
    }
}

/// Issue 11, item 6: a vessel silent past `forget_after` leaves memory; heard again, its state
/// comes back from the store, so the engine knows it went dark in port and reports it
/// reappeared (a vessel it had never heard would just be `present`).
#[test]
fn a_silent_vessel_is_forgotten_then_recalled_with_its_state() {
    let mut engine = all_engine("forget_after = \"1d\"");
    engine.enable_recording(None);
    let saved = Saved::default();
    engine.set_recall(Box::new(saved.clone()));
    let mut fe = FrontEnd::default();
    let mut out = Vec::new();
    let (a, b) = (273_000_001, 273_000_002);
    feed_at(&mut engine, &mut fe, a, 0, CENTER, &mut out);
    feed_at(&mut engine, &mut fe, a, 30, CENTER, &mut out);
    saved.keep(&mut engine);
    // Another vessel, far from the port, 5 h later: the engine clock passes A's dark deadline.
    feed_at(
        &mut engine,
        &mut fe,
        b,
        5 * 3_600,
        offset(50.0, 0.0),
        &mut out,
    );
    saved.keep(&mut engine);
    // Two days on, B again: A has been silent past forget_after and is forgotten.
    feed_at(
        &mut engine,
        &mut fe,
        b,
        2 * 86_400,
        offset(50.0, 0.0),
        &mut out,
    );
    saved.keep(&mut engine);
    // B too had been silent for 43 h: it was forgotten, and recalled as it was heard.
    assert_eq!(engine.tracker().len(), 1);
    assert_eq!(engine.stats().forgotten_silent, 2);
    assert_eq!(engine.stats().recalled, 1);
    out.clear();
    // A is heard again, in port.
    let back = 2 * 86_400 + 600;
    feed_at(&mut engine, &mut fe, a, back, CENTER, &mut out);
    assert_eq!(engine.stats().recalled, 2);
    let kinds: Vec<(EventKind, u32, i64)> =
        out.iter().map(|e| (e.kind, e.mmsi, e.time.0)).collect();
    assert_eq!(
        kinds,
        [(EventKind::Reappeared, a, 1_700_000_000_000 + back * 1000)]
    );
    assert_eq!(
        (out[0].window_start, out[0].window_end),
        (
            Some(UnixMillis(1_700_000_030_000)),
            Some(UnixMillis(1_700_000_000_000 + back * 1000))
        )
    );
}

/// Issue 11, item 6: a flood of made-up MMSIs is held to `max_vessels`. Past it the longest-silent
/// tenth are forgotten: with 1,000 allowed and 5,000 heard, that happens at every hundredth new
/// vessel from the 1,001st, 40 times, 4,000 vessels, leaving exactly 1,000.
#[test]
fn a_flood_of_new_mmsis_is_held_to_max_vessels() {
    let mut engine = all_engine("max_vessels = 1000");
    let mut fe = FrontEnd::default();
    let mut out = Vec::new();
    for i in 0..5_000u32 {
        feed_at(
            &mut engine,
            &mut fe,
            300_000_000 + i,
            i64::from(i),
            offset(60.0, 0.0),
            &mut out,
        );
    }
    assert_eq!(engine.tracker().len(), 1_000);
    assert_eq!(engine.stats().forgotten_cap, 4_000);
    // The ones kept are the 1,000 heard last.
    let mut kept: Vec<u32> = engine.tracker().vessels().map(|v| v.mmsi).collect();
    kept.sort_unstable();
    assert_eq!(kept, (300_004_000..300_005_000).collect::<Vec<u32>>());
}

/// One type 1 report of `mmsi` at `t` seconds, at `speed` knots.
fn feed_moving(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    t: i64,
    (lat, lon): (f64, f64),
    speed: f32,
    out: &mut Vec<Event>,
) {
    let report = PositionReport {
        msg_type: 1,
        mmsi: 273_000_777,
        status: 0,
        speed: Some(speed),
        lat,
        lon,
        course: Some(90.0),
        heading: Some(90),
        second: (t % 60) as u8,
    };
    push(engine, fe, &report, 'A', t, out);
}

/// The loitering events of a voyage: `legs` of (seconds, knots), reported every `every` seconds,
/// at sea 60 km east of the port (beyond its 25 km approach) unless `at` says where. Positions
/// follow the speeds (eastward, flat approximation), so speed and track agree.
fn loitering_of(legs: &[(i64, f32)], every: i64, at: (f64, f64)) -> Vec<Event> {
    let (mut e, mut fe, mut out) = (all_engine(""), FrontEnd::default(), Vec::new());
    let (mut t, mut east_m) = (0i64, 0.0f64);
    for &(length, kn) in legs {
        let end = t + length;
        while t < end {
            let lon = at.1 + east_m / (111_200.0 * at.0.to_radians().cos());
            feed_moving(&mut e, &mut fe, t, (at.0, lon), kn, &mut out);
            t += every;
            east_m += f64::from(kn) * 1852.0 / 3600.0 * every as f64;
        }
    }
    out.retain(|e| e.kind == EventKind::Loitering);
    out
}

/// Issue 13, `loitering` (README: at most 2 kn on average for 4 h, away from ports and
/// anchorages and their approach zones). The times are the scenario's: a spell that starts at the
/// first slow report is reported at the first report 4 h later.
#[test]
fn loitering_is_four_slow_hours_at_sea_and_nothing_less() {
    let sea = (
        CENTER.0,
        CENTER.1 + 60.0 / (111.2 * CENTER.0.to_radians().cos()),
    );
    let h = 3600;
    // Drifting at 1 kn for 6 h after an hour under way: one event, 4 h after the first slow report.
    let drift = loitering_of(&[(h, 12.0), (6 * h, 1.0)], 60, sea);
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].time.0, (1_700_000_000 + h + 4 * h) * 1000);
    assert_eq!(drift[0].window_start.unwrap().0, (1_700_000_000 + h) * 1000);
    assert_eq!(drift[0].fence, "");
    // Stopped for 4 h 30 with speeds of 2.5 kn now and then (GPS noise in the speed): the
    // average stays under 2 kn, and it is loitering.
    let noisy: Vec<(i64, f32)> = (0..270)
        .map(|i| (60, if i % 5 == 0 { 2.5 } else { 0.5 }))
        .collect();
    assert_eq!(loitering_of(&noisy, 60, sea).len(), 1);
    // Must not fire: slowing for a pilot (40 minutes at 1.5 kn between passages at 12 kn).
    assert!(loitering_of(&[(h, 12.0), (40 * 60, 1.5), (2 * h, 12.0)], 60, sea).is_empty());
    // Must not fire: a 3 h 30 wait, then away at 12 kn (the average over the spell would stay
    // under 2 kn for half an hour more; under way ends it).
    assert!(loitering_of(&[(7 * h / 2, 0.0), (2 * h, 12.0)], 60, sea).is_empty());
    // Must not fire: two ships' worth of time moored in port (inside the port fence).
    assert!(loitering_of(&[(10 * h, 0.0)], 60, CENTER).is_empty());
    // Must not fire: waiting in the port's approach (that is `holding`), 10 km out.
    let approach = (
        CENTER.0,
        CENTER.1 + 10.0 / (111.2 * CENTER.0.to_radians().cos()),
    );
    assert!(loitering_of(&[(10 * h, 0.0)], 60, approach).is_empty());
    // Passing at 12 kn for 10 h: nothing.
    assert!(loitering_of(&[(10 * h, 12.0)], 60, sea).is_empty());
}

/// `[detect.loitering]` is read and checked: off means no event, thresholds move the time.
#[test]
fn loitering_follows_its_configuration() {
    let cfg = |detect: &str| {
        format!(
            "[monitor]\nvessels = \"all\"\n{detect}\n[[fences]]\nname = \"port\"\nkind = \"port\"\n\
             center = {{ lat = {}, lon = {} }}\nradius_km = 1\n",
            CENTER.0, CENTER.1
        )
    };
    assert!(
        Loaded::from_str(
            &cfg("[detect.loitering]\nmax_sog_kn = 0\n"),
            Origin::Embedded
        )
        .is_err()
    );
    assert!(
        Loaded::from_str(
            &cfg("[detect.loitering]\nmin_durration = \"4h\"\n"),
            Origin::Embedded
        )
        .is_err(),
        "an unknown key is refused"
    );
    let sea = (CENTER.0, CENTER.1 + 0.7);
    let run = |detect: &str| {
        let mut e = Loaded::from_str(&cfg(detect), Origin::Embedded)
            .unwrap()
            .engine();
        let (mut fe, mut out) = (FrontEnd::default(), Vec::new());
        for i in 0..(6 * 60) {
            feed_moving(&mut e, &mut fe, i * 60, sea, 0.5, &mut out);
        }
        out.into_iter()
            .filter(|e| e.kind == EventKind::Loitering)
            .map(|e| e.time.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(""), vec![(1_700_000_000 + 4 * 3600) * 1000]);
    assert!(run("[detect.loitering]\nenabled = false\n").is_empty());
    assert_eq!(
        run("[detect.loitering]\nmin_duration = \"90m\"\n"),
        vec![(1_700_000_000 + 90 * 60) * 1000]
    );
    assert!(run("[detect.loitering]\nmax_sog_kn = 0.4\n").is_empty());
}

/// One type 5 report with every identity field given.
#[allow(clippy::too_many_arguments)]
fn feed_identity(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    t: i64,
    mmsi: u32,
    imo: u32,
    name: &str,
    callsign: &str,
    shiptype: u8,
    out: &mut Vec<Event>,
) {
    let report = encode::StaticReport {
        dims: None,
        mmsi,
        imo: Some(imo),
        callsign: callsign.into(),
        name: name.into(),
        shiptype,
        destination: "TARTUS".into(),
    };
    feed_type5(engine, fe, t, &report, out);
}

/// Sends one type 5 `report` at `t` seconds, through the real front end.
fn feed_type5(
    engine: &mut Engine,
    fe: &mut FrontEnd,
    t: i64,
    report: &encode::StaticReport,
    out: &mut Vec<Event>,
) {
    let (payload, fill) = encode::static_voyage(report).armour();
    for line in encode::sentences(&payload, fill, 'A', 1, "rTEST", 1_700_000_000 + t, t as u32) {
        if let Some(d) = fe.push_line(0, line.as_bytes()) {
            engine.on_message(&d, d.meta.time().expect("tagged"), out);
        }
    }
}

/// Issue 13, `identity_change`: a new name, call sign, IMO or type is a change when two reports
/// in a row say it (old and new in the event), at the second; one garbled report that reverts is
/// not; two fields changing together are two events with distinct ids.
#[test]
fn an_identity_change_needs_two_reports_and_a_typo_is_not_one() {
    let (mut e, mut fe, mut out) = (all_engine(""), FrontEnd::default(), Vec::new());
    let m = 273_000_201;
    let mut at = 0;
    let mut report =
        |e: &mut Engine, name: &str, call: &str, imo: u32, ty: u8, out: &mut Vec<Event>| {
            at += 360;
            feed_identity(e, &mut fe, at, m, imo, name, call, ty, out);
            at
        };
    report(&mut e, "SPARTA III", "UBXS", 9_268_710, 70, &mut out);
    report(&mut e, "SPARTA III", "UBXS", 9_268_710, 70, &mut out);
    // A typo once, then the right name again: nothing.
    report(&mut e, "SPARTA IIL", "UBXS", 9_268_710, 70, &mut out);
    report(&mut e, "SPARTA III", "UBXS", 9_268_710, 70, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Renamed (Ursa Major was Sparta III), with a new call sign, in two reports: two events at
    // the second report, old and new values in each.
    report(&mut e, "URSA MAJOR", "UBCT", 9_268_710, 70, &mut out);
    assert!(out.is_empty(), "one report is not yet a change: {out:?}");
    let second = report(&mut e, "URSA MAJOR", "UBCT", 9_268_710, 70, &mut out);
    let got: Vec<(String, String, String, i64)> = out
        .iter()
        .map(|ev| {
            assert_eq!(ev.kind, EventKind::IdentityChange);
            let c = ev.change.as_ref().unwrap();
            (
                c.field.as_str().into(),
                c.old.clone(),
                c.new.clone(),
                ev.time.0,
            )
        })
        .collect();
    let t = (1_700_000_000 + second) * 1000;
    assert_eq!(
        got,
        [
            ("name".into(), "SPARTA III".into(), "URSA MAJOR".into(), t),
            ("callsign".into(), "UBXS".into(), "UBCT".into(), t),
        ]
    );
    assert_ne!(out[0].id, out[1].id);
    // The vessel is now known by its new name.
    assert_eq!(out[1].name.as_deref(), Some("URSA MAJOR"));
    // A new ship type, twice: one event; the same again: nothing more.
    out.clear();
    report(&mut e, "URSA MAJOR", "UBCT", 9_268_710, 79, &mut out);
    report(&mut e, "URSA MAJOR", "UBCT", 9_268_710, 79, &mut out);
    report(&mut e, "URSA MAJOR", "UBCT", 9_268_710, 79, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let c = out[0].change.as_ref().unwrap();
    assert_eq!(
        (c.field.as_str(), c.old.as_str(), c.new.as_str()),
        ("shiptype", "70", "79")
    );
}

/// Issue 13, `position_conflict`: two transmitters sharing one MMSI 90 km apart, each reporting
/// every 2 minutes, are one episode, reported once with both places as its evidence; a second
/// episode after a calm longer than the window is reported again. A ship that really jumps once
/// (its next reports confirm the new place) and GPS noise of 50 m are not conflicts.
#[test]
fn two_transmitters_on_one_mmsi_are_a_position_conflict_and_one_jump_is_not() {
    let a = offset(60.0, 90.0);
    let b = offset(60.0, 90.0 + 180.0 * 100.0 / (std::f64::consts::PI * 60.0));
    let run = |reports: &[(i64, (f64, f64))]| {
        let (mut e, mut fe, mut out) = (all_engine(""), FrontEnd::default(), Vec::new());
        for &(t, at) in reports {
            feed_moving(&mut e, &mut fe, t, at, 10.0, &mut out);
        }
        out.retain(|e| e.kind == EventKind::PositionConflict);
        out
    };
    let twins = |from: i64, minutes: i64| -> Vec<(i64, (f64, f64))> {
        (0..minutes)
            .map(|i| (from + i * 60, if i % 2 == 0 { a } else { b }))
            .collect()
    };
    let hour = twins(0, 60);
    let got = run(&hour);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].time.0 <= (1_700_000_000 + 600) * 1000,
        "{:?}",
        got[0].time
    );
    // The evidence: the fix it is known at and the one held back, one at each transmitter.
    let known = (got[0].lat.unwrap(), got[0].lon.unwrap());
    let other = got[0].other_side.unwrap();
    let mut places = [known, (other.lat, other.lon)];
    places.sort_by(|x, y| x.1.total_cmp(&y.1));
    let mut want = [a, b];
    want.sort_by(|x, y| x.1.total_cmp(&y.1));
    for (p, w) in places.iter().zip(want) {
        assert!(
            (p.0 - w.0).abs() < 1e-4 && (p.1 - w.1).abs() < 1e-4,
            "{places:?}"
        );
    }
    // Again after three calm hours (one transmitter only): a second episode.
    let mut two = hour.clone();
    two.extend((60..240).map(|i| (i * 60, a)));
    two.extend(twins(240 * 60, 60));
    assert_eq!(run(&two).len(), 2);
    // One real jump, confirmed by the reports after it: not a conflict.
    let jump: Vec<_> = (0..30)
        .map(|i| (i * 60, a))
        .chain((30..60).map(|i| (i * 60, b)))
        .collect();
    assert!(run(&jump).is_empty());
    // GPS noise of 50 m around one place: not a conflict.
    let noisy: Vec<_> = (0..120)
        .map(|i| {
            let d = if i % 2 == 0 { 0.05 } else { -0.05 };
            (i * 60, (a.0 + d / 111.2, a.1))
        })
        .collect();
    assert!(run(&noisy).is_empty());
}

/// Issue 13, `position_conflict` from circle spoofing: a track generated on an exact circle
/// (2 km round, 10 kn, a report a minute, positions rounded only as AIS rounds them) is one
/// conflict with `pattern: "circle"` for the two hours it runs; the same circle sailed by a real
/// ship with a metre of GPS error, and a generated straight line, are none.
#[test]
fn positions_on_an_exact_circle_are_circle_spoofing_and_a_real_circling_ship_is_not() {
    let centre = offset(60.0, 90.0);
    let cos = centre.0.to_radians().cos();
    let run = |noise_m: f64, radius_m: f64| {
        let (mut e, mut fe, mut out) = (all_engine(""), FrontEnd::default(), Vec::new());
        // 10 kn round a circle: the angle grows by speed over radius each second.
        let w = 10.0 * 1852.0 / 3600.0 / radius_m;
        for i in 0..120i64 {
            let t = i * 60;
            let a = w * t as f64;
            // GPS error: uniform, with a standard deviation of `noise_m` per axis (a hash of
            // the report's number, so the test is the same every run).
            let u = |k: f64| ((((i as f64) * 12.9898 + k) * 78.233).sin() * 43_758.545).fract();
            let (n, east) = (
                noise_m * 3f64.sqrt() * u(0.0),
                noise_m * 3f64.sqrt() * u(7.0),
            );
            let lat = centre.0 + (radius_m * a.sin() + n) / 111_195.0;
            let lon = centre.1 + (radius_m * a.cos() + east) / (111_195.0 * cos);
            feed_moving(&mut e, &mut fe, t, (lat, lon), 10.0, &mut out);
        }
        out.retain(|e| e.kind == EventKind::PositionConflict);
        out
    };
    let spoofed = run(0.0, 2000.0);
    assert_eq!(spoofed.len(), 1, "{spoofed:#?}");
    assert_eq!(spoofed[0].pattern, Some("circle"));
    let json: serde_json::Value = serde_json::from_str(&spoofed[0].to_json()).unwrap();
    assert_eq!(json["pattern"], "circle");
    // The evidence: the circle's first kept fix and the fix that completed it, both on it.
    let other = spoofed[0].other_side.unwrap();
    for (lat, lon) in [
        (other.lat, other.lon),
        (spoofed[0].lat.unwrap(), spoofed[0].lon.unwrap()),
    ] {
        let r = ((lat - centre.0) * 111_195.0).hypot((lon - centre.1) * 111_195.0 * cos);
        assert!((r - 2000.0).abs() < 1.0, "{r}");
    }
    assert!(run(1.0, 2000.0).is_empty());
    // A straight line (a circle too large to tell).
    assert!(run(0.0, 1.0e7).is_empty());
}

/// Issue 13, `position_conflict` from positions far inland, where a coastline is given
/// (`[detect.position_conflict] land`): a vessel reported 100 km inside a land polygon is one
/// conflict with `pattern: "land"` at its third report (`min_jumps`, 3); one 10 km inside the
/// coast (within `land_margin_km`, 20: a river mouth, a coarse coastline) and one at sea are none.
#[test]
fn reports_far_inland_are_a_position_conflict_and_near_the_coast_are_not() {
    let dir = tempfile::tempdir().unwrap();
    // A square of land, 2° by 3°: its coast is its edge.
    std::fs::write(
        dir.path().join("land.geojson"),
        r#"{"type": "Polygon", "coordinates": [[[40, 30], [43, 30], [43, 32], [40, 32], [40, 30]]]}"#,
    )
    .unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[monitor]\nvessels = \"all\"\n[detect.position_conflict]\nland = \"land.geojson\"\n\
         land_margin_km = 20\n",
    )
    .unwrap();
    let loaded = Loaded::from_file(&cfg).unwrap();
    let run = |at: (f64, f64)| {
        let (mut e, mut fe, mut out) = (loaded.engine(), FrontEnd::default(), Vec::new());
        // Every 90 s (a report the same as one a minute before is a duplicate, heard twice).
        for i in 0..5 {
            feed_moving(&mut e, &mut fe, i * 90, at, 0.0, &mut out);
        }
        out.retain(|e| e.kind == EventKind::PositionConflict);
        out
    };
    let inland = run((31.0, 41.5));
    assert_eq!(inland.len(), 1, "{inland:#?}");
    assert_eq!(inland[0].pattern, Some("land"));
    assert_eq!(inland[0].time.0, (1_700_000_000 + 180) * 1000);
    // 10 km north of the southern coast (0.09° of latitude): within the margin.
    assert!(run((30.09, 41.5)).is_empty());
    assert!(run((29.5, 41.5)).is_empty());
    // A land file that is not there is a configuration error naming the key.
    std::fs::write(
        &cfg,
        "[detect.position_conflict]\nland = \"nowhere.geojson\"\n",
    )
    .unwrap();
    let Err(err) = Loaded::from_file(&cfg) else {
        panic!("a missing land file was accepted");
    };
    let err = err.to_string();
    assert!(err.contains("nowhere.geojson"), "{err}");
}

/// Issue 13, `identity_change` of `dimensions`: a ship reported 120 m by 16 m (bow 100, stern
/// 20, 8 and 8 to the sides) that reports 183 m by 32 m twice is a change `120x16` → `183x32` at
/// the second report; a new antenna position (the same length and beam split differently) is
/// none, and neither is one report of 0 (not available).
#[test]
fn a_new_length_and_beam_is_an_identity_change_and_a_moved_antenna_is_not() {
    let (mut e, mut fe, mut out) = (all_engine(""), FrontEnd::default(), Vec::new());
    let mut at = 0;
    let mut report = |e: &mut Engine, dims: (u16, u16, u8, u8), out: &mut Vec<Event>| {
        at += 360;
        let r = encode::StaticReport {
            dims: Some(dims),
            mmsi: 273_000_201,
            imo: Some(9_268_710),
            callsign: "UBXS".into(),
            name: "SPARTA".into(),
            shiptype: 70,
            destination: "TARTUS".into(),
        };
        feed_type5(e, &mut fe, at, &r, out);
        at
    };
    report(&mut e, (100, 20, 8, 8), &mut out);
    // The antenna moved aft and to port: the same 120 m by 16 m.
    report(&mut e, (110, 10, 4, 12), &mut out);
    report(&mut e, (110, 10, 4, 12), &mut out);
    // Not available, once.
    report(&mut e, (0, 0, 0, 0), &mut out);
    assert!(out.is_empty(), "{out:?}");
    report(&mut e, (150, 33, 16, 16), &mut out);
    let second = report(&mut e, (150, 33, 16, 16), &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let c = out[0].change.as_ref().unwrap();
    assert_eq!(
        (c.field.as_str(), c.old.as_str(), c.new.as_str()),
        ("dimensions", "120x16", "183x32")
    );
    assert_eq!(out[0].time.0, (1_700_000_000 + second) * 1000);
}

/// Found by a fresh-eyes review: a vessel watched by its MMSI only that re-flags (its IMO heard
/// under a new MMSI, not watched) is the case `identity_change` of `mmsi` is for: reported, about
/// the new MMSI, with the old one in the event.
#[test]
fn a_vessel_watched_by_mmsi_that_reflags_is_an_identity_change() {
    let toml = "[[watch]]\nlabel = \"Baltic Leader\"\nmmsi = 273297850\n";
    let mut e = Loaded::from_str(toml, Origin::Embedded).unwrap().engine();
    let (mut fe, mut out) = (FrontEnd::default(), Vec::new());
    for (t, mmsi) in [(0, 273_297_850), (360, 273_297_850), (720, 620_297_850)] {
        feed_identity(
            &mut e,
            &mut fe,
            t,
            mmsi,
            9_220_639,
            "BALTIC LEADER",
            "UBEW6",
            70,
            &mut out,
        );
    }
    assert_eq!(out.len(), 1, "{out:#?}");
    let c = out[0].change.as_ref().unwrap();
    assert_eq!(
        (
            out[0].mmsi,
            c.field.as_str(),
            c.old.as_str(),
            c.new.as_str()
        ),
        (620_297_850, "mmsi", "273297850", "620297850")
    );
    assert_eq!(out[0].time.0, (1_700_000_000 + 720) * 1000);
}
