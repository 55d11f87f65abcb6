#!/usr/bin/env bash
# Issue 13's scale benchmark: what looking for encounters costs a replay of 100,000 vessels with
# `vessels = "all"`. The same feed is replayed, in one run of this script, with the shipped config
# (every vessel monitored) as it was before encounters existed (`[detect.encounter]` off) and with
# them on; the best of five wall times (the modes in turns), and the peak memory (max RSS) of each.
#
# The feed is simulated (`vesselwatch simulate`), since no real recording at hand has 100,000
# vessels: half of them lie still in 1,000 clusters of 50 within 5 km (anchorages nobody fenced,
# about one neighbour each within 500 m, so thousands of pairs are followed and many become
# encounters), half sail at 12 kn on headings spread round the compass; a position every 10
# minutes and static data every hour, for three hours (encounters need two).
# Usage: benches/encounters.sh [VESSELS]
set -euo pipefail
cd "$(dirname "$0")/.."
vessels=${1:-100000}
work=target/bench-encounters
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/vesselwatch
command -v /usr/bin/time > /dev/null || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }

python3 - "$work/many.toml" "$vessels" <<'PY'
import math, random, sys
out, n = open(sys.argv[1], "w"), int(sys.argv[2])
rnd = random.Random(13)
out.write('name = "encounters-bench"\nseed = 13\nstart = "2025-01-01T00:00:00Z"\n'
          'end = "2025-01-01T03:00:00Z"\ninterval = "10m"\nstatic_interval = "1h"\n')
clusters = [(rnd.uniform(-50, 60), rnd.uniform(-179, 179)) for _ in range(max(1, n // 100))]
for i in range(n):
    mmsi = 200_000_000 + i
    if i % 2 == 0:
        lat0, lon0 = clusters[(i // 2) % len(clusters)]
        r, a = 5000 * math.sqrt(rnd.random()), rnd.uniform(0, 2 * math.pi)
        lat = lat0 + r * math.cos(a) / 111_195
        lon = lon0 + r * math.sin(a) / (111_195 * math.cos(math.radians(lat0)))
        wp = f'[{{ lat = {lat:.6f}, lon = {lon:.6f} }}]'
    else:
        lat, lon = rnd.uniform(-50, 60), rnd.uniform(-179, 179)
        a = rnd.uniform(0, 2 * math.pi)
        lat1 = lat + 40_000 * math.cos(a) / 111_195
        lon1 = lon + 40_000 * math.sin(a) / (111_195 * math.cos(math.radians(lat)))
        wp = (f'[{{ lat = {lat:.6f}, lon = {lon:.6f} }}, '
              f'{{ lat = {lat1:.6f}, lon = {lon1:.6f}, speed_kn = 12 }}]')
    out.write(f'[[vessels]]\nmmsi = {mmsi}\nname = "V{i}"\nnoise_m = 5\nwaypoints = {wp}\n')
PY
"$bin" simulate "$work/many.toml" -o "$work/many.nmea"
sentences=$(wc -l < "$work/many.nmea")

shipped=config/vesselwatch.toml
sed 's/^vessels = "watchlist"/vessels = "all"/' "$shipped" > "$work/on.toml"
# Off: the [detect.encounter] section's `enabled = true` (the first `enabled` after its header).
awk '/^\[detect.encounter\]/ { inside = 1 } inside && /^enabled = true/ { $0 = "enabled = false"; inside = 0 } { print }' \
  "$work/on.toml" > "$work/off.toml"
# Fence files are relative to the config: the copies sit beside a link to them.
ln -sfn "$PWD/config/fences" "$work/fences"
grep -q '^vessels = "all"' "$work/on.toml" && grep -q '^enabled = false' "$work/off.toml"

# Wall time is noisy on a shared machine (runs of one binary vary by a third here): the two modes
# run in turns, five times each, and each keeps its best; then the max RSS of one more run each.
python3 - "$bin" "$work" <<'PY'
import subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
best = {}
for _ in range(5):
    for mode in ("off", "on"):
        cmd = [bin, "replay", "--no-store", "--speed", "max", "--config", f"{work}/{mode}.toml", f"{work}/many.nmea"]
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best[mode] = min(best.get(mode, 1e9), time.perf_counter() - t)
for mode, t in best.items():
    open(f"{work}/{mode}.best", "w").write(f"{t:.3f}")
PY
for mode in off on; do
  /usr/bin/time -o "$work/$mode.time" -f "%M" \
    "$bin" replay --no-store --speed max --config "$work/$mode.toml" "$work/many.nmea" \
    2> "$work/$mode.summary" > /dev/null
  echo "$(cat "$work/$mode.best") $(cat "$work/$mode.time")" > "$work/$mode.result"
done
python3 - "$work" "$sentences" "$vessels" <<'PY'
import re, sys
work, n, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res = {m: open(f"{work}/{m}.result").read().split() for m in ("off", "on")}
events = {m: re.search(r"encounter_started (\d+) encounter (\d+)", open(f"{work}/{m}.summary").read()) for m in res}
print(f"{n:,} sentences, {v:,} vessels, vessels = \"all\"; best of 5 wall times, in turns")
for m, label in (("off", "encounters off (as before issue 13)"), ("on", "encounters on")):
    t, rss = float(res[m][0]), int(res[m][1])
    e = events[m]
    print(f"{label:38} {t:7.3f} s {n / t:12,.0f} sentences/s  max RSS {rss / 1024:7.1f} MiB"
          f"  ({rss * 1024 / v:5.0f} bytes/vessel)  encounter_started {e.group(1)}, encounter {e.group(2)}")
off, on = float(res["off"][0]), float(res["on"][0])
print(f"throughput with encounters: {100 * off / on:.0f}% of without (goal: at least 70%)")
print(f"memory for encounters: {(int(res['on'][1]) - int(res['off'][1])) * 1024 / v:.0f} bytes/vessel")
PY
