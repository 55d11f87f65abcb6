#!/usr/bin/env bash
# Vendors the map's third-party assets from npm, at the versions package-lock.json pins, into
# web/vendor/ (committed, and compiled into the binary by src/daemon/web.rs): `cargo build` needs
# no network and no Node.js. Run it after changing a version in package.json, and commit
# web/vendor/ with package-lock.json.
#
#   maplibre-gl      the map (WebGL), BSD-3-Clause
#   topojson-client  TopoJSON to GeoJSON in the page, ISC
#   world-atlas      Natural Earth 1:50m and 1:10m countries as TopoJSON, ISC (the data: public domain)
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
npm ci --ignore-scripts --no-audit --no-fund >&2
rm -rf vendor && mkdir -p vendor
m=node_modules/maplibre-gl
# The source-map comment would send a browser with its developer tools open after a file the
# binary does not carry: drop it.
for f in maplibre-gl.mjs maplibre-gl-worker.mjs; do
  sed '/^\/\/# sourceMappingURL=/d' "$m/dist/$f" > "vendor/$f"
done
cp "$m/dist/maplibre-gl.css" vendor/
cp "$m/LICENSE.txt" vendor/LICENSE-maplibre-gl.txt
cp node_modules/topojson-client/dist/topojson-client.min.js vendor/
cp node_modules/topojson-client/LICENSE vendor/LICENSE-topojson-client.txt
cp node_modules/world-atlas/countries-50m.json node_modules/world-atlas/countries-10m.json vendor/
cp node_modules/world-atlas/LICENSE vendor/LICENSE-world-atlas.txt
# Stored gzipped (-n: no name or time, so a rebuild is byte-identical): the binary carries them
# so and serves them so to every browser; compressing 6 MB at request time held a runtime worker
# for seconds in a debug build.
gzip -9 -n vendor/*.mjs vendor/*.css vendor/*.json
{
  echo "Made by web/build.sh from npm; do not edit. Versions:"
  for p in maplibre-gl topojson-client world-atlas; do
    echo "  $p $(node -p "require('./node_modules/$p/package.json').version")"
  done
  echo "countries-*.json: Natural Earth (naturalearthdata.com), public domain, via world-atlas."
} > vendor/VERSIONS.txt
ls -l vendor >&2
