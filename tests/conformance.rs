//! Conformance with gpsd's decoder on gpsd's own test corpus (`fixtures/conformance/`, BSD-2-Clause,
//! see `COPYING` there).
//!
//! For every message of types 1, 2, 3, 4, 5, 18, 19, 21, 24 and 27, every field vesselwatch prints
//! must equal gpsd's expected value, floats to gpsd's printed precision. The deliberate differences
//! are listed in [`DELIBERATE`] and [`sentinel_for`], each with its reason; nothing else may differ.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};
use vesselwatch::FrontEnd;
use vesselwatch::output::gpsd_json::write_message;

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

/// Compares the two streams field by field; returns the number of messages compared.
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
    let mut ours = actual.iter();
    let mut compared = 0;
    let mut failures = Vec::new();
    for (i, g) in expected.iter().enumerate() {
        if deliberately_rejected(g).is_some() {
            continue;
        }
        let Some(o) = ours.next() else {
            failures.push(format!("gpsd record {i} has no counterpart: {g:?}"));
            break;
        };
        let t = g["type"].as_u64().unwrap();
        for (k, ov) in o {
            if k.starts_with("tag_") || k == "log_time" || k == "station" {
                continue;
            }
            if NOT_COMPARED.iter().any(|(f, _)| f == k) {
                continue;
            }
            let Some(gv) = g.get(k) else {
                failures.push(format!("{name} #{i} type {t}: gpsd has no field {k}"));
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
                failures.push(format!(
                    "{name} #{i} type {t} mmsi {}: {k} ours {ov} gpsd {gv}",
                    g["mmsi"]
                ));
            }
        }
        compared += 1;
    }
    let extra: Vec<_> = ours.collect();
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
    for log in [
        "ais-nmea.log",
        "ais-18-27.log",
        "ais-raw-messages.log",
        "ais_unpack_sixbit.log",
    ] {
        let chk = std::fs::read_to_string(fixture(&format!("{log}.chk"))).unwrap();
        let n = compare(log, records_after_sentences(&chk), ours(&fixture(log)));
        assert!(n > 0, "{log}: nothing compared");
        total += n;
    }
    assert!(total > 400, "only {total} messages compared");
}
