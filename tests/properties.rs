//! Property tests of the decoding front end.
//!
//! - Differential: generated position (1, 2, 3, 18) and static (5) reports decode to the same fields
//!   as nmea-parser, the user's chosen crate, wherever it is known to be right (clean 1- and
//!   2-fragment messages, in-range values).
//! - Robustness: arbitrary bytes, and real messages cut, merged, dropped, repeated and reordered,
//!   never panic, never grow memory past the caps, and never yield a message mixed from two.

use nmea_parser::{NmeaParser, ParsedMessage};
use proptest::prelude::*;
use vesselwatch_ais::AisMessage;
use vesselwatch_ais::frontend::{FrontEnd, FrontEndConfig};
use vesselwatch_ais::reassembly::Limits;

/// Builds a payload bit by bit, the way a transmitter would.
#[derive(Default, Clone)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    fn put(&mut self, value: u64, width: u32) -> &mut Self {
        for i in (0..width).rev() {
            self.bits.push((value >> i) & 1 == 1);
        }
        self
    }

    fn put_signed(&mut self, value: i64, width: u32) -> &mut Self {
        self.put((value as u64) & ((1u64 << width) - 1), width)
    }

    fn put_text(&mut self, text: &[u8], chars: usize) -> &mut Self {
        for i in 0..chars {
            let c = text.get(i).copied().unwrap_or(b'@');
            let v = if c >= 64 { c - 64 } else { c };
            self.put(u64::from(v), 6);
        }
        self
    }

    /// Armoured payload and fill bits.
    fn armour(&self) -> (String, u8) {
        let fill = (6 - self.bits.len() % 6) % 6;
        let mut bits = self.bits.clone();
        bits.extend(std::iter::repeat_n(false, fill));
        let s = bits
            .chunks(6)
            .map(|c| {
                let v = c.iter().fold(0u8, |a, &b| a << 1 | u8::from(b));
                char::from(if v < 40 { v + 48 } else { v + 56 })
            })
            .collect();
        (s, fill as u8)
    }
}

fn sentence(
    total: usize,
    number: usize,
    seq: &str,
    channel: char,
    payload: &str,
    fill: u8,
) -> String {
    let body = format!("AIVDM,{total},{number},{seq},{channel},{payload},{fill}");
    let cs = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("!{body}*{cs:02X}")
}

/// Splits a payload into `parts` sentences.
fn fragments(payload: &str, fill: u8, parts: usize, seq: &str, channel: char) -> Vec<String> {
    let size = payload.len().div_ceil(parts);
    let pieces: Vec<&str> = payload
        .as_bytes()
        .chunks(size)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| sentence(n, i + 1, seq, channel, p, if i + 1 == n { fill } else { 0 }))
        .collect()
}

#[derive(Debug, Clone)]
struct PositionFields {
    msg_type: u8,
    mmsi: u32,
    status: u8,
    sog: u16,
    accuracy: bool,
    lon: i32,
    lat: i32,
    cog: u16,
    heading: u16,
    second: u8,
}

fn position_fields() -> impl Strategy<Value = PositionFields> {
    (
        prop_oneof![Just(1u8), Just(2), Just(3), Just(18)],
        0u32..(1 << 30),
        0u8..16,
        0u16..1024,
        any::<bool>(),
        prop_oneof![9 => -108_000_000i32..=108_000_000, 1 => Just(108_600_000)],
        prop_oneof![9 => -54_000_000i32..=54_000_000, 1 => Just(54_600_000)],
        0u16..=3600,
        prop_oneof![9 => 0u16..360, 1 => Just(511)],
        0u8..64,
    )
        .prop_map(
            |(msg_type, mmsi, status, sog, accuracy, lon, lat, cog, heading, second)| {
                PositionFields {
                    msg_type,
                    mmsi,
                    status,
                    sog,
                    accuracy,
                    lon,
                    lat,
                    cog,
                    heading,
                    second,
                }
            },
        )
}

fn encode_position(f: &PositionFields) -> BitWriter {
    let mut w = BitWriter::default();
    w.put(u64::from(f.msg_type), 6)
        .put(0, 2)
        .put(u64::from(f.mmsi), 30);
    if f.msg_type == 18 {
        w.put(0, 8); // regional reserved
    } else {
        w.put(u64::from(f.status), 4).put_signed(-128, 8); // status, ROT not available
    }
    w.put(u64::from(f.sog), 10)
        .put(u64::from(f.accuracy), 1)
        .put_signed(i64::from(f.lon), 28)
        .put_signed(i64::from(f.lat), 27)
        .put(u64::from(f.cog), 12)
        .put(u64::from(f.heading), 9)
        .put(u64::from(f.second), 6);
    if f.msg_type == 18 {
        // regional, CS/display/DSC/band/msg22 flags, assigned, RAIM, radio
        w.put(0, 2).put(0b11100, 5).put(0, 1).put(0, 1).put(0, 20);
    } else {
        // maneuver, spare, RAIM, radio
        w.put(0, 2).put(0, 3).put(0, 1).put(0, 19);
    }
    w
}

