//! Right on real feeds (issue 9), with the real binary: feeds without timestamps, lying clocks,
//! receiver clock sentences, USCG groups, unusual talkers and channels, whole-minute archives,
//! history replayed into a later database, and inputs that are mostly lost.
//!
//! The fixtures are made here from committed ones: `fixtures/untimed-port` (simulated, with base
//! stations; one with a clock 13 years slow, one without a time) and `fixtures/tartus-2025-01`,
//! rewritten into each format by the helpers below. The oracle for every variant is the replay of
//! the original tag-blocked feed, whose times are the simulator's own.

use std::path::{Path, PathBuf};
use std::process::Output;

use proptest::prelude::*;
use serde_json::Value;
use vesselwatch::config::{Loaded, Origin};
use vesselwatch::simulate::Scenario;
use vesselwatch_ais::frontend::FrontEnd;
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::event::Event;
use vesselwatch_engine::feedclock::{ClockSettings, FeedClocks, Mode, Now};
mod util;
use util::{bin, fixture, root, run_ok};

/// Runs the binary with `args` then `files`; prints the command and its output when it fails.
fn run(args: &[&str], files: &[&Path]) -> Output {
    run_ok(bin().args(args).args(files))
}

/// Replays without a store; returns the events (kind, mmsi, fence, time) and standard error.
fn replay(config: &Path, feed: &Path) -> (Vec<(String, u64, String, i64)>, String) {
    let out = run(
        &[
            "replay",
            "--no-store",
            "--format",
            "jsonl",
            "--config",
            config.to_str().unwrap(),
        ],
        &[feed],
    );
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let t = UnixMillis::parse_rfc3339(v["time"].as_str().unwrap().as_bytes()).unwrap();
            (
                v["kind"].as_str().unwrap().to_string(),
                v["mmsi"].as_u64().unwrap(),
                v["fence"].as_str().unwrap().to_string(),
                t.0,
            )
        })
        .collect();
    (events, String::from_utf8(out.stderr).unwrap())
}

