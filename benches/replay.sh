#!/usr/bin/env bash
# Movement-engine benchmarks, whole program, single thread:
#  1. `replay --speed max` on about a million real sentences (gpsd's and pyais's samples repeated,
#     see make_feed.sh) with the shipped fences plus 1,000 extra port fences and every vessel
#     monitored, beside `decode --count` on the same feed;
#  2. peak memory (max RSS) of a replay that tracks 100,000 distinct vessels.
# The summary of each replay goes to $work/*.summary.
# Usage: benches/replay.sh [SENTENCES]
set -euo pipefail
cd "$(dirname "$0")/.."
sentences=${1:-1000000}
work=target/bench-replay
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/vesselwatch
benches/make_feed.sh "$work/plain.nmea" "$sentences"
# Log timestamps, 50 ms apart, so that the engine sees time moving forward as in a real recording
# (the samples repeat every ~1,500 lines, i.e. every ~75 s: longer than the duplicate window).
awk '{ printf "%d %s\n", 1700000000000 + NR * 50, $0 }' "$work/plain.nmea" > "$work/feed.nmea"

# The shipped config with every vessel monitored and 1,000 extra port fences (2 km circles) on a
# grid over the feed's waters (North America's east coast and north-west Europe) and the world.
python3 - "$work/bench.toml" "$PWD/config" <<'PY'
import sys
out, cfgdir = sys.argv[1], sys.argv[2]
shipped = open(f"{cfgdir}/vesselwatch.toml").read()
body = shipped[shipped.index("[[fences]]"):].replace('geojson = "fences/', f'geojson = "{cfgdir}/fences/')
lines = ['[monitor]', 'vessels = "all"', '', body]
n = 0
areas = [(36.0, 45.0, -77.0, -66.0), (50.0, 60.0, -6.0, 12.0), (-60.0, 70.0, -180.0, 180.0)]
per = [400, 400, 200]
for (la0, la1, lo0, lo1), k in zip(areas, per):
    side = int(k ** 0.5) + 1
    for i in range(side):
        for j in range(side):
            if n >= sum(per[: areas.index((la0, la1, lo0, lo1)) + 1]):
                break
            lat = la0 + (la1 - la0) * (i + 0.5) / side
            lon = lo0 + (lo1 - lo0) * (j + 0.5) / side
            lines.append(f'[[fences]]\nname = "bench-{n}"\nkind = "port"\ncenter = {{ lat = {lat:.4f}, lon = {lon:.4f} }}\nradius_km = 2\n')
            n += 1
open(out, "w").write("\n".join(lines))
print(f"{n} extra fences", file=sys.stderr)
PY
"$bin" check-config "$work/bench.toml"

best() { # best wall time of three runs of "$@", output discarded
  python3 - "$@" <<'PY'
import subprocess, sys, time
best = None
for _ in range(3):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t
    best = t if best is None else min(best, t)
print(f"{best:.3f}")
PY
}
n=$(wc -l < "$work/feed.nmea")
td=$(best "$bin" decode --count "$work/feed.nmea")
tr=$(best "$bin" replay --no-store --speed max --config "$work/bench.toml" "$work/feed.nmea")
# With the store: a fresh database each run (a second run into the same one would resume, not work).
ts=$(best sh -c "rm -f '$work'/s.db*; exec '$bin' replay --db '$work/s.db' --speed max --config '$work/bench.toml' '$work/feed.nmea'")
python3 -c "
n, td, tr, ts = $n, $td, $tr, $ts
print(f'{n} sentences, best of 3')
print(f'decode --count                                 {td:7.3f} s {n/td:12,.0f} sentences/s')
print(f'replay --speed max, all vessels, +1000 fences  {tr:7.3f} s {n/tr:12,.0f} sentences/s')
print(f'  the same, recording into SQLite              {ts:7.3f} s {n/ts:12,.0f} sentences/s')
"

# 100,000 distinct vessels: a scenario with one position and one static report each.
python3 - "$work/many.toml" <<'PY'
import sys
out = open(sys.argv[1], "w")
out.write('name = "many"\nseed = 1\nstart = "2025-01-01T00:00:00Z"\nend = "2025-01-01T00:01:00Z"\ninterval = "1h"\nstatic_interval = "1h"\n')
for i in range(100_000):
    lat = -60 + (i % 1000) * 0.12
    lon = -179 + (i // 1000) * 3.5
    out.write(f'[[vessels]]\nmmsi = {200_000_000 + i}\nname = "V{i}"\nwaypoints = [{{ lat = {lat:.3f}, lon = {lon:.3f} }}]\n')
PY
"$bin" simulate "$work/many.toml" -o "$work/many.nmea"
"$bin" replay --no-store --speed max --config "$work/bench.toml" "$work/feed.nmea" 2> "$work/feed.summary" >/dev/null
echo "replay of the feed: $(head -1 "$work/feed.summary")"
/usr/bin/time -o "$work/many.time" -f "100,000 vessels: max RSS %M KB, %e s" \
  "$bin" replay --no-store --speed max --config "$work/bench.toml" "$work/many.nmea" 2> "$work/many.summary" >/dev/null
echo "$(cat "$work/many.time")  ($(head -1 "$work/many.summary"))"