fn ours(lines: &[String]) -> Vec<AisMessage> {
    let mut fe = FrontEnd::default();
    lines
        .iter()
        .filter_map(|l| fe.push_line(0, l.as_bytes()))
        .map(|d| d.message)
        .collect()
}

/// Equal within `eps`: positions are f64 in both; speed and course are f32 in vesselwatch.
fn close(a: Option<f64>, b: Option<f64>, eps: f64) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() < eps,
        (None, None) => true,
        _ => false,
    }
}

/// Six-bit text without `@` (which ends a text) and without trailing spaces on purpose.
fn sixbit_text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![b'A'..=b'Z', b'0'..=b'9', Just(b' '), Just(b'-')],
        0..=max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_positions_agree_with_nmea_parser(f in position_fields()) {
        let (payload, fill) = encode_position(&f).armour();
        let line = sentence(1, 1, "", 'A', &payload, fill);
        let decoded = ours(std::slice::from_ref(&line));
        prop_assert_eq!(decoded.len(), 1);
        let AisMessage::Position(p) = &decoded[0] else { panic!("{decoded:?}") };
        let Ok(ParsedMessage::VesselDynamicData(v)) = NmeaParser::new().parse_sentence(&line) else {
            panic!("nmea-parser refused {line}")
        };
        prop_assert_eq!(p.header.mmsi, v.mmsi);
        prop_assert_eq!(p.header.msg_type, f.msg_type);
        prop_assert!(close(p.speed.map(f64::from), v.sog_knots, 1e-4), "{:?} {:?}", p.speed, v.sog_knots);
        prop_assert!(close(p.lat, v.latitude, 1e-9), "{:?} {:?}", p.lat, v.latitude);
        prop_assert!(close(p.lon, v.longitude, 1e-9), "{:?} {:?}", p.lon, v.longitude);
        prop_assert!(close(p.course.map(f64::from), v.cog, 1e-4), "{:?} {:?}", p.course, v.cog);
        prop_assert_eq!(p.heading.map(f64::from), v.heading_true);
        prop_assert_eq!(p.accuracy, v.high_position_accuracy);
        prop_assert_eq!(p.second, Some(v.timestamp_seconds));
        if f.msg_type != 18 {
            prop_assert_eq!(p.status, Some(f.status));
        }
    }

    #[test]
    fn generated_static_reports_agree_with_nmea_parser(
        mmsi in 0u32..(1 << 30),
        imo in 0u32..(1 << 30),
        callsign in sixbit_text(7),
        name in sixbit_text(20),
        destination in sixbit_text(20),
        shiptype in 0u8..100,
        dims in (0u16..512, 0u16..512, 0u8..64, 0u8..64),
        two_fragments in any::<bool>(),
    ) {
        let mut w = BitWriter::default();
        w.put(5, 6).put(0, 2).put(u64::from(mmsi), 30).put(0, 2).put(u64::from(imo), 30)
            .put_text(&callsign, 7).put_text(&name, 20).put(u64::from(shiptype), 8)
            .put(u64::from(dims.0), 9).put(u64::from(dims.1), 9)
            .put(u64::from(dims.2), 6).put(u64::from(dims.3), 6)
            .put(1, 4).put(0, 20).put(0, 8).put_text(&destination, 20).put(0, 2);
        let (payload, fill) = w.armour();
        let lines = fragments(&payload, fill, if two_fragments { 2 } else { 1 }, "3", 'B');
        let decoded = ours(&lines);
        prop_assert_eq!(decoded.len(), 1);
        let AisMessage::StaticVoyage(m) = &decoded[0] else { panic!("{decoded:?}") };

        let mut oracle = NmeaParser::new();
        let mut theirs = None;
        for l in &lines {
            if let Ok(ParsedMessage::VesselStaticData(v)) = oracle.parse_sentence(l) {
                theirs = Some(v);
            }
        }
        let v = theirs.expect("nmea-parser decodes 1- and 2-fragment type 5");
        prop_assert_eq!(m.header.mmsi, v.mmsi);
        prop_assert_eq!(m.imo, v.imo_number);
        prop_assert_eq!(m.callsign.as_str(), v.call_sign.as_deref().unwrap_or(""));
        prop_assert_eq!(m.shipname.as_str(), v.name.as_deref().unwrap_or(""));
        prop_assert_eq!(m.destination.as_str(), v.destination.as_deref().unwrap_or(""));
        prop_assert_eq!(Some(m.dims.to_bow), v.dimension_to_bow);
        prop_assert_eq!(Some(m.dims.to_stern), v.dimension_to_stern);
        prop_assert_eq!(Some(u16::from(m.dims.to_port)), v.dimension_to_port);
        prop_assert_eq!(Some(u16::from(m.dims.to_starboard)), v.dimension_to_starboard);
        // Text as generated, less trailing spaces.
        let trimmed = |t: &[u8]| String::from_utf8(t.to_vec()).unwrap().trim_end().to_string();
        prop_assert_eq!(m.shipname.as_str(), trimmed(&name));
    }
}