/// The number after `key ` in a summary.
fn figure(summary: &str, key: &str) -> u64 {
    let at = summary
        .find(&format!("{key} "))
        .unwrap_or_else(|| panic!("no {key} in {summary}"));
    summary[at + key.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Same events (kind, vessel, fence, in order) with times within two minutes.
fn assert_same_events(want: &[(String, u64, String, i64)], got: &[(String, u64, String, i64)]) {
    let key = |e: &(String, u64, String, i64)| (e.0.clone(), e.1, e.2.clone());
    assert_eq!(
        want.iter().map(key).collect::<Vec<_>>(),
        got.iter().map(key).collect::<Vec<_>>()
    );
    for (w, g) in want.iter().zip(got) {
        assert!((w.3 - g.3).abs() <= 120_000, "{w:?} vs {g:?}");
    }
}

fn checksum(s: &str) -> u8 {
    s.bytes().fold(0, |a, b| a ^ b)
}

/// The tag block's `c:` (seconds) of a line.
fn tag_time(line: &str) -> Option<i64> {
    let c = line.find("c:")?;
    line[c + 2..]
        .split(|ch: char| !ch.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The line without its tag block.
fn bare(line: &str) -> &str {
    &line[line.rfind('!').unwrap()..]
}

/// Writes `lines` to a file in `dir`.
fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn untimed_port() -> (PathBuf, PathBuf) {
    (
        fixture("untimed-port/config.toml"),
        fixture("untimed-port/feed.nmea"),
    )
}

#[test]
fn a_recording_without_timestamps_gives_the_events_of_the_same_recording_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let (config, feed) = untimed_port();
    let (want, timed) = replay(&config, &feed);
    assert_eq!(
        want.len(),
        9,
        "the scenario's arrivals, departures and presence"
    );
    let stripped: Vec<String> = lines_of(&feed)
        .iter()
        .map(|l| bare(l).to_string())
        .collect();
    let (got, untimed) = replay(&config, &write(dir.path(), "untimed.nmea", &stripped));
    assert_same_events(&want, &got);
    let (a, b) = (figure(&timed, "fixes"), figure(&untimed, "fixes"));
    assert!(b * 100 >= a * 99, "fixes: {b} of {a}\n{untimed}");
    // Every message timed by the base stations. The slow station's 2,880 reports (every 10 s for
    // 8 h) and the unavailable one's 960 (every 30 s) are ignored; the first slow report is only a
    // candidate before the consensus, so it is one of those 2,880 counted too.
    assert_eq!(figure(&untimed, "base_stations"), figure(&timed, "stated"));
    assert_eq!(figure(&untimed, "base-station times ignored"), 2880 + 960);
    assert!(!untimed.contains("relative clock"), "{untimed}");
}

#[test]
fn impossible_and_far_ahead_times_are_rejected_and_change_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let (config, feed) = untimed_port();
    let (want, _) = replay(&config, &feed);
    let mut lines = lines_of(&feed);
    // `c:99999999999` is the year 5138; `+3 days` is plausible as a date but not in this feed. Both
    // carry LEAVER's first position report, so a wrong time would make its later reports stale.
    let leaver = lines
        .iter()
        .position(|l| {
            l.contains("!AIVDM,1,1,,") && l.contains("s:rSIMTIME") && {
                let d = FrontEnd::default().push_line(0, l.as_bytes());
                d.is_some_and(|d| d.message.header().mmsi == 273_000_402)
            }
        })
        .unwrap();
    let t = tag_time(&lines[leaver]).unwrap();
    let sentence = bare(&lines[leaver]).to_string();
    for (at, c) in [
        (leaver + 50, 99_999_999_999),
        (leaver + 400, t + 3 * 86_400),
    ] {
        let tag = format!("s:rSIMTIME,c:{c}");
        lines.insert(at, format!("\\{tag}*{:02X}\\{sentence}", checksum(&tag)));
    }
    let (got, summary) = replay(&config, &write(dir.path(), "lies.nmea", &lines));
    assert_same_events(&want, &got);
    assert_eq!(figure(&summary, "rejected ahead"), 2, "{summary}");
    // Re-timed by the running clock, the two copies may be stale themselves; nothing else is (had
    // either time been taken, LEAVER's later reports, one every 3 minutes for 2 hours, would be).
    assert!(figure(&summary, "stale") <= 2, "{summary}");
}

/// (y, m, d, h, mi, s) of Unix seconds.
fn civil(t: i64) -> (u32, u32, u32, u32, u32, u32) {
    UnixMillis(t * 1000).to_civil()
}

#[test]
fn receiver_clock_sentences_time_an_untagged_feed() {
    let dir = tempfile::tempdir().unwrap();
    let (config, feed) = untimed_port();
    let (want, _) = replay(&config, &feed);
    // Gatehouse: a `$PGHP` before every sentence. And a receiver giving `$GPZDA` once a minute
    // only, with the base stations removed, so the minute comes from the receiver and the seconds
    // from the reports.
    let (mut gatehouse, mut zda) = (Vec::new(), Vec::new());
    let mut last_minute = -1;
    for l in lines_of(&feed) {
        let t = tag_time(&l).unwrap();
        let (y, mo, d, h, mi, s) = civil(t);
        let body = format!("PGHP,1,{y},{mo},{d},{h},{mi},{s},0,338,2,,1,09");
        gatehouse.push(format!("${body}*{:02X}", checksum(&body)));
        gatehouse.push(bare(&l).to_string());
        let is_base = FrontEnd::default()
            .push_line(0, l.as_bytes())
            .is_some_and(|d| d.message.header().msg_type == 4);
        if is_base {
            continue;
        }
        if t / 60 != last_minute {
            last_minute = t / 60;
            let body = format!("GPZDA,{h:02}{mi:02}{s:02}.00,{d:02},{mo:02},{y},00,00");
            zda.push(format!("${body}*{:02X}", checksum(&body)));
        }
        zda.push(bare(&l).to_string());
    }
    for (name, lines) in [("gatehouse.nmea", gatehouse), ("zda.nmea", zda)] {
        let (got, summary) = replay(&config, &write(dir.path(), name, &lines));
        assert_same_events(&want, &got);
        // Every message timed by the receiver, base-station reports included.
        assert_eq!(
            figure(&summary, "receiver"),
            figure(&summary, "decoded"),
            "{name}: {summary}"
        );
        assert_eq!(figure(&summary, "quarantined"), 0, "{name}: {summary}");
    }
}

#[test]
fn uscg_groups_talkers_and_channels_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("tartus-2025-01/feed.nmea");
    let config = root().join("config/vesselwatch.toml");
    let (want, _) = replay(&config, &feed);
    // USCG NAIS: the later lines of a group carry `g:` and `n:` only. National feeds: talkers such
    // as `BY` and `=I`, channels `0`, `X` or none.
    let talkers = ["BY", "=I", "AI", "AB"];
    let channels = ["0", "X", "", "B"];
    let (mut n, mut message) = (0, 0);
    let rewritten: Vec<String> = lines_of(&feed)
        .iter()
        .map(|l| {
            let body = &bare(l)[1..l.rfind('*').unwrap() - l.rfind('!').unwrap()];
            let mut fields: Vec<&str> = body.split(',').collect();
            // The fragments of one message keep one talker and channel, as a receiver sends them.
            if fields[2] == "1" {
                message += 1;
            }
            let i = message;
            let address = format!("{}VDM", talkers[i % 4]);
            fields[0] = &address;
            fields[4] = channels[(i / 4) % 4];
            let body = fields.join(",");
            let tag_end = l.rfind('\\').unwrap();
            let tag = &l[1..tag_end - 3];
            let tag = if tag.starts_with("g:2-") {
                n += 1;
                format!("{},n:{n}", tag.split(',').next().unwrap())
            } else {
                tag.to_string()
            };
            format!(
                "\\{tag}*{:02X}\\!{body}*{:02X}",
                checksum(&tag),
                checksum(&body)
            )
        })
        .collect();
    assert!(n > 500, "the fixture has type 5 groups");
    let path = write(dir.path(), "national.nmea", &rewritten);
    let original = String::from_utf8(run(&["decode", "--count"], &[&feed]).stderr).unwrap();
    let national = String::from_utf8(run(&["decode", "--count"], &[&path]).stderr).unwrap();
    assert_eq!(original, national);
    let (got, _) = replay(&config, &path);
    assert_eq!(want, got);
}

#[test]
fn whole_minute_times_are_not_jumps() {
    let dir = tempfile::tempdir().unwrap();
    let (config, feed) = untimed_port();
    let (want, _) = replay(&config, &feed);
    // An export with whole-minute times: vessels under way report every 10 s, so six fixes up to
    // 300 m apart share each minute.
    let coarse: Vec<String> = lines_of(&feed)
        .iter()
        .map(|l| {
            let t = tag_time(l).unwrap();
            let tag = &l[1..l.rfind('\\').unwrap() - 3];
            let tag = tag.replace(&format!("c:{t}"), &format!("c:{}", t - t % 60));
            format!("\\{tag}*{:02X}\\{}", checksum(&tag), bare(l))
        })
        .collect();
    let (got, summary) = replay(&config, &write(dir.path(), "minutes.nmea", &coarse));
    assert_eq!(figure(&summary, "quarantined"), 0, "{summary}");
    assert_same_events(&want, &got);
}

#[test]
fn last_month_replayed_after_this_month_is_recorded_with_the_same_visits() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("tartus-2025-01/feed.nmea");
    let config = root().join("config/vesselwatch.toml");
    let cfg = config.to_str().unwrap();
    // Split at 2025-01-24T00:00:00Z: Sparta and Sparta II are in port.
    let (early, late): (Vec<String>, Vec<String>) = lines_of(&feed)
        .into_iter()
        .partition(|l| tag_time(l).unwrap() < 1_737_676_800);
    let early = write(dir.path(), "early.nmea", &early);
    let late = write(dir.path(), "late.nmea", &late);
    let (in_order, late_first) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let db = |p: &Path| p.to_str().unwrap().to_string();
    // Replays `input` into the database `into`, events printed as JSON lines.
    let replay_into = |into: &Path, input: &Path| {
        run(
            &[
                "replay",
                "--config",
                cfg,
                "--db",
                &db(into),
                "--format",
                "jsonl",
            ],
            &[input],
        )
    };
    replay_into(&in_order, &feed);
    replay_into(&late_first, &late);
    let out = replay_into(&late_first, &early);
    let printed = String::from_utf8(out.stdout).unwrap();
    // The early half's events: those of the story before the split (two loiterings at sea, two
    // holdings, two arrivals), in the story's order.
    let kinds: Vec<String> = printed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let early_story: Vec<String> = util::story_events()
        .iter()
        .filter(|e| e["time"].as_str().unwrap() < "2025-01-24T00:00:00Z")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        early_story,
        [
            "loitering",
            "loitering",
            "holding",
            "holding",
            "arrival",
            "arrival"
        ]
    );
    assert_eq!(kinds, early_story);
    let visits = |p: &Path| {
        String::from_utf8(run(&["visits", "--format", "json", "--db", &db(p)], &[]).stdout).unwrap()
    };
    assert_eq!(visits(&in_order), visits(&late_first));
    assert!(visits(&late_first).contains("2025-01-20T10:55:38.452Z"));
    // Again: nothing new, nothing printed, nothing duplicated.
    let again = replay_into(&late_first, &early);
    assert!(again.stdout.is_empty());
    let said = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(
        said.contains(&format!(
            "{} of its events were recorded before",
            early_story.len()
        )),
        "{said}"
    );
    assert_eq!(visits(&in_order), visits(&late_first));
}

