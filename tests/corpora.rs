//! The pyais (MIT) and libais (Apache-2.0) samples in `fixtures/pyais` and `fixtures/libais`, with
//! their licences beside them.
//!
//! Every valid sentence decodes; every line that does not is accounted for below, with the reason it
//! is invalid. libais's `tagblock.nmea` yields the tag fields in its `tagblock.json`.

use std::path::Path;

use serde_json::{Map, Value};
use vesselwatch_ais::frontend::{Counters, Outcome};
use vesselwatch_ais::gpsd_json::write_message;
use vesselwatch_ais::{Decoded, FrontEnd};

fn run(path: &str) -> (Vec<Decoded>, Counters) {
    let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let mut fe = FrontEnd::default();
    let mut out = Vec::new();
    fe.push_bytes(0, &data, |d| out.push(d));
    fe.finish_feed(0, |d| out.push(d));
    (out, fe.counters().clone())
}

/// Asserts the exact count of every outcome other than decoded, buffered, blank, comment and other
/// sentences; anything unlisted must be zero.
fn assert_rejections(path: &str, decoded: u64, rejected: &[(Outcome, u64)]) {
    let (_, c) = run(path);
    assert_eq!(c.get(Outcome::Decoded), decoded, "{path}: decoded");
    for &o in Outcome::ALL {
        if matches!(
            o,
            Outcome::Decoded
                | Outcome::FragmentBuffered
                | Outcome::Blank
                | Outcome::Comment
                | Outcome::OtherSentence
                | Outcome::ReceiverClock
        ) {
            continue;
        }
        let want = rejected.iter().find(|(r, _)| *r == o).map_or(0, |r| r.1);
        assert_eq!(c.get(o), want, "{path}: {}", o.name());
    }
}

#[test]
fn pyais_clean_samples_decode_without_error() {
    assert_rejections("fixtures/pyais/ais_test_messages", 7, &[]);
    assert_rejections("fixtures/pyais/messages.ais", 6, &[]);
    assert_rejections("fixtures/pyais/gatehouse.nmea", 4, &[]);
    // Gatehouse's `$PGHP` line before each sentence is the receiver's clock. Of the four, the one
    // for 2009 fails its checksum (0x16, not 0x17) and is not a clock.
    let (decoded, c) = run("fixtures/pyais/gatehouse.nmea");
    assert_eq!(c.get(Outcome::ReceiverClock), 3);
    assert_eq!(c.get(Outcome::OtherSentence), 1);
    assert!(decoded.iter().all(|d| d.meta.receiver_time.is_some()));
    assert_rejections("fixtures/pyais/timestamped.ais", 4, &[]);
}

#[test]
fn pyais_samples_with_invalid_lines_reject_exactly_those() {
    // `foobar` and `IamNotAnAisMessage1111` are not sentences. Three tag blocks end in `*A`, a
    // one-digit checksum that is also wrong (0x7E, 0x61, 0x1D). The USCG group `g:1-2-27300`
    // names its source on the first line only (`\g:2-2-27300,n:636995*15\`): both lines are one
    // message, MARE ISLAND (pyais decodes it too).
    assert_rejections(
        "fixtures/pyais/mixed.txt",
        10,
        &[(Outcome::Garbage, 2), (Outcome::MalformedTagBlock, 3)],
    );
    let (decoded, _) = run("fixtures/pyais/mixed.txt");
    assert!(decoded.iter().any(|d| matches!(&d.message,
        vesselwatch_ais::decode::AisMessage::StaticVoyage(s) if s.shipname.as_str() == "MARE ISLAND")));
    // As mixed.txt, plus `\s:blah,c:1747818025*5A`, whose checksum is 0x38.
    assert_rejections(
        "fixtures/pyais/sample.ais",
        9,
        &[
            (Outcome::Garbage, 1),
            (Outcome::MalformedTagBlock, 3),
            (Outcome::BadTagChecksum, 1),
        ],
    );
    // MarineTraffic's sample: 100 sentences with an empty payload (`!AIVDM,1,1,,B,,0*25`).
    assert_rejections(
        "fixtures/pyais/nmea_data_sample.txt",
        778,
        &[(Outcome::EmptyPayload, 100)],
    );
}

#[test]
fn libais_samples_reject_only_corrupt_payloads() {
    // test.aivdm is a USCG capture with noise. Wrong lengths: 16 type 27 (`K...`) payloads of 8 to
    // 63 characters that are neither 96 nor 168 bits (6 of them would decode to latitudes or
    // longitudes beyond ±90°/±180°), 4 type 23 under 160 bits and 4 type 26 under 60. And 17
    // payloads of type 28, which AIS does not define.
    assert_rejections(
        "fixtures/libais/test.aivdm",
        220,
        &[(Outcome::WrongLength, 24), (Outcome::UnknownType, 17)],
    );
    // One corrupt type 27 (lon beyond 180°) and one corrupt type 2 (lat beyond 90°).
    assert_rejections(
        "fixtures/libais/typeexamples.nmea",
        24,
        &[(Outcome::LatOutOfRange, 1), (Outcome::LonOutOfRange, 1)],
    );
}

#[test]
fn libais_tagblock_fields_match_tagblock_json() {
    let (decoded, c) = run("fixtures/libais/tagblock.nmea");
    assert_eq!(c.get(Outcome::Decoded), 4);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/libais/tagblock.json"),
    )
    .unwrap();
    let expected: Vec<Map<String, Value>> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decoded.len(), expected.len());
    for (d, e) in decoded.iter().zip(&expected) {
        let mut out = Vec::new();
        write_message(&mut out, d);
        let ours: Map<String, Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(ours["mmsi"], e["mmsi"]);
        assert_eq!(ours["type"], e["type"]);
        assert_eq!(ours["tag_source"], e["tagblock_station"]);
        // libais prints `2014-12-10T00:41:53.000000Z`; vesselwatch prints whole seconds plainly.
        let libais_time = e["tagblock_timestamp"]
            .as_str()
            .unwrap()
            .replace(".000000Z", "Z");
        assert_eq!(ours["tag_time"], libais_time.as_str());
    }
}
