//! Conformance with gpsd's decoder on gpsd's own test corpus (`fixtures/conformance/`, BSD-2-Clause,
//! see `COPYING` there).
//!
//! For every message of types 1, 2, 3, 4, 5, 18, 19, 21, 24 and 27, every field vesselwatch prints
//! must equal gpsd's expected value, floats to gpsd's printed precision. The deliberate differences
//! are listed in [`DELIBERATE`], [`LENGTH_DIFFERENCES`] and [`null_for`], each with its reason;
//! nothing else may differ.
//!
//! Records are paired by content, not by position: each gpsd record is compared with one of ours of
//! the same type and MMSI (and parts, for type 24), so a message that one side rejects shows up as
//! that one record, never as a shift of every later comparison. A gpsd record without a counterpart
//! fails unless [`DELIBERATE`] lists it; a record of ours without one fails as "extra".

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};
use vesselwatch_ais::FrontEnd;
use vesselwatch_ais::gpsd_json::write_message;

const IN_SCOPE: &[u64] = &[1, 2, 3, 4, 5, 18, 19, 21, 24, 27];

/// Messages gpsd decodes that vesselwatch rejects on purpose, identified by (type, mmsi, radio or
/// other distinguishing field).
const DELIBERATE: &[(u64, u64, &str, &str)] = &[
    (
        1,
        244_740_981,
        r#""radio":1076"#,
        "fill bits 5 leave 163 bits, short of type 1's 168: gpsd zero-fills the radio field, \
         vesselwatch rejects the message (wrong_length)",
    ),
    (
        4,
        972_158_237,
        r#""lat":109.3320517"#,
        "lon 205° / lat 109° are out of range: gpsd prints them, vesselwatch rejects the message",
    ),
];

/// Where vesselwatch's length rules deliberately depart from gpsd 3.22's (`driver_ais.c`), each
/// with a sentence that shows it and whether vesselwatch decodes that sentence;
/// `deliberate_length_differences_hold` checks them. The decoder's `bit_range` holds the rules.
const LENGTH_DIFFERENCES: &[(&str, bool, &str)] = &[
    (
        "!AIVDM,1,1,,A,13aIkM@P00PJ@qPNL=e@0?wJ28JO,5*63",
        false,
        "types 1-3 from 163 bits in gpsd, which zero-fills the missing radio bits; vesselwatch wants \
         the whole 168-bit layout and never zero-fills a field",
    ),
    (
        "!AIVDM,1,1,,A,H42O55lU1230000D3ijkl01@523,0*28",
        true,
        "type 24 part B from 168 bits in gpsd; vesselwatch accepts from 162, where the dimensions \
         (or the mothership MMSI) end: only spare bits follow",
    ),
];

/// Fields never compared, with the reason.
const NOT_COMPARED: &[(&str, &str)] = &[
    (
        "turn",
        "gpsd prints a scaled string (\"fastleft\", \"n/a\"); vesselwatch prints the raw ROT",
    ),
    (
        "part",
        "gpsd merges type 24 parts A and B; vesselwatch prints each part (as gpsdecode -s)",
    ),
];

/// Where vesselwatch prints `null` and gpsd a number, on purpose:
/// - gpsd prints "not available" as its sentinel value (lat 91, lon 181, speed 102.3, course 360,
///   heading 511; type 27 speed 63 and course 511); vesselwatch prints `null`;
/// - gpsd prints out-of-range headings (360–510) and courses; vesselwatch refuses the field (prints
///   `null`, counts `heading_out_of_range`) and keeps the position.
fn null_for(msg_type: u64, field: &str, gpsd: f64) -> bool {
    match (msg_type, field) {
        (_, "lat") => gpsd == 91.0,
        (_, "lon") => gpsd == 181.0,
        (27, "speed") => gpsd == 63.0,
        (27, "course") => gpsd >= 360.0,
        (_, "speed") => gpsd == 102.3,
        (_, "course") => gpsd >= 360.0,
        (_, "heading") => (360.0..=511.0).contains(&gpsd),
        _ => false,
    }
}

/// Half a unit of gpsd's printed precision for a float field.
fn tolerance(msg_type: u64, field: &str) -> f64 {
    match (msg_type, field) {
        (27, "lat" | "lon") => 0.5e-4 + 1e-9,
        (_, "lat" | "lon") => 0.5e-7 + 1e-12,
        _ => 0.05 + 1e-9,
    }
}

/// Converts gpsd's unscaled (`-u`) record to scaled units.
fn scale(mut rec: Map<String, Value>) -> Map<String, Value> {
    if rec.get("scaled") != Some(&Value::Bool(false)) {
        return rec;
    }
    let t = rec["type"].as_u64().unwrap();
    let mut div = |k: &str, d: f64| {
        if let Some(v) = rec.get(k).and_then(Value::as_f64) {
            rec.insert(k.into(), serde_json::json!(v / d));
        }
    };
    if t == 27 {
        div("lat", 600.0);
        div("lon", 600.0);
    } else {
        div("lat", 600_000.0);
        div("lon", 600_000.0);
        div("speed", 10.0);
        div("course", 10.0);
        div("draught", 10.0);
    }
    rec
}

