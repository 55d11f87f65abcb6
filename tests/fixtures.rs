//! The seed fixtures (`fixtures/<name>/`: scenario.toml, feed.nmea, expected-events.jsonl), checked
//! with the real binary: the simulator reproduces each feed byte for byte, a replay yields exactly the
//! expected events, twice identically, and a feed with junk yields the events of its clean version.

use std::path::{Path, PathBuf};
use std::process::Command;

use vesselwatch::simulate::Scenario;
mod util;
use util::root;

const FIXTURES: &[&str] = &[
    "tartus-2024-12",
    "tartus-2025-01",
    "boundary-noise",
    "mixed-garbage",
    "untimed-port",
];

fn config_for(dir: &Path) -> PathBuf {
    let own = dir.join("config.toml");
    if own.exists() {
        own
    } else {
        root().join("config/vesselwatch.toml")
    }
}

/// Replays `feed` into a fresh database (each call its own, so that no run resumes another's state).
fn replay(config: &Path, feed: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vesselwatch"))
        .args(["replay", "--format", "jsonl", "--config"])
        .arg(config)
        .arg("--db")
        .arg(dir.path().join("replay.db"))
        .arg(feed)
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn simulator_reproduces_each_committed_feed() {
    for name in FIXTURES {
        let dir = root().join("fixtures").join(name);
        let scenario =
            Scenario::parse(&std::fs::read_to_string(dir.join("scenario.toml")).unwrap()).unwrap();
        let feed = scenario.feed().unwrap();
        let committed = std::fs::read_to_string(dir.join("feed.nmea")).unwrap();
        assert!(
            feed == committed,
            "{name}: feed.nmea differs from the scenario's (run fixtures/regenerate.sh)"
        );
    }
}

#[test]
fn each_fixture_yields_exactly_its_expected_events_every_time() {
    for name in FIXTURES {
        let dir = root().join("fixtures").join(name);
        let expected = std::fs::read_to_string(dir.join("expected-events.jsonl")).unwrap();
        let first = replay(&config_for(&dir), &dir.join("feed.nmea"));
        assert_eq!(first, expected, "{name}");
        let second = replay(&config_for(&dir), &dir.join("feed.nmea"));
        assert_eq!(
            first.as_bytes(),
            second.as_bytes(),
            "{name}: replays differ"
        );
    }
}

fn kinds(jsonl: &str) -> Vec<(String, String, String)> {
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_string(),
                v["label"].to_string(),
                v["fence"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_story_is_what_the_fixtures_say() {
    let events = |name: &str| {
        kinds(
            &std::fs::read_to_string(
                root()
                    .join("fixtures")
                    .join(name)
                    .join("expected-events.jsonl"),
            )
            .unwrap(),
        )
    };
    let has = |ev: &[(String, String, String)], kind: &str, label: &str, fence: &str| {
        ev.iter()
            .any(|(k, l, f)| k == kind && l == &format!("\"{label}\"") && f == fence)
    };
    let dec = events("tartus-2024-12");
    assert!(has(&dec, "present", "Yelnya", "tartus-naval"));
    assert!(has(&dec, "departure", "Yelnya", "tartus-naval"));
    for frigate in ["Admiral Grigorovich", "Admiral Golovko"] {
        assert!(has(&dec, "arrival", frigate, "tartus-outer-anchorage"));
        assert!(has(&dec, "holding", frigate, "tartus-naval"));
    }
    assert!(has(&dec, "holding", "Vyazma", "tartus-naval"));
    assert!(
        !has(&dec, "arrival", "Yelnya", "tartus-naval"),
        "already in port: present, not arrival"
    );

    let jan = events("tartus-2025-01");
    for ship in ["Sparta", "Sparta II"] {
        assert!(has(&jan, "holding", ship, "tartus-port"), "{ship}");
        assert!(has(&jan, "arrival", ship, "tartus-port"), "{ship}");
        assert!(has(&jan, "departure", ship, "tartus-port"), "{ship}");
        assert!(has(&jan, "transit", ship, "gibraltar"), "{ship}");
    }
    assert!(has(&jan, "dark", "Sparta II", "tartus-port"));
    assert!(has(&jan, "reappeared", "Sparta II", "tartus-port"));
    let text =
        std::fs::read_to_string(root().join("fixtures/tartus-2025-01/expected-events.jsonl"))
            .unwrap();
    let inferred: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["inferred"] == true)
        .collect();
    assert_eq!(inferred.len(), 1);
    assert_eq!(inferred[0]["kind"], "departure");
    assert_eq!(inferred[0]["label"], "Sparta II");
    assert!(inferred[0]["window_start"].is_string() && inferred[0]["window_end"].is_string());
    assert!(text.contains("\"direction\":\"westbound\""));

    // The moored ship on the fence edge: placed once, then nothing despite 50 m of noise; the
    // shuttle leaves and comes back.
    let text =
        std::fs::read_to_string(root().join("fixtures/boundary-noise/expected-events.jsonl"))
            .unwrap();
    let by_name = |name: &str| -> Vec<String> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["name"] == name)
            .map(|v| v["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(by_name("EDGE MOORED"), ["present"]);
    assert_eq!(by_name("SHUTTLE"), ["present", "departure", "arrival"]);
}

#[test]
fn junk_lines_change_no_event() {
    let dir = root().join("fixtures/mixed-garbage");
    let mut scenario =
        Scenario::parse(&std::fs::read_to_string(dir.join("scenario.toml")).unwrap()).unwrap();
    assert!(scenario.junk > 0.0);
    scenario.junk = 0.0;
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean.nmea");
    std::fs::write(&clean, scenario.feed().unwrap()).unwrap();
    let with_junk = replay(&config_for(&dir), &dir.join("feed.nmea"));
    assert!(!with_junk.is_empty());
    assert_eq!(with_junk, replay(&config_for(&dir), &clean));
}
