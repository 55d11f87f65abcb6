// vesselwatch's map: fences, every vessel's latest report, the events as they happen, a vessel's
// identity, visits and track, and a time slider over what the database holds.
//
// Plain JavaScript, no framework and no build step: the page is this file, index.html and
// style.css, served from the binary with the vendored MapLibre GL JS. Vessels are features of
// one GeoJSON source drawn by WebGL layers (not one DOM element per ship), updated by diffs from
// the server's stream: 50,000 ships stay smooth and each second carries only what changed.
import * as maplibregl from './maplibre-gl.mjs';

const $ = (id) => document.getElementById(id);
const EVENTS_SHOWN = 200;
const ARROWS_FROM = 7; // the zoom from which vessels are arrows

// The page's state, on `window.vw` for the end-to-end test and for people poking at it.
const vw = {
  map: null,
  live: new Map(),        // mmsi -> dot: the fleet as the stream says it is now
  shown: 'live',          // 'live', or the time (ms) the slider shows
  events: [],             // newest first, as listed
  liveEvents: [],         // the live list, kept while the slider shows the past
  selected: null,         // mmsi of the vessel whose panel is open
  trackPoints: 0,         // positions in the drawn track
  updates: 0,             // stream updates applied
  windowMs: 86400000,
  span: null,             // [from, to] ms: what the database holds
  ready: false,           // the first fleet has been drawn
  messages: 0,            // stream messages received, and stream errors (reconnections)
  streamErrors: 0,
  streamBytes: 0,         // the stream's message data received, in characters
  firstDrawMs: null,      // from navigation start to the first fleet drawn
};
window.vw = vw;

const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z') : '—');
const name = (d) => d.label || d.name || String(d.mmsi);

async function json(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

// --- the basemap: Natural Earth countries, 1:50m at once, 1:10m when the map is idle ---------

// world-atlas is made for d3-geo's sphere: a ring may cross the antimeridian (Chukotka, Fiji)
// and rings are wound clockwise. Drawn flat as they are, such a ring spans the world and fills the
// sea with slabs of land. So each ring is unwrapped (longitudes made continuous, past ±180 where
// it crosses: MapLibre wraps them) and wound as RFC 7946 says; latitudes are kept inside Web
// Mercator's ±85°.
function unwrap(line) {
  let shift = 0;
  return line.map(([x, y], i) => {
    if (i > 0) {
      const prev = line[i - 1][0];
      if (x - prev > 180) shift -= 360;
      else if (x - prev < -180) shift += 360;
    }
    return [x + shift, Math.max(-85, Math.min(85, y))];
  });
}

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    a += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return a / 2; // positive: counter-clockwise
}

function rewindPolygon(rings) {
  return rings.map((r, i) => {
    const ring = unwrap(r);
    const ccw = ringArea(ring) > 0;
    return (i === 0) === ccw ? ring : ring.reverse();
  });
}

function rewind(fc) {
  for (const f of fc.features ?? [fc]) {
    const g = f.geometry;
    if (g?.type === 'Polygon') g.coordinates = rewindPolygon(g.coordinates);
    if (g?.type === 'MultiPolygon') g.coordinates = g.coordinates.map(rewindPolygon);
  }
  return fc;
}

function basemap(topo) {
  const countries = topo.objects.countries;
  return {
    land: rewind(topojson.feature(topo, topo.objects.land || countries)),
    borders: (() => {
      const m = topojson.mesh(topo, countries, (a, b) => a !== b);
      m.coordinates = m.coordinates.map(unwrap);
      return m;
    })(),
  };
}

async function loadBasemap(map, file) {
  const topo = await json(`static/${file}`);
  const { land, borders } = basemap(topo);
  map.getSource('land').setData(land);
  map.getSource('borders').setData(borders);
}

// --- vessels ----------------------------------------------------------------------------------

// Colour by the tens of the ship type (ITU-R M.1371): what a watcher tells apart first.
const TYPE_COLOUR = ['match', ['get', 'kind'],
  3, '#7d5ba6', 5, '#7d5ba6', 6, '#1f6feb', 7, '#2e8b57', 8, '#c0392b', '#6c7a89'];

function feature(d) {
  return {
    type: 'Feature',
    id: d.mmsi,
    geometry: { type: 'Point', coordinates: [d.lon, d.lat] },
    properties: {
      mmsi: d.mmsi,
      course: d.course ?? -1,
      kind: d.shiptype ? Math.floor(d.shiptype / 10) : 0,
      watched: d.label ? 1 : 0,
    },
  };
}