#[test]
fn inputs_mostly_lost_are_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let bin = dir.path().join("capture.bin");
    std::fs::write(&bin, &binary).unwrap();
    let mut bad = lines_of(&fixture("untimed-port/feed.nmea"));
    bad.truncate(300);
    for l in bad.iter_mut().skip(100) {
        l.pop();
        l.push('0');
    }
    let bad = write(dir.path(), "corrupt.nmea", &bad);
    let (config, _) = untimed_port();
    for args in [
        vec!["decode", "--count"],
        vec!["replay", "--no-store", "--config", config.to_str().unwrap()],
    ] {
        let e = String::from_utf8(run(&args, &[&bin]).stderr).unwrap();
        assert!(e.contains("capture.bin: nothing decoded"), "{args:?}: {e}");
        let e = String::from_utf8(run(&args, &[&bad]).stderr).unwrap();
        assert!(
            e.contains("corrupt.nmea: most lines rejected"),
            "{args:?}: {e}"
        );
    }
    // A feed with no clock at all says its times are not real.
    let stripped: Vec<String> = lines_of(&fixture("tartus-2025-01/feed.nmea"))
        .iter()
        .map(|l| bare(l).to_string())
        .collect();
    let (_, summary) = replay(
        &root().join("config/vesselwatch.toml"),
        &write(dir.path(), "noclock.nmea", &stripped),
    );
    assert!(
        summary.contains("relative clock starting at 1970-01-01T00:00:00Z"),
        "{summary}"
    );
}

