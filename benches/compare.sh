#!/usr/bin/env bash
# Decoder throughput comparison, in one run on one machine: vesselwatch against pyais, gpsd's
# gpsdecode and AIS-catcher's Python decoder aiscat, on the same feed of about a million real
# sentences (gpsd's and pyais's samples repeated; see make_feed.sh). Single-threaded, whole
# programs, input from a file, output to /dev/null; the best of three runs each.
#
# Installs its peers itself: gpsd-clients with apt-get (when run as root), pyais and aiscat with pip
# into target/bench-venv. Usage: benches/compare.sh [SENTENCES]
set -euo pipefail
cd "$(dirname "$0")/.."
sentences=${1:-1000000}
work=target/bench-compare
mkdir -p "$work"
feed=$work/feed.nmea

echo "== building vesselwatch (release)" >&2
cargo build --release --quiet
benches/make_feed.sh "$feed" "$sentences"
n=$(wc -l < "$feed")

if ! command -v gpsdecode >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing gpsd-clients" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gpsd-clients >/dev/null
  else
    echo "gpsdecode missing and cannot install it (not root); skipping gpsd" >&2
  fi
fi
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  echo "== installing pyais and aiscat into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyais aiscat
fi
py=$venv/bin/python

python3 - "$feed" "$n" "$py" <<'PY'
import subprocess, sys, time
feed, n, py = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pyais = """
import sys
from pyais.stream import FileReaderStream
for msg in FileReaderStream(sys.argv[1]):
    try:
        msg.decode()
    except Exception:
        pass
"""
aiscat = "import sys, aiscat\nsum(1 for _ in aiscat.from_file(sys.argv[1]))"
runs = [
    ("vesselwatch decode --count", ["./target/release/vesselwatch", "decode", "--count", feed], None),
    ("vesselwatch decode (JSON)", ["./target/release/vesselwatch", "decode", feed], None),
    ("gpsdecode -j", ["gpsdecode", "-j"], feed),
    ("pyais", [py, "-c", pyais, feed], None),
    ("aiscat", [py, "-c", aiscat, feed], None),
]
results = []
for name, cmd, stdin in runs:
    best = None
    for _ in range(3):
        src = open(stdin, "rb") if stdin else subprocess.DEVNULL
        t = time.perf_counter()
        try:
            subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"{name}: not measured ({e})", file=sys.stderr)
            best = None
            break
        t = time.perf_counter() - t
        best = t if best is None else min(best, t)
    if best:
        results.append((name, best))
        print(f"== {name}: {best:.3f} s", file=sys.stderr)
print(f"\n{n} sentences, best of 3 runs, single thread")
print(f"{'decoder':<28} {'seconds':>8} {'sentences/s':>13}")
for name, t in results:
    print(f"{name:<28} {t:>8.3f} {n / t:>13,.0f}")
base = n / results[0][1]
print("\nvesselwatch decode --count is:")
for name, t in results[1:]:
    print(f"  x{base / (n / t):.1f} the rate of {name}")
PY