function arrowImage() {
  const s = 32;
  const c = document.createElement('canvas');
  c.width = c.height = s;
  const g = c.getContext('2d');
  g.fillStyle = '#000';
  g.beginPath();
  g.moveTo(s / 2, 2);
  g.lineTo(s - 7, s - 4);
  g.lineTo(s / 2, s - 11);
  g.lineTo(7, s - 4);
  g.closePath();
  g.fill();
  return g.getImageData(0, 0, s, s);
}

const labels = new Map(); // mmsi -> Marker: the watched vessels' names

function label(d) {
  let m = labels.get(d.mmsi);
  if (!d.label) {
    if (m) { m.remove(); labels.delete(d.mmsi); }
    return;
  }
  if (!m) {
    const el = document.createElement('div');
    el.className = 'vessel-label';
    el.textContent = d.label;
    el.dataset.mmsi = d.mmsi;
    m = new maplibregl.Marker({ element: el, anchor: 'left' });
    labels.set(d.mmsi, m);
    m.setLngLat([d.lon, d.lat]).addTo(vw.map);
  } else {
    m.setLngLat([d.lon, d.lat]);
  }
}

function showFleet(dots) {
  for (const m of labels.values()) m.remove();
  labels.clear();
  const list = [...dots];
  vw.map.getSource('vessels').setData({ type: 'FeatureCollection', features: list.map(feature) });
  list.forEach(label);
  $('count').textContent = `${list.length.toLocaleString()} vessels`;
}

// The fleet's newest report time (kept as reports come, not scanned: 50,000 dates a second cost
// the page tens of milliseconds): vessels a window older are dropped, as the server would.
let newestReport = 0;
function noteReports(dots) {
  for (const d of dots) newestReport = Math.max(newestReport, Date.parse(d.time));
  return newestReport;
}

function expire() {
  if (vw.shown !== 'live') return;
  const limit = newestReport - vw.windowMs;
  const gone = [];
  for (const [mmsi, d] of vw.live) if (Date.parse(d.time) < limit) gone.push(mmsi);
  if (!gone.length) return;
  gone.forEach((m) => { vw.live.delete(m); label({ mmsi: m }); });
  vw.map.getSource('vessels').updateData({ remove: gone });
  $('count').textContent = `${vw.live.size.toLocaleString()} vessels`;
}

// --- events -----------------------------------------------------------------------------------

function eventItem(e) {
  const li = document.createElement('li');
  li.className = e.kind;
  li.dataset.id = e.id;
  const k = document.createElement('span');
  k.className = 'kind';
  k.textContent = e.kind;
  const who = document.createElement('span');
  who.className = 'who';
  // Detections at sea have no fence; an identity change says what changed, an encounter with whom.
  const met = e.encounter && (e.encounter.other.label || e.encounter.other.name || e.encounter.other.mmsi);
  const where = e.fence
    || (e.change ? `${e.change.field} ${e.change.old} → ${e.change.new}` : null)
    || (met ? `with ${met}` : 'at sea');
  who.textContent = `${e.label || e.name || e.mmsi} · ${where}`;
  const t = document.createElement('time');
  t.dateTime = e.time;
  t.textContent = fmtTime(e.time);
  li.append(k, who, t);
  li.addEventListener('click', () => {
    document.querySelectorAll('#events li.selected').forEach((x) => x.classList.remove('selected'));
    li.classList.add('selected');
    if (e.lat != null && e.lon != null) {
      vw.map.flyTo({ center: [e.lon, e.lat], zoom: Math.max(vw.map.getZoom(), 11) });
      new maplibregl.Popup({ closeButton: true })
        .setLngLat([e.lon, e.lat])
        .setText(`${e.kind}: ${e.label || e.name || e.mmsi} at ${e.fence}, ${fmtTime(e.time)}`)
        .addTo(vw.map);
    }
    select(e.mmsi);
  });
  return li;
}

function showEvents(list) {
  vw.events = list.slice(0, EVENTS_SHOWN);
  $('events').replaceChildren(...vw.events.map(eventItem));
}

// New events, oldest first, onto the top of the list.
function addEvents(records) {
  if (!records.length) return;
  const known = new Set(vw.liveEvents.map((e) => e.id));
  // Records come oldest stored first: reversed, so that events of the same time are listed
  // newest stored first, as the API's newest-first order has them.
  const fresh = records.filter((e) => !known.has(e.id)).reverse();
  // Newest by event time: a replay of last month stores old events after new ones.
  vw.liveEvents = fresh.concat(vw.liveEvents)
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, EVENTS_SHOWN);
  if (vw.shown === 'live') showEvents(vw.liveEvents);
}

