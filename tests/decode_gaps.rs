//! The decoding gaps found against gpsd, end to end: `vesselwatch decode` on the hand-written
//! `fixtures/decode-gaps/gaps.nmea`, compared with gpsd's reading of it (`gaps.gpsdecode.json`,
//! gpsd 3.22). The fixture's README says what each line holds and how it was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/decode-gaps")
        .join(name)
}

/// A run of `vesselwatch decode FILE`: its JSON records and its summary, with the command and its
/// raw output kept for failure messages.
struct Decode {
    command: String,
    output: Output,
    records: Vec<Map<String, Value>>,
    summary: BTreeMap<String, u64>,
}

impl Decode {
    fn run(file: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vesselwatch"));
        cmd.arg("decode").arg(file);
        let command = format!("{cmd:?}");
        let output = cmd.output().expect("binary runs");
        let stdout = String::from_utf8(output.stdout.clone()).unwrap();
        let stderr = String::from_utf8(output.stderr.clone()).unwrap();
        let records = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("every stdout line is a JSON object"))
            .collect();
        let summary = stderr
            .lines()
            .filter_map(|l| {
                let (name, count) = l.split_once(char::is_whitespace)?;
                Some((name.to_string(), count.trim().parse().ok()?))
            })
            .collect();
        Self {
            command,
            output,
            records,
            summary,
        }
    }

    /// The command and everything it printed, for assertion messages.
    fn context(&self) -> String {
        format!(
            "command: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }
}

fn gpsd_records() -> Vec<Map<String, Value>> {
    std::fs::read_to_string(fixture("gaps.gpsdecode.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn type_and_mmsi(records: &[Map<String, Value>]) -> Vec<(u64, u64)> {
    records
        .iter()
        .map(|r| (r["type"].as_u64().unwrap(), r["mmsi"].as_u64().unwrap()))
        .collect()
}

#[test]
fn decode_gaps_fixture_decodes_as_gpsd_does() {
    let run = Decode::run(&fixture("gaps.nmea"));
    let ctx = run.context();
    assert!(run.output.status.success(), "{ctx}");

    // The messages gpsd decodes and no others: the 348-bit type 27 (316000348), the 174-bit type 15
    // (2440015) and the type 28 (244000028) are refused by both.
    let decoded = type_and_mmsi(&run.records);
    assert_eq!(decoded, type_and_mmsi(&gpsd_records()), "{ctx}");
    assert_eq!(
        decoded,
        [(21, 994_131_001), (27, 271_000_001), (5, 244_000_420)],
        "{ctx}"
    );

    // Regression: a type 21 name whose 20th character is a space lost its extension.
    let aid = &run.records[0];
    assert_eq!(aid["name"], "QUAN ZHOU WAN 5 HAO DENG FU", "{ctx}");

    let long_range = &run.records[1];
    assert_eq!(
        (&long_range["lat"], &long_range["lon"], &long_range["speed"]),
        (&Value::from(36.9), &Value::from(35.8), &Value::from(12.0)),
        "{ctx}"
    );

    // A type 5 of 420 bits: accepted as gpsd accepts it, the destination's last character read from
    // the 4 of its 6 bits that were sent (`Y`, 011001, arrives as 0110 and reads as `X`), and no DTE
    // flag, which was not sent (gpsd prints 0 for it).
    let voyage = &run.records[2];
    assert_eq!(voyage["shipname"], "NORDIC STAR", "{ctx}");
    assert_eq!(voyage["destination"], "ROTTERDAM EUROPOORTX", "{ctx}");
    assert_eq!(voyage["destination"], gpsd_records()[2]["destination"]);
    assert!(!voyage.contains_key("dte"), "{ctx}");

    // Seven lines: three messages decoded, the first fragment of the type 5 buffered, two of the
    // wrong length (type 27 of 348 bits, type 15 of 174) and one of a type AIS does not define.
    let expected: BTreeMap<String, u64> = [
        ("decoded", 3),
        ("fragment_buffered", 1),
        ("wrong_length", 2),
        ("unknown_type", 1),
        ("decoded_type_5", 1),
        ("decoded_type_21", 1),
        ("decoded_type_27", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(run.summary, expected, "{ctx}");
}