/// Events of a feed through the library's pipeline: front end, feed clocks (replay), engine.
fn events_of(text: &str, loaded: &Loaded) -> Vec<Event> {
    let mut fe = FrontEnd::default();
    let mut clocks = FeedClocks::new(ClockSettings::new(Mode::Replay));
    let mut engine = loaded.engine();
    let mut out = Vec::new();
    let now = Now {
        arrival: None,
        latest: None,
    };
    fe.push_bytes(0, text.as_bytes(), |d| {
        clocks.push(d, now, |d, t| engine.on_message(&d, t, &mut out))
    });
    fe.finish_feed(0, |d| {
        clocks.push(d, now, |d, t| engine.on_message(&d, t, &mut out))
    });
    clocks.finish(|d, t| engine.on_message(&d, t, &mut out));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Stripping the timestamps of a tag-blocked feed with base-station reports, one station's clock
    /// wrong by `offset_days`, changes no event (kind, vessel, fence) and no time by more than 2 min.
    #[test]
    fn stripping_timestamps_changes_no_event_beyond_two_minutes(
        seed in any::<u64>(),
        offset_days in prop_oneof![-5000i64..-1, 1i64..400],
        dwell_h in 1u32..4,
        start_min in 0u32..600,
        station_every_s in prop_oneof![Just(10u32), Just(60), Just(180)],
    ) {
        let start = 1_748_750_400 + i64::from(start_min) * 60;
        let iso = |t: i64| UnixMillis(t * 1000).to_string();
        let toml = format!(
            "name = \"p\"\nseed = {seed}\nstart = \"{}\"\nend = \"{}\"\n\
             [[vessels]]\nmmsi = 273000901\nname = \"IN AND OUT\"\nshiptype = 70\nnoise_m = 5\n\
             waypoints = [{{ lat = 34.93, lon = 35.65 }}, {{ lat = 34.89, lon = 35.855, speed_kn = 10 }},\
             {{ lat = 34.887, lon = 35.862, speed_kn = 3, wait = \"{dwell_h}h\" }},\
             {{ lat = 34.89, lon = 35.845, speed_kn = 4 }}, {{ lat = 34.80, lon = 35.50, speed_kn = 12 }}]\n\
             [[base_stations]]\nmmsi = 4680001\nlat = 34.89\nlon = 35.87\ninterval = \"{station_every_s}s\"\n\
             [[base_stations]]\nmmsi = 4680002\nlat = 35.52\nlon = 35.77\ninterval = \"{station_every_s}s\"\n\
             [[base_stations]]\nmmsi = 4680003\nlat = 35.15\nlon = 35.90\nclock = \"{}\"\n",
            iso(start),
            iso(start + 8 * 3600),
            iso(start + offset_days * 86_400),
        );
        let feed = Scenario::parse(&toml).unwrap().feed().unwrap();
        let stripped: String = feed.lines().map(|l| format!("{}\n", bare(l))).collect();
        let loaded = Loaded::from_str(
            "[monitor]\nvessels = \"all\"\n[[fences]]\nname = \"tartus-port\"\nkind = \"port\"\n\
             center = { lat = 34.888, lon = 35.864 }\nradius_km = 0.9\n",
            Origin::Embedded,
        ).unwrap();
        let want = events_of(&feed, &loaded);
        let got = events_of(&stripped, &loaded);
        prop_assert!(want.len() >= 2, "the scenario passes through the port: {want:?}");
        prop_assert_eq!(
            want.iter().map(|e| (e.kind, e.mmsi, e.fence.clone())).collect::<Vec<_>>(),
            got.iter().map(|e| (e.kind, e.mmsi, e.fence.clone())).collect::<Vec<_>>()
        );
        for (w, g) in want.iter().zip(&got) {
            prop_assert!((w.time.0 - g.time.0).abs() <= 120_000, "{:?} vs {:?}", w.time, g.time);
        }
    }
}
