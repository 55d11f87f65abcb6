#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for tests/browser.rs when they are missing: as
# root, or through passwordless sudo. Prints nothing on success; on failure, exits non-zero with
# the reason on stderr, which the test prints as the reason it skips.
set -uo pipefail
have() { command -v chromedriver >/dev/null && command -v chromium >/dev/null; }
have && exit 0
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "chromium and chromium-driver are not installed, and this user cannot install them (not root, no passwordless sudo)" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "chromium and chromium-driver are not installed, and there is no apt-get to install them" >&2; exit 1; }
# One installer at a time, should two test runs start together.
exec 9>"${TMPDIR:-/tmp}/vesselwatch-browser-setup.lock"
flock 9
have && exit 0
{ "${SUDO[@]}" apt-get update -q && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q chromium chromium-driver; } >&2 \
  || { echo "apt-get could not install chromium and chromium-driver" >&2; exit 1; }
have || { echo "chromium or chromedriver is still missing after apt-get install" >&2; exit 1; }