fn small_caps() -> FrontEndConfig {
    FrontEndConfig {
        max_line: 256,
        limits: Limits {
            max_pending: 4,
            max_age_ms: 60_000,
            max_age_sentences: 50,
        },
    }
}

/// One edit of a stream of lines: what a flaky feed does to it.
#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Repeat(usize),
    Swap(usize, usize),
    /// Joins a line to the next without a newline, as a reconnect does.
    Merge(usize),
    /// Cuts a line short.
    Cut(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Drop),
        any::<usize>().prop_map(Edit::Repeat),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        any::<usize>().prop_map(Edit::Merge),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Cut(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_or_grow(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut fe = FrontEnd::new(small_caps());
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        for w in points.windows(2) {
            fe.push_bytes(0, &data[w[0]..w[1]], |_| {});
            prop_assert!(fe.buffered_bytes() <= 256);
            prop_assert!(fe.pending_fragments() <= 4);
        }
        fe.finish_feed(0, |_| {});
    }

    #[test]
    fn mangled_multi_fragment_feeds_never_mix_messages(
        names in proptest::collection::vec(sixbit_text(20), 1..12),
        parts in proptest::collection::vec(2usize..=4, 12),
        edits in proptest::collection::vec(edit(), 0..12),
    ) {
        // Each message gets its own (sequence id, channel), so any two fragments that are joined
        // belong together or the front end is wrong.
        let mut lines = Vec::new();
        let mut originals = std::collections::HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let mmsi = 200_000_000 + i as u32;
            let mut w = BitWriter::default();
            w.put(5, 6).put(0, 2).put(u64::from(mmsi), 30).put(0, 2).put(9_000_000 + i as u64, 30)
                .put_text(b"CALL", 7).put_text(name, 20).put(70, 8).put(100, 9).put(20, 9)
                .put(5, 6).put(5, 6).put(1, 4).put(0, 20).put(50, 8).put_text(name, 20).put(0, 2);
            let (payload, fill) = w.armour();
            let seq = (i % 10).to_string();
            let channel = if i < 10 { 'A' } else { 'B' };
            lines.extend(fragments(&payload, fill, parts[i], &seq, channel));
            let text = String::from_utf8(name.clone()).unwrap().trim_end().to_string();
            originals.insert(mmsi, text);
        }
        for e in &edits {
            if lines.is_empty() { break; }
            let n = lines.len();
            match *e {
                Edit::Drop(i) => { lines.remove(i % n); }
                Edit::Repeat(i) => { let l = lines[i % n].clone(); lines.insert(i % n, l); }
                Edit::Swap(a, b) => lines.swap(a % n, b % n),
                Edit::Merge(i) if n > 1 => {
                    let next = lines.remove((i % (n - 1)) + 1);
                    lines[i % (n - 1)].push_str(&next);
                }
                Edit::Cut(i, at) => { let l = &mut lines[i % n]; let at = at % (l.len() + 1); l.truncate(at); }
                Edit::Merge(_) => {}
            }
        }
        let mut fe = FrontEnd::new(small_caps());
        let stream = lines.join("\n");
        let mut decoded = Vec::new();
        fe.push_bytes(0, stream.as_bytes(), |d| decoded.push(d));
        fe.finish_feed(0, |d| decoded.push(d));
        prop_assert!(fe.pending_fragments() <= 4);
        if edits.is_empty() {
            prop_assert_eq!(decoded.len(), names.len());
        }
        for d in decoded {
            let AisMessage::StaticVoyage(m) = d.message else { continue };
            let Some(name) = originals.get(&m.header.mmsi) else {
                return Err(TestCaseError::fail(format!("unknown MMSI {}", m.header.mmsi)));
            };
            prop_assert_eq!(m.shipname.as_str(), name.as_str());
            prop_assert_eq!(m.destination.as_str(), name.as_str());
            prop_assert_eq!(m.imo, Some(9_000_000 + m.header.mmsi - 200_000_000));
        }
    }
}
