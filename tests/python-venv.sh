#!/usr/bin/env bash
# Makes the Python virtual environment that tests/daemon.rs uses to parse /metrics with the
# reference OpenMetrics parser (prometheus_client's), and prints the venv's python on stdout.
#
# Once: the venv lives in target/py-venv and is reused while its pinned version is installed.
# Pinned, so that a new parser release cannot change what the test accepts between two runs.
# Fails (non-zero, with the reason on stderr) when python3, venv or pip are missing or the package
# cannot be installed: the test turns that into a failure, never a skipped check.
set -euo pipefail
cd "$(dirname "$0")/.."
PIN="prometheus_client==0.26.0"
VENV="${CARGO_TARGET_DIR:-target}/py-venv"
PY="$VENV/bin/python"
if ! command -v python3 >/dev/null; then
  echo "python3 is not installed (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x "$PY" ] || ! "$PY" -m pip show -q prometheus_client >/dev/null 2>&1 \
  || [ "$("$PY" -c 'import prometheus_client, importlib.metadata as m; print(m.version("prometheus_client"))' 2>/dev/null)" != "${PIN#*==}" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2 || {
    echo "python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
    exit 1
  }
  "$PY" -m pip install -q --disable-pip-version-check "$PIN" >&2 || {
    echo "pip could not install $PIN into $VENV" >&2
    exit 1
  }
fi
echo "$PY"