/// Decodes a fixture with vesselwatch, as JSON records.
fn ours(path: &Path) -> Vec<Map<String, Value>> {
    let data = std::fs::read(path).unwrap();
    let mut fe = FrontEnd::default();
    let mut out = Vec::new();
    let mut records = Vec::new();
    let mut sink = |d| {
        out.clear();
        write_message(&mut out, &d);
        records.push(serde_json::from_slice::<Map<String, Value>>(&out).unwrap());
    };
    fe.push_bytes(0, &data, &mut sink);
    fe.finish_feed(0, &mut sink);
    records
}

/// gpsd (without `-s`) prints a type 24 only once it holds part A and then part B for an MMSI, as
/// one merged record. Applies the same rule to vesselwatch's separate parts, so the two streams line
/// up.
fn merge_type24_like_gpsd(records: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let mut part_a: HashMap<u64, Map<String, Value>> = HashMap::new();
    let mut out = Vec::new();
    for r in records {
        if r["type"] != 24 {
            out.push(r);
            continue;
        }
        let mmsi = r["mmsi"].as_u64().unwrap();
        if r["part"] == "A" {
            part_a.insert(mmsi, r);
        } else if let Some(mut a) = part_a.remove(&mmsi) {
            a.extend(r);
            out.push(a);
        }
    }
    out
}

fn deliberately_rejected(rec: &Map<String, Value>) -> Option<&'static str> {
    let text = serde_json::to_string(rec).unwrap();
    DELIBERATE
        .iter()
        .find(|(t, mmsi, marker, _)| {
            rec["type"] == *t && rec["mmsi"] == *mmsi && text.contains(marker)
        })
        .map(|d| d.3)
}

fn in_scope(r: &Map<String, Value>) -> bool {
    IN_SCOPE.contains(&r["type"].as_u64().unwrap())
}

/// What a gpsd record and one of ours must share to be paired: type, MMSI and, for type 24, the
/// parts the record holds (name from part A, ship type from part B).
fn pairing_key(r: &Map<String, Value>) -> (u64, u64, &'static str) {
    let t = r["type"].as_u64().unwrap();
    let parts = match (t, r.contains_key("shipname"), r.contains_key("shiptype")) {
        (24, true, true) => "A+B",
        (24, true, false) => "A",
        (24, false, _) => "B",
        _ => "",
    };
    (t, r["mmsi"].as_u64().unwrap(), parts)
}

/// The fields of ours (`o`) that differ from gpsd's record (`g`), one line each; empty when they
/// agree.
fn differences(g: &Map<String, Value>, o: &Map<String, Value>) -> Vec<String> {
    let t = g["type"].as_u64().unwrap();
    let mut out = Vec::new();
    for (k, ov) in o {
        if k.starts_with("tag_") || k == "log_time" || k == "station" {
            continue;
        }
        if NOT_COMPARED.iter().any(|(f, _)| f == k) {
            continue;
        }
        let Some(gv) = g.get(k) else {
            out.push(format!("gpsd has no field {k}"));
            continue;
        };
        let ok = match (ov, gv) {
            (Value::Null, Value::Number(n)) => null_for(t, k, n.as_f64().unwrap()),
            (Value::Number(a), Value::Number(b)) => {
                (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= tolerance(t, k)
            }
            (Value::Bool(a), Value::Number(b)) => u64::from(*a) == b.as_u64().unwrap_or(9),
            (a, b) => a == b,
        };
        if !ok {
            out.push(format!("{k} ours {ov} gpsd {gv}"));
        }
    }
    out
}

/// Pairs every gpsd record with one of ours by content and compares them field by field; returns
/// the number of pairs compared. Of our unused records with the same [`pairing_key`], the first
/// that agrees in every field is taken; when none does, the first is taken and its differences are
/// reported.
fn compare(
    name: &str,
    expected: Vec<Map<String, Value>>,
    actual: Vec<Map<String, Value>>,
) -> usize {
    let expected: Vec<_> = expected.into_iter().map(scale).filter(in_scope).collect();
    let actual: Vec<_> = merge_type24_like_gpsd(actual)
        .into_iter()
        .filter(in_scope)
        .collect();
    let mut used = vec![false; actual.len()];
    let mut compared = 0;
    let mut failures = Vec::new();
    for (i, g) in expected.iter().enumerate() {
        if deliberately_rejected(g).is_some() {
            continue;
        }
        let key = pairing_key(g);
        let candidates: Vec<usize> = (0..actual.len())
            .filter(|&j| !used[j] && pairing_key(&actual[j]) == key)
            .collect();
        let Some(&first) = candidates.first() else {
            failures.push(format!("{name} gpsd #{i}: no counterpart: {g:?}"));
            continue;
        };
        let j = candidates
            .iter()
            .copied()
            .find(|&j| differences(g, &actual[j]).is_empty())
            .unwrap_or(first);
        for d in differences(g, &actual[j]) {
            failures.push(format!(
                "{name} gpsd #{i} type {} mmsi {}: {d}",
                key.0, key.1
            ));
        }
        used[j] = true;
        compared += 1;
    }
    let extra: Vec<_> = actual
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(r, _)| r)
        .collect();
    assert!(
        failures.is_empty() && extra.is_empty(),
        "{name}: {} differences:\n{}\nextra records of ours: {extra:?}",
        failures.len(),
        failures.join("\n")
    );
    compared
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/conformance")
        .join(name)
}