// --- a vessel's panel: identity, visits, track ------------------------------------------------

function identityRow(dl, k, v) {
  if (v == null || v === '') return;
  const dt = document.createElement('dt');
  dt.textContent = k;
  const dd = document.createElement('dd');
  dd.textContent = v;
  dl.append(dt, dd);
}

async function select(mmsi) {
  vw.selected = mmsi;
  vw.map.setFilter('selected', ['==', ['get', 'mmsi'], mmsi]);
  $('vessel').hidden = false;
  const [v] = await json(`api/vessels?vessel=${mmsi}&limit=1`).catch(() => []);
  if (vw.selected !== mmsi) return;
  const dot = vw.live.get(mmsi);
  $('vessel-name').textContent = v ? (dot?.label ? `${dot.label} (${v.name || mmsi})` : v.name || mmsi) : mmsi;
  const dl = $('vessel-identity');
  dl.replaceChildren();
  if (v) {
    identityRow(dl, 'MMSI', v.mmsi);
    identityRow(dl, 'IMO', v.imo);
    identityRow(dl, 'call sign', v.callsign);
    identityRow(dl, 'type', v.shiptype_text ?? v.shiptype);
    identityRow(dl, 'flag', v.flag);
    identityRow(dl, 'watch', dot?.label && (dot.group ? `${dot.label} (${dot.group})` : dot.label));
    identityRow(dl, 'last report', fmtTime(v.last_seen));
    if (dot) identityRow(dl, 'position', `${dot.lat.toFixed(5)}, ${dot.lon.toFixed(5)}`);
    if (dot?.sog != null) identityRow(dl, 'speed', `${dot.sog} kn`);
    if (dot?.course != null) identityRow(dl, 'course', `${dot.course}°`);
    if (v.names && v.names.length > 1) identityRow(dl, 'names', v.names.join(', '));
  }
  // Oldest first from the API: the newest 50 are its end.
  const visits = await json(`api/visits?vessel=${mmsi}&limit=5000`).catch(() => []);
  if (vw.selected !== mmsi) return;
  $('visits').tBodies[0].replaceChildren(...visits.slice(-50).reverse().map((x) => {
    const tr = document.createElement('tr');
    for (const c of [x.fence, fmtTime(x.arrival), x.departure ? fmtTime(x.departure) : 'in port']) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    return tr;
  }));
  await drawTrack(v ? Date.parse(v.last_seen) : Date.now());
}

async function drawTrack(lastReport) {
  const mmsi = vw.selected;
  if (mmsi == null) return;
  const period = $('period').value;
  const until = vw.shown === 'live' ? lastReport : vw.shown;
  // Spread over the period: a month of ten-second reports is 260,000 positions.
  let q = `points=2000&limit=5000&until=${new Date(until + 1).toISOString()}`;
  if (period) q += `&since=${new Date(until - Number(period)).toISOString()}`;
  const track = await json(`api/vessels/${mmsi}/track?${q}`).catch(() => null);
  if (vw.selected !== mmsi) return;
  const empty = { type: 'FeatureCollection', features: [] };
  vw.map.getSource('track').setData(track || empty);
  const g = track?.features?.[0]?.geometry ?? track?.geometry;
  vw.trackPoints = !g ? 0 : g.type === 'Point' ? 1 : g.coordinates.length;
  $('track-points').textContent = `${vw.trackPoints} positions`;
}

function closeVessel() {
  vw.selected = null;
  vw.trackPoints = 0;
  $('vessel').hidden = true;
  vw.map.setFilter('selected', ['==', ['get', 'mmsi'], -1]);
  vw.map.getSource('track').setData({ type: 'FeatureCollection', features: [] });
}

// --- the time slider --------------------------------------------------------------------------

function setSpan(from, to) {
  vw.span = [from, to];
  const s = $('slider');
  s.min = from;
  s.max = to;
  s.step = 60000;
  if (vw.shown === 'live') s.value = to;
  $('time').hidden = false;
}

let sliderTimer = null;
function onSlider() {
  const t = Number($('slider').value);
  $('slider-time').textContent = fmtTime(new Date(t).toISOString());
  clearTimeout(sliderTimer);
  sliderTimer = setTimeout(() => showAt(t).catch((e) => {
    $('status').textContent = `cannot show ${fmtTime(new Date(t).toISOString())}: ${e.message}`;
    $('status').className = 'status down';
  }), 200);
}

async function showAt(t) {
  if (vw.span && t >= vw.span[1] && vw.shown === 'live') return;
  const r = await json(`api/map/at?time=${new Date(t).toISOString()}`);
  vw.shown = t;
  $('status').textContent = `as of ${fmtTime(r.time)}`;
  $('status').className = 'status history';
  showFleet(r.vessels);
  showEvents(r.events);
  if (vw.selected != null) drawTrack(t);
}

