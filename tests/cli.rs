//! End-to-end tests of `vesselwatch decode` with the real binary, each in a fresh temp dir.

use std::io::Write;
use std::path::Path;
use std::process::Output;
mod util;
use util::{bin, fixture};

fn run(args: &[&std::ffi::OsStr]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stdout_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

#[test]
fn decode_prints_json_lines_and_a_summary() {
    let o = run(&[
        "decode".as_ref(),
        fixture("conformance/sample.aivdm").as_os_str(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let lines = stdout_lines(&o);
    assert_eq!(lines.len(), 100);
    assert_eq!(lines[0]["mmsi"], 371_798_000);
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(stderr.contains("decoded "), "{stderr}");
    assert!(stderr.contains("wrong_length "), "{stderr}");
}

#[test]
fn gzip_input_decodes_like_plain_input() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("sample.aivdm.gz");
    let plain = std::fs::read(fixture("conformance/sample.aivdm")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    let a = run(&[
        "decode".as_ref(),
        fixture("conformance/sample.aivdm").as_os_str(),
    ]);
    let b = run(&["decode".as_ref(), gz.as_os_str()]);
    assert!(b.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.is_empty());
}

#[test]
fn stdin_and_count_only() {
    let o = util::run_with_stdin(
        bin().args(["decode", "--count", "-"]),
        b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\ngarbage\n",
    );
    assert!(o.status.success());
    assert!(o.stdout.is_empty(), "--count prints no records");
    let stderr = String::from_utf8(o.stderr).unwrap();
    let count = |key: &str| -> Option<u64> {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(key).filter(|r| r.starts_with(' ')))
            .and_then(|r| r.trim().parse().ok())
    };
    assert_eq!(count("decoded_type_1"), Some(1), "{stderr}");
    assert_eq!(count("garbage"), Some(1), "{stderr}");
}

#[test]
fn missing_file_is_an_error_but_other_inputs_still_decode() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.nmea");
    let o = run(&[
        "decode".as_ref(),
        missing.as_os_str(),
        fixture("conformance/ais-18-27.log").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stdout_lines(&o).is_empty());
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(stderr.contains("nope.nmea"), "{stderr}");
}

#[test]
fn bad_lines_are_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.nmea");
    let mut junk = vec![0u8; 5000];
    junk.extend_from_slice(b"\n!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B\n\xff\xfe\n");
    junk.extend_from_slice("!AIVDM,1,1,,A,1*é\n".as_bytes());
    std::fs::write(&path, junk).unwrap();
    let o = run(&["decode".as_ref(), path.as_os_str()]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    let stderr = String::from_utf8(o.stderr).unwrap();
    for reason in [
        "line_too_long",
        "bad_checksum",
        "garbage",
        "malformed_sentence",
    ] {
        assert!(stderr.contains(reason), "{reason} missing: {stderr}");
    }
}

#[test]
fn unknown_option_is_a_usage_error() {
    let o = run(&["decode".as_ref(), "--frobnicate".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn default_config_round_trips_through_check_config() {
    let o = run(&["default-config".as_ref()]);
    assert!(o.status.success());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vesselwatch.toml");
    std::fs::write(&cfg, &o.stdout).unwrap();
    // The example's GeoJSON paths are relative to the config file: copy the fences beside it.
    let fences = dir.path().join("fences");
    std::fs::create_dir(&fences).unwrap();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/fences")).unwrap()
    {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), fences.join(entry.file_name())).unwrap();
    }
    let o = run(&["check-config".as_ref(), cfg.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("ok: 11 fences")
    );
}

/// A GeoJSON ring of `n` positions (the last closing it) on a circle of 0.05° around Tartus.
fn circle_geojson(n: usize) -> String {
    let mut coords: Vec<String> = (0..n - 1)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / (n - 1) as f64;
            format!(
                "[{:.7},{:.7}]",
                35.8 + 0.05 * a.cos(),
                34.9 + 0.05 * a.sin()
            )
        })
        .collect();
    coords.push(coords[0].clone());
    format!(
        r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
        coords.join(",")
    )
}

#[test]
fn check_config_warns_about_a_fence_over_100k_vertices_and_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coast.geojson"), circle_geojson(100_001)).unwrap();
    std::fs::write(dir.path().join("basin.geojson"), circle_geojson(100_000)).unwrap();
    let cfg = dir.path().join("vesselwatch.toml");
    std::fs::write(
        &cfg,
        "[[fences]]\nname = \"coast\"\nkind = \"area\"\ngeojson = \"coast.geojson\"\n\n\
         [[fences]]\nname = \"basin\"\nkind = \"area\"\ngeojson = \"basin.geojson\"\n",
    )
    .unwrap();
    let o = run(&["check-config".as_ref(), cfg.as_os_str()]);
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(o.status.success(), "{stderr}");
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("ok: 2 fences")
    );
    // One over the limit is named with its count; one at the limit is not.
    assert!(
        stderr.contains("warning: fence `coast` has 100001 vertices, more than 100000"),
        "{stderr}"
    );
    assert!(!stderr.contains("`basin`"), "{stderr}");
}

#[test]
fn check_config_names_the_key_the_value_and_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[[fences]]\nname = \"x\"\nkind = \"port\"\ncenter = { lat = 95.0, lon = 35.8 }\nradius_km = 2\n",
    )
    .unwrap();
    let o = run(&["check-config".as_ref(), cfg.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(
        stderr.contains("`fences[0].center.lat` = 95: must be between -90 and 90"),
        "{stderr}"
    );
}

/// Issue 12: `track SPARTA | head -1` exited 2 with "Broken pipe". A reader that has seen enough
/// and closes the pipe is not a failure: the command ends quietly with status 0.
#[test]
fn a_reader_closing_the_pipe_ends_the_output_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipe.db");
    util::replay_story(&db);
    // Far more than a pipe holds (64 KiB), so the writer meets the closed pipe.
    let mut child = util::bin()
        .args(["track", "SPARTA", "--format", "jsonl", "--db"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"mmsi\":273000201"), "{first}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Issue 12, rough edges: every filter works or is refused, and a name the database does not know
/// is an error that lists what it knows, never empty output and exit 0.
#[test]
fn filters_work_or_are_refused_and_unknown_names_say_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    util::replay_story(&db);
    let vw = |args: &[&str]| -> Output { bin().args(args).arg("--db").arg(&db).output().unwrap() };
    // Refused, exit 2, each saying why.
    for (args, says) in [
        (
            &["events", "--kind", "arival"][..],
            "no event kind named \"arival\" (known: present, arrival, departure",
        ),
        (
            &["events", "--fence", "nowhere"],
            "no fence named \"nowhere\" (known: baltiysk, baniyas",
        ),
        (
            &["events", "--vessel", "TITANIC"],
            "no vessel \"TITANIC\" in this database",
        ),
        (
            &["events", "--vessel", "999999999"],
            "no vessel \"999999999\"",
        ),
        (
            &["track", "SPARTA", "--fence", "tartus-port"],
            "unexpected argument '--fence'",
        ),
        (
            &["track", "SPARTA", "--vessel", "SPARTA II"],
            "unexpected argument '--vessel'",
        ),
        (
            &["visits", "--kind", "arrival"],
            "unexpected argument '--kind'",
        ),
        (
            &["events", "--since", "2025-01-21", "--until", "2025-01-20"],
            "the period is empty",
        ),
        (
            &["alerts", "--status", "bogus"],
            "no alert status named \"bogus\" (known: pending, failed, dead, delivered)",
        ),
    ] {
        let out = vw(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // `vessels --fence` keeps the vessels with events at the fence: the expected events say which.
    let expected = util::story_events();
    for fence in ["tartus-port", "gibraltar", "baniyas"] {
        let mut want: Vec<u64> = expected
            .iter()
            .filter(|e| e["fence"] == fence)
            .map(|e| e["mmsi"].as_u64().unwrap())
            .collect();
        want.sort_unstable();
        want.dedup();
        let out = vw(&["vessels", "--fence", fence, "--format", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<u64> = got.iter().map(|v| v["mmsi"].as_u64().unwrap()).collect();
        assert_eq!(got, want, "{fence}");
    }
    // A plain date is the start of that day, UTC: the same events as its RFC 3339 spelling.
    let date = vw(&["events", "--since", "2025-01-20", "--format", "jsonl"]);
    let full = vw(&[
        "events",
        "--since",
        "2025-01-20T00:00:00Z",
        "--format",
        "jsonl",
    ]);
    assert!(date.status.success() && !date.stdout.is_empty());
    assert_eq!(date.stdout, full.stdout);
}

/// Issue 12: a one-fix track was an invalid GeoJSON LineString (RFC 7946 3.1.4 wants two
/// positions); it is a Point. And speeds print as AIS gives them, in tenths of a knot, not as the
/// f32 they were stored from (`0.20000000298023224`).
#[test]
fn a_one_fix_track_is_a_point_and_speeds_have_no_float_noise() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    util::replay_story(&db);
    let q = |args: &[&str]| -> String {
        String::from_utf8(util::run_ok(bin().args(args).arg("--db").arg(&db)).stdout).unwrap()
    };
    let last = "2025-02-04T23:50:00Z";
    let points: Vec<serde_json::Value> =
        q(&["track", "SPARTA", "--since", last, "--format", "jsonl"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(points.len(), 1);
    let gj: serde_json::Value = serde_json::from_str(&q(&[
        "track", "SPARTA", "--since", last, "--format", "geojson",
    ]))
    .unwrap();
    let geometry = &gj["features"][0]["geometry"];
    assert_eq!(geometry["type"], "Point");
    assert_eq!(
        geometry["coordinates"],
        serde_json::json!([points[0]["lon"], points[0]["lat"]])
    );
    for line in q(&["track", "SPARTA", "--format", "jsonl"]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let sog = v["sog"].to_string();
        assert!(
            sog == "null" || sog.split('.').nth(1).is_none_or(|d| d.len() <= 1),
            "{line}"
        );
    }
}

/// Issue 12: "who is in Tartus now". The feed cut on 22 January, when the expected events have
/// both ships arrived (20 January) and not yet left (25 and 26 January), gives both as open
/// visits; the whole feed gives none; `--limit` keeps the first.
#[test]
fn open_visits_say_who_is_inside_now() {
    let feed = std::fs::read_to_string(fixture("tartus-2025-01/feed.nmea")).unwrap();
    let cut = 1_737_504_000; // 2025-01-22T00:00:00Z
    let early: String = feed
        .lines()
        .filter(|l| {
            let c = l
                .split("c:")
                .nth(1)
                .and_then(|r| r.split(['*', ',']).next());
            c.and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t < cut)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = util::story_events();
    let mut inside: Vec<u64> = expected
        .iter()
        .filter(|e| e["kind"] == "arrival" && e["time"].as_str().unwrap() < "2025-01-22")
        .map(|e| e["mmsi"].as_u64().unwrap())
        .collect();
    inside.sort_unstable();
    assert_eq!(inside.len(), 2, "the story: two ships in port on the 22nd");
    let dir = tempfile::tempdir().unwrap();
    let open_visits = |input: &Path, db: &str, extra: &[&str]| -> Vec<u64> {
        let db = dir.path().join(db);
        util::run_ok(
            bin()
                .args(["replay", "--config"])
                .arg(util::root().join("config/vesselwatch.toml"))
                .arg("--db")
                .arg(&db)
                .arg(input),
        );
        let out = util::run_ok(
            bin()
                .args([
                    "visits",
                    "--open",
                    "--fence",
                    "tartus-port",
                    "--format",
                    "json",
                ])
                .args(extra)
                .arg("--db")
                .arg(&db),
        );
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter().map(|x| x["mmsi"].as_u64().unwrap()).collect()
    };
    let cut_feed = dir.path().join("early.nmea");
    std::fs::write(&cut_feed, early).unwrap();
    assert_eq!(open_visits(&cut_feed, "early.db", &[]), inside);
    // `fences`: every configured fence, the same two inside tartus-port and nobody elsewhere.
    let out = util::run_ok(
        bin()
            .args(["fences", "--format", "json", "--config"])
            .arg(util::root().join("config/vesselwatch.toml"))
            .arg("--db")
            .arg(dir.path().join("early.db")),
    );
    let fences: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let config: toml::Table = toml::from_str(
        &std::fs::read_to_string(util::root().join("config/vesselwatch.toml")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = config["fences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fences
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        names
    );
    for f in &fences {
        let mut got: Vec<u64> = f["inside"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["mmsi"].as_u64().unwrap())
            .collect();
        got.sort_unstable();
        let want = if f["name"] == "tartus-port" {
            inside.clone()
        } else {
            vec![]
        };
        assert_eq!(got, want, "{}", f["name"]);
    }
    assert_eq!(
        open_visits(&cut_feed, "early2.db", &["--limit", "1"]),
        inside[..1]
    );
    assert_eq!(
        open_visits(&fixture("tartus-2025-01/feed.nmea"), "all.db", &[]),
        Vec::<u64>::new()
    );
}

/// Issue 12: events and vessels export as GeoJSON too: a Point per record that has a position,
/// at that position, with the record (as `--format json` prints it) as its properties.
#[test]
fn events_and_vessels_export_as_geojson_points_with_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gj.db");
    util::replay_story(&db);
    let q = |args: &[&str]| -> serde_json::Value {
        serde_json::from_slice(&util::run_ok(bin().args(args).arg("--db").arg(&db)).stdout).unwrap()
    };
    for what in ["events", "vessels"] {
        let records = q(&[what, "--format", "json"]);
        let placed: Vec<&serde_json::Value> = records
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["lat"].is_number() && r["lon"].is_number())
            .collect();
        assert!(!placed.is_empty(), "{what}");
        let gj = q(&[what, "--format", "geojson"]);
        assert_eq!(gj["type"], "FeatureCollection");
        let features = gj["features"].as_array().unwrap();
        assert_eq!(features.len(), placed.len(), "{what}");
        for (f, r) in features.iter().zip(placed) {
            assert_eq!(&f["properties"], r, "{what}");
            assert_eq!(f["geometry"]["type"], "Point");
            assert_eq!(
                f["geometry"]["coordinates"],
                serde_json::json!([r["lon"], r["lat"]])
            );
        }
    }
    let out = bin()
        .args(["visits", "--format", "geojson", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The KML namespace (OGC 07-147r2 §6.1).
const KML: &str = "http://www.opengis.net/kml/2.2";

/// The text of the first descendant of `node` named `tag` in the KML namespace.
fn kml_text<'a>(node: roxmltree::Node<'a, 'a>, tag: &str) -> Option<&'a str> {
    node.descendants()
        .find(|n| n.has_tag_name((KML, tag)))
        .and_then(|n| n.text())
}

/// `lon,lat` tuples of a `<coordinates>` as numbers.
fn kml_coordinates(text: &str) -> Vec<(f64, f64)> {
    text.split_whitespace()
        .map(|t| {
            let (lon, lat) = t.split_once(',').expect("lon,lat");
            (lon.parse().unwrap(), lat.parse().unwrap())
        })
        .collect()
}

/// The JSON lines of a committed query fixture (oracle-checked: tests/oracle.rs).
fn fixture_lines(name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(fixture(&format!("queries/{name}")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue item 1: KML for Google Earth. Read by roxmltree (not the writer), a track is one
/// LineString through the positions of the committed `track.jsonl` (lon,lat, exactly) over the
/// TimeSpan of its first and last fix; one fix is a Point; each event with a position is a Point
/// at its fix with its time, kind, fence and MMSI, as the committed `events.jsonl` has them; and
/// visits, which have no position, are refused with exit 2.
#[test]
fn kml_tracks_and_events_hold_the_fixture_positions_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kml.db");
    util::replay_story(&db);
    let q = |args: &[&str]| -> String {
        String::from_utf8(util::run_ok(bin().args(args).arg("--db").arg(&db)).stdout).unwrap()
    };
    // The track: track.jsonl is `track 273000202 --since 2025-02-04T23:00:00Z`.
    let points = fixture_lines("track.jsonl");
    assert_eq!(points.len(), 6);
    let text = q(&[
        "track",
        "273000202",
        "--since",
        "2025-02-04T23:00:00Z",
        "--format",
        "kml",
    ]);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert!(doc.root_element().has_tag_name((KML, "kml")));
    let marks: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((KML, "Placemark")))
        .collect();
    assert_eq!(marks.len(), 1);
    let line = marks[0]
        .children()
        .find(|n| n.has_tag_name((KML, "LineString")))
        .expect("a LineString");
    let want: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        kml_coordinates(kml_text(line, "coordinates").unwrap()),
        want
    );
    assert_eq!(kml_text(marks[0], "begin"), points[0]["time"].as_str());
    assert_eq!(kml_text(marks[0], "end"), points[5]["time"].as_str());
    // One fix: a Point with a TimeStamp (a LineString needs two positions).
    let last = points[5]["time"].as_str().unwrap();
    let text = q(&["track", "273000202", "--since", last, "--format", "kml"]);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let point = doc
        .descendants()
        .find(|n| n.has_tag_name((KML, "Point")))
        .expect("a Point");
    assert_eq!(
        kml_coordinates(kml_text(point, "coordinates").unwrap()),
        want[5..]
    );
    assert_eq!(kml_text(doc.root(), "when"), Some(last));
    assert!(
        !doc.descendants()
            .any(|n| n.has_tag_name((KML, "LineString")))
    );

    // The events: a Placemark per event with a position, in order.
    let events: Vec<serde_json::Value> = fixture_lines("events.jsonl")
        .into_iter()
        .filter(|e| e["lat"].is_number())
        .collect();
    // Fourteen events, of which the reappearance has no position (lat and lon null).
    assert_eq!(events.len(), 13);
    let text = q(&["events", "--format", "kml"]);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let marks: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((KML, "Placemark")))
        .collect();
    assert_eq!(marks.len(), events.len());
    for (m, e) in marks.iter().zip(&events) {
        let point = m
            .children()
            .find(|n| n.has_tag_name((KML, "Point")))
            .unwrap();
        assert_eq!(
            kml_coordinates(kml_text(point, "coordinates").unwrap()),
            [(e["lon"].as_f64().unwrap(), e["lat"].as_f64().unwrap())],
            "{e}"
        );
        assert_eq!(kml_text(*m, "when"), e["time"].as_str(), "{e}");
        let data = |name: &str| -> Option<&str> {
            m.descendants()
                .find(|n| n.has_tag_name((KML, "Data")) && n.attribute("name") == Some(name))
                .and_then(|d| kml_text(d, "value"))
        };
        assert_eq!(data("kind"), e["kind"].as_str(), "{e}");
        // At sea (loitering) the fence is empty: an empty value, which XML reads as no text.
        assert_eq!(
            data("fence").unwrap_or(""),
            e["fence"].as_str().unwrap(),
            "{e}"
        );
        assert_eq!(data("label"), e["label"].as_str(), "{e}");
        assert_eq!(data("mmsi"), Some(e["mmsi"].to_string().as_str()), "{e}");
    }
    let out = bin()
        .args(["visits", "--format", "kml", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // The refusal names the format asked for, not another.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--format kml is for"), "{err}");
}

/// Issue item 3: every record names its vessel alike. Events, visits and vessels each carry the
/// AIS name and the watchlist label and group, and visits the IMO: the figures of the shipped
/// config's `[[watch]]` entries (matched by IMO) and of the story (SPARTA, SPARTA II). The flag is
/// the ITU's for MID 273: Russian Federation, RU.
#[test]
fn every_record_carries_the_ais_name_the_watchlist_label_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("names.db");
    util::replay_story(&db);
    let config: toml::Table = toml::from_str(
        &std::fs::read_to_string(util::root().join("config/vesselwatch.toml")).unwrap(),
    )
    .unwrap();
    let watch = config["watch"].as_array().unwrap();
    let story = [
        (273_000_201, 9_268_710, "SPARTA"),
        (273_000_202, 9_160_994, "SPARTA II"),
    ];
    for what in ["events", "visits", "vessels"] {
        let out = util::run_ok(bin().args([what, "--format", "json", "--db"]).arg(&db));
        let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!records.is_empty(), "{what}");
        for r in &records {
            let (_, imo, name) = story
                .iter()
                .find(|(m, _, _)| r["mmsi"] == *m)
                .unwrap_or_else(|| panic!("{what}: {r}"));
            let entry = watch
                .iter()
                .find(|w| w.get("imo").and_then(|i| i.as_integer()) == Some(*imo))
                .unwrap();
            assert_eq!(r["imo"], *imo, "{what}: {r}");
            assert_eq!(r["name"], *name, "{what}: {r}");
            assert_eq!(r["label"].as_str(), entry["label"].as_str(), "{what}: {r}");
            assert_eq!(r["group"].as_str(), entry["group"].as_str(), "{what}: {r}");
            if what == "vessels" {
                assert_eq!(r["flag"], "Russian Federation", "{r}");
                assert_eq!(r["flag_code"], "RU", "{r}");
            }
        }
    }
}

/// Issue item 3: `track --help` offers the vessel once, as its argument (in the usage line and
/// the arguments), not also as `--vessel`, and no `--fence`; and it offers KML.
#[test]
fn track_help_names_the_vessel_once_and_offers_kml() {
    let help = String::from_utf8(util::run_ok(bin().args(["track", "--help"])).stdout).unwrap();
    assert_eq!(
        help.matches("<VESSEL>").count(),
        2,
        "usage and argument: {help}"
    );
    assert!(!help.contains("--vessel"), "{help}");
    assert!(!help.contains("--fence"), "{help}");
    assert!(help.contains("kml"), "{help}");
}

/// Issue item 3: `replay` calls its one-line-per-event format `table`, as the queries do; `text`,
/// its old name, still works (scripts) but is not offered.
#[test]
fn replay_format_is_table_and_text_still_works() {
    let feed = fixture("tartus-2025-01/feed.nmea");
    let config = util::root().join("config/vesselwatch.toml");
    let replay = |extra: &[&str]| -> Vec<u8> {
        util::run_ok(
            bin()
                .args(["replay", "--no-store", "--config"])
                .arg(&config)
                .args(extra)
                .arg(&feed),
        )
        .stdout
    };
    let table = replay(&["--format", "table"]);
    // One line per expected event (the oracle-checked expected-events.jsonl).
    assert_eq!(
        String::from_utf8_lossy(&table).lines().count(),
        util::story_events().len()
    );
    assert_eq!(replay(&["--format", "text"]), table);
    assert_eq!(replay(&[]), table);
    let help = String::from_utf8(util::run_ok(bin().args(["replay", "--help"])).stdout).unwrap();
    assert!(help.contains("`table`"), "{help}");
    assert!(!help.contains("text"), "{help}");
}

/// Issue item 2: the progress bar is drawn only on a terminal. With standard error a pipe (as
/// here), standard error is the summary and nothing else, byte for byte. Its figures come from
/// the feed itself: every single-fragment sentence is a position report (a fix), every
/// two-fragment message a static report whose first fragment waits for its second; all are
/// timed by their tag blocks; the events are those of the oracle-checked expected events.
#[test]
fn replay_prints_no_progress_when_stderr_is_not_a_terminal() {
    let feed = fixture("tartus-2025-01/feed.nmea");
    let text = std::fs::read_to_string(&feed).unwrap();
    let fixes = text.lines().filter(|l| l.contains("!AIVDM,1,1,")).count();
    let firsts = text.lines().filter(|l| l.contains("!AIVDM,2,1,")).count();
    let seconds = text.lines().filter(|l| l.contains("!AIVDM,2,2,")).count();
    assert_eq!(fixes + firsts + seconds, text.lines().count());
    let decoded = fixes + seconds;
    let events = util::story_events();
    let mut mmsis: Vec<u64> = events.iter().map(|e| e["mmsi"].as_u64().unwrap()).collect();
    mmsis.sort_unstable();
    mmsis.dedup();
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    let kinds = [
        "present",
        "arrival",
        "departure",
        "dark",
        "reappeared",
        "holding",
        "transit",
        "loitering",
        "identity_change",
        "position_conflict",
        "encounter_started",
        "encounter",
    ]
    .map(|k| format!(" {k} {}", count(k)))
    .concat();
    let want = format!(
        "decoded {decoded}  vessels {}  fixes {fixes}  duplicates 0  stale 0  quarantined 0\n\
         lines: fragment_buffered {firsts}\n\
         clock: stated {decoded}  held 0  rejected ahead 0 behind 0  jumps 0  base-station times ignored 0\n\
         events:{kinds}\n",
        mmsis.len()
    );
    let out = util::run_ok(
        bin()
            .args(["replay", "--no-store", "--config"])
            .arg(util::root().join("config/vesselwatch.toml"))
            .arg(&feed),
    );
    assert_eq!(String::from_utf8(out.stderr).unwrap(), want);
}

/// Issue 13: an encounter is stored once, under the watched vessel, and found from either side:
/// `events --vessel` with the unnamed tanker's MMSI lists the two events of its meeting with
/// Yelnya (the scenario's only meeting; the tanker is not watched, so nothing else is about it),
/// and with Yelnya's they are among hers. The MMSIs are the at-sea scenario's.
#[test]
fn an_encounter_is_found_from_either_vessel() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sea.db");
    util::run_ok(
        bin()
            .args(["replay", "--no-progress", "--db"])
            .arg(&db)
            .arg(util::fixture("at-sea/feed.nmea")),
    );
    let events = |who: &str| -> Vec<serde_json::Value> {
        let out = util::run_ok(
            bin()
                .args(["events", "--vessel", who, "--format", "jsonl", "--db"])
                .arg(&db),
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let tanker = events("636000001");
    let kinds: Vec<&str> = tanker.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["encounter_started", "encounter"]);
    for e in &tanker {
        assert_eq!(e["mmsi"], 273000301);
        assert_eq!(e["encounter"]["other"]["mmsi"], 636000001);
    }
    let yelnya = events("273000301");
    let met: Vec<&serde_json::Value> = yelnya
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("encounter"))
        .collect();
    assert_eq!(met.len(), 2);
    assert_eq!(met[0]["id"], tanker[0]["id"]);
    // A vessel that met no one: none of them.
    assert!(
        events("273000304")
            .iter()
            .all(|e| !e["kind"].as_str().unwrap().starts_with("encounter"))
    );
}
