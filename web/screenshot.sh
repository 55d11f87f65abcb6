#!/usr/bin/env bash
# Remakes docs/map.png, the README's picture of the map: the browser test's screenshot (the real
# daemon fed the January 2025 fixture, Sparta just arrived at Tartus, clicked).
set -euo pipefail
cd "$(dirname "$0")/.."
VESSELWATCH_SCREENSHOT="$PWD/docs/map.png" cargo test --test browser -- --nocapture