function goLive() {
  vw.shown = 'live';
  if (vw.span) $('slider').value = vw.span[1];
  $('slider-time').textContent = '';
  showFleet(vw.live.values());
  showEvents(vw.liveEvents);
  status();
}

// --- the stream -------------------------------------------------------------------------------

let connected = false;
function status() {
  if (vw.shown !== 'live') return;
  const s = $('status');
  s.className = `status ${connected ? 'live' : 'down'}`;
  // `serve` over a database no pipeline writes: it follows the file, which may not change.
  s.textContent = connected ? (vw.pipeline ? 'live' : 'following the database') : 'reconnecting…';
}

function follow() {
  let incoming = null;
  const es = new EventSource('api/stream');
  es.addEventListener('fleet', (e) => {
    vw.messages += 1;
    vw.streamBytes += e.data.length;
    incoming ??= new Map();
    for (const d of JSON.parse(e.data).vessels) incoming.set(d.mmsi, d);
  });
  es.addEventListener('ready', (e) => {
    vw.messages += 1;
    vw.streamBytes += e.data.length;
    vw.live = incoming ?? new Map();
    incoming = null;
    newestReport = 0;
    noteReports(vw.live.values());
    vw.liveEvents = [];
    addEvents(JSON.parse(e.data).events);
    if (vw.shown === 'live') showFleet(vw.live.values());
    connected = true;
    vw.ready = true;
    if (vw.firstDrawMs == null) vw.map.once('idle', () => { vw.firstDrawMs = performance.now(); });
    status();
  });
  es.addEventListener('update', (e) => {
    vw.messages += 1;
    vw.streamBytes += e.data.length;
    const u = JSON.parse(e.data);
    connected = true;
    for (const d of u.vessels) vw.live.set(d.mmsi, d);
    if (vw.shown === 'live' && u.vessels.length) {
      vw.map.getSource('vessels').updateData({ add: u.vessels.map(feature) });
      u.vessels.forEach(label);
      $('count').textContent = `${vw.live.size.toLocaleString()} vessels`;
    }
    addEvents(u.events);
    const t = noteReports(u.vessels);
    if (vw.span && t > vw.span[1]) setSpan(vw.span[0], t);
    vw.updates += 1;
    status();
  });
  es.addEventListener('open', () => { connected = true; status(); });
  es.addEventListener('error', () => { vw.streamErrors += 1; connected = false; status(); });
}

// --- start ------------------------------------------------------------------------------------

