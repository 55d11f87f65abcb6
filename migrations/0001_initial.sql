-- vesselwatch schema, version 1: what the movement engine decides, and its state for exact resume.

CREATE TABLE vessels (
    mmsi        INTEGER PRIMARY KEY,
    imo         INTEGER,
    name        TEXT,
    callsign    TEXT,
    shiptype    INTEGER,
    first_seen  INTEGER NOT NULL,   -- Unix ms, message time
    last_seen   INTEGER NOT NULL,
    lat         REAL,               -- last accepted fix
    lon         REAL
);
CREATE INDEX vessels_imo ON vessels (imo);
CREATE INDEX vessels_name ON vessels (name);

CREATE TABLE fences (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    definition  TEXT NOT NULL,      -- the fence's config and geometry, as JSON
    hash        TEXT NOT NULL,      -- of `definition`: an edit is noticed at open
    updated     INTEGER NOT NULL    -- Unix ms, wall clock, when the definition last changed
);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,   -- the engine's stable id: replaying twice never duplicates
    kind        TEXT NOT NULL,
    time        INTEGER NOT NULL,   -- Unix ms, message time
    mmsi        INTEGER NOT NULL,
    fence       TEXT NOT NULL,
    record      TEXT NOT NULL       -- the event's JSON, exactly as `replay --format jsonl` prints it
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_mmsi_time ON events (mmsi, time);
CREATE INDEX events_fence_time ON events (fence, time);

CREATE TABLE visits (
    id              INTEGER PRIMARY KEY,
    mmsi            INTEGER NOT NULL,
    fence           TEXT NOT NULL,
    arrival         INTEGER,        -- Unix ms; the crossing time, or when first seen present
    arrival_event   TEXT,
    present_at_start INTEGER NOT NULL DEFAULT 0,  -- already inside when first seen
    departure       INTEGER,        -- NULL while the visit is open
    departure_event TEXT,
    inferred        INTEGER NOT NULL DEFAULT 0    -- departure inferred across an AIS gap
);
CREATE INDEX visits_mmsi_fence ON visits (mmsi, fence, departure);
CREATE INDEX visits_fence_arrival ON visits (fence, arrival);

-- The engine's state: one row per vessel (fence = '') and one per (vessel, fence).
CREATE TABLE engine_state (
    mmsi        INTEGER NOT NULL,
    fence       TEXT NOT NULL,
    state       TEXT NOT NULL,      -- JSON
    PRIMARY KEY (mmsi, fence)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    feed        TEXT PRIMARY KEY,   -- a source name or an input path
    position    INTEGER NOT NULL,   -- bytes read
    message_time INTEGER,           -- latest message time seen
    updated     INTEGER NOT NULL    -- Unix ms, wall clock
);

CREATE TABLE engine_clock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    clock       INTEGER NOT NULL
);