fn json_lines(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Map<String, Value>>(l).unwrap())
        .filter(|r| r.get("class") == Some(&Value::String("AIS".into())))
        .collect()
}

/// The `.log.chk` files interleave input sentences with gpsd's output, and gpsd prints the last AIS
/// record again after some non-AIS sentences. Takes the first record after each AIS sentence only.
fn records_after_sentences(text: &str) -> Vec<Map<String, Value>> {
    let (mut sentence, mut used) = (0usize, 0usize);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('!') || line.starts_with('\\') {
            sentence += 1;
        } else if line.starts_with('{') && sentence != used {
            let rec: Map<String, Value> = serde_json::from_str(line).unwrap();
            if rec.get("class") == Some(&Value::String("AIS".into())) {
                used = sentence;
                out.push(rec);
            }
        }
    }
    out
}

#[test]
fn sample_aivdm_matches_gpsdecode_json() {
    let expected = json_lines(&std::fs::read_to_string(fixture("sample.aivdm.js.chk")).unwrap());
    let n = compare("sample.aivdm", expected, ours(&fixture("sample.aivdm")));
    // 97 gpsd records, of which 23 are of the types in scope and 2 deliberately rejected.
    assert_eq!(n, 21);
}

#[test]
fn ais_logs_match_gpsd_records() {
    let mut total = 0;
    for (log, expected) in [
        ("ais-nmea.log", 160),
        ("ais-18-27.log", 138),
        ("ais-raw-messages.log", 108),
        ("ais_unpack_sixbit.log", 12),
    ] {
        let chk = std::fs::read_to_string(fixture(&format!("{log}.chk"))).unwrap();
        let n = compare(log, records_after_sentences(&chk), ours(&fixture(log)));
        assert_eq!(n, expected, "{log}: gpsd records compared");
        total += n;
    }
    assert_eq!(total, 418);
}

#[test]
fn deliberate_length_differences_hold() {
    for (sentence, decodes, reason) in LENGTH_DIFFERENCES {
        let mut fe = FrontEnd::default();
        let decoded = fe.push_line(0, sentence.as_bytes());
        assert_eq!(decoded.is_some(), *decodes, "{sentence}: {reason}");
    }
}

/// Ship types in words against gpsd's own (`shiptype_text` in its expected decodes): every code
/// gpsd's fixtures name, from 0 to 99, falls in the same kind of ship (ITU-R M.1371 Table 53).
#[test]
fn ship_type_words_agree_with_gpsd() {
    use vesselwatch_ais::decode::ship_type_words;
    let mut seen = std::collections::BTreeMap::new();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conformance"))
            .unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "chk") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let (Some(code), Some(text)) = (v["shiptype"].as_u64(), v["shiptype_text"].as_str())
                && code < 100
            {
                seen.insert(code as u8, text.to_string());
            }
        }
    }
    // gpsd's wording, reduced to the kind it names; ours must name the same kind.
    let kinds = [
        ("Not available", "not available"),
        ("Cargo", "cargo"),
        ("Tanker", "tanker"),
        ("Passenger", "passenger"),
        ("Other Type", "other"),
        ("High speed craft", "high-speed craft"),
        ("Pleasure Craft", "pleasure craft"),
        ("Sailing", "sailing"),
        ("Tug", "tug"),
        ("Towing", "towing"),
        ("Law Enforcement", "law enforcement"),
        ("Dredging", "dredging"),
        ("Reserved", "reserved"),
    ];
    assert_eq!(
        seen.len(),
        17,
        "the codes below 100 in gpsd's fixtures: {seen:?}"
    );
    for (code, text) in &seen {
        let (_, ours) = kinds
            .iter()
            .find(|(g, _)| text.starts_with(g))
            .unwrap_or_else(|| panic!("gpsd's {code} {text:?} is not in the list"));
        let words = ship_type_words(*code);
        assert!(
            words.starts_with(ours),
            "{code}: gpsd {text:?}, ours {words:?}"
        );
        // gpsd's "No additional information" is ours too.
        assert_eq!(
            text.to_lowercase().contains("no additional information"),
            words.contains("no additional information"),
            "{code}: gpsd {text:?}, ours {words:?}"
        );
    }
}