async function start() {
  const info = await json('api/map');
  vw.windowMs = info.window_s * 1000;
  vw.pipeline = info.live;
  const sources = {
    land: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    borders: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    fences: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    vessels: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    track: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
  };
  const layers = [{ id: 'sea', type: 'background', paint: { 'background-color': '#cfe3ef' } }];
  if (info.tiles) {
    sources.tiles = {
      type: 'raster', tiles: [info.tiles], tileSize: 256, maxzoom: 19,
      attribution: info.tiles_attribution || '',
    };
    layers.push({ id: 'tiles', type: 'raster', source: 'tiles' });
  } else {
    layers.push(
      { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': '#f4f1ea' } },
      { id: 'coast', type: 'line', source: 'land', paint: { 'line-color': '#8aa6b8', 'line-width': 0.8 } },
      { id: 'borders', type: 'line', source: 'borders', paint: { 'line-color': '#b9a9a0', 'line-width': 0.8, 'line-dasharray': [3, 2] } },
    );
  }
  layers.push(
    { id: 'fence-fill', type: 'fill', source: 'fences', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#1f6feb', 'fill-opacity': 0.08 } },
    { id: 'fence-line', type: 'line', source: 'fences', paint: { 'line-color': '#1f6feb', 'line-width': ['match', ['get', 'kind'], 'gate', 3, 1.5], 'line-dasharray': ['match', ['get', 'kind'], 'gate', ['literal', [1]], ['literal', [2, 1]]] } },
    { id: 'track', type: 'line', source: 'track', paint: { 'line-color': '#e67e22', 'line-width': 2.5 } },
    { id: 'track-point', type: 'circle', source: 'track', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 5, 'circle-color': '#e67e22' } },
    // Zoomed out, every vessel is a dot: 50,000 arrows (a symbol layer, placed each frame) drew
    // at a quarter of the frame rate of 50,000 circles. Arrows from zoom 7, where a ship's way
    // can be told and far fewer are in view.
    { id: 'vessels-far', type: 'circle', source: 'vessels', maxzoom: ARROWS_FROM, paint: { 'circle-radius': ['case', ['==', ['get', 'watched'], 1], 4.5, 2.2], 'circle-color': ['case', ['==', ['get', 'watched'], 1], '#ff4500', TYPE_COLOUR] } },
    { id: 'vessels-still', type: 'circle', source: 'vessels', minzoom: ARROWS_FROM, filter: ['<', ['get', 'course'], 0], paint: { 'circle-radius': ['case', ['==', ['get', 'watched'], 1], 5, 3.5], 'circle-color': ['case', ['==', ['get', 'watched'], 1], '#ff4500', TYPE_COLOUR], 'circle-stroke-color': '#fff', 'circle-stroke-width': 0.8 } },
    { id: 'vessels', type: 'symbol', source: 'vessels', minzoom: ARROWS_FROM, filter: ['>=', ['get', 'course'], 0], layout: { 'icon-image': 'arrow', 'icon-rotate': ['get', 'course'], 'icon-rotation-alignment': 'map', 'icon-allow-overlap': true, 'icon-ignore-placement': true, 'icon-size': ['case', ['==', ['get', 'watched'], 1], 0.75, 0.5] }, paint: { 'icon-color': ['case', ['==', ['get', 'watched'], 1], '#ff4500', TYPE_COLOUR], 'icon-halo-color': '#fff', 'icon-halo-width': 1 } },
    { id: 'selected', type: 'circle', source: 'vessels', filter: ['==', ['get', 'mmsi'], -1], paint: { 'circle-radius': 12, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#e67e22', 'circle-stroke-width': 2.5 } },
  );
  const map = new maplibregl.Map({
    container: 'map',
    style: { version: 8, sources, layers },
    center: [35.85, 34.9],
    zoom: 9,
    attributionControl: { compact: true, customAttribution: info.tiles ? undefined : 'Natural Earth' },
  });
  vw.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: true }), 'top-left');
  map.addControl(new maplibregl.ScaleControl({ unit: 'nautical' }));
  map.on('styleimagemissing', (e) => {
    if (e.id === 'arrow' && !map.hasImage('arrow')) map.addImage('arrow', arrowImage(), { sdf: true });
  });
  await new Promise((ok) => map.once('load', ok));
  if (!map.hasImage('arrow')) map.addImage('arrow', arrowImage(), { sdf: true });
  // The fleet and the basemap load side by side: the vessels need not wait for the coastlines.
  follow();
  if (!info.tiles) {
    loadBasemap(map, 'countries-50m.json')
      .then(() => map.once('idle', () => loadBasemap(map, 'countries-10m.json')
        .catch((e) => console.error('basemap 1:10m', e))))
      .catch((e) => console.error('basemap 1:50m', e));
  }
  // Fences: names on the map, and the view opens on them.
  const fences = await json('api/fences');
  map.getSource('fences').setData(fences);
  const bounds = new maplibregl.LngLatBounds();
  for (const f of fences.features) {
    const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]
      : f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates[0][0]
      : f.geometry.type === 'LineString' ? f.geometry.coordinates : [];
    if (!ring.length) continue;
    // A loop, not Math.min(...xs): spreading a million-vertex fence overflows the stack.
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of ring) {
      w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
    }
    bounds.extend([w, s]);
    bounds.extend([e, n]);
    const el = document.createElement('div');
    el.className = 'fence-label';
    el.textContent = f.properties.name;
    new maplibregl.Marker({ element: el })
      .setLngLat([(w + e) / 2, n])
      .setOffset([0, -8])
      .addTo(map);
  }
  if (!bounds.isEmpty()) map.fitBounds(bounds, { padding: 40, duration: 0, maxZoom: 12 });

  const pick = (e) => {
    const f = e.features?.[0];
    if (f) select(f.properties.mmsi);
  };
  for (const layer of ['vessels', 'vessels-still', 'vessels-far']) {
    map.on('click', layer, pick);
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  $('vessel-close').addEventListener('click', closeVessel);
  $('period').addEventListener('change', () => {
    const d = vw.live.get(vw.selected);
    drawTrack(d ? Date.parse(d.time) : Date.now());
  });
  if (info.span) setSpan(Date.parse(info.span.from), Date.parse(info.span.to));
  $('slider').addEventListener('input', onSlider);
  $('live').addEventListener('click', goLive);
  setInterval(expire, 10000);
}

start().catch((e) => {
  console.error(e);
  $('status').textContent = `failed: ${e.message}`;
  $('status').className = 'status down';
});
