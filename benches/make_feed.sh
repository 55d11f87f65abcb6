#!/usr/bin/env bash
# Writes a benchmark feed of about a million sentences: gpsd's and pyais's real samples, AIS
# sentences only (comments and other sentences dropped, so every peer sees the same input),
# repeated. Usage: benches/make_feed.sh OUT [TARGET_SENTENCES]
set -euo pipefail
out=$1
target=${2:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
one=$(mktemp)
grep -h -a -E '^!AIVD[MO],' \
  "$here/fixtures/conformance/sample.aivdm" \
  "$here/fixtures/conformance/ais-nmea.log" \
  "$here/fixtures/conformance/ais-18-27.log" \
  "$here/fixtures/conformance/ais-raw-messages.log" \
  "$here/fixtures/pyais/nmea_data_sample.txt" | sed 's/[[:space:]]*$//' > "$one"
n=$(wc -l < "$one")
: > "$out"
reps=$(( (target + n - 1) / n ))
for _ in $(seq "$reps"); do cat "$one"; done > "$out"
rm -f "$one"
echo "$(wc -l < "$out") sentences in $out" >&2
