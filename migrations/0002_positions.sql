-- vesselwatch schema, version 2: the track of each vessel, and the names it has used.

CREATE TABLE positions (
    mmsi        INTEGER NOT NULL,
    time        INTEGER NOT NULL,   -- Unix ms, message time
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    sog         REAL,
    PRIMARY KEY (mmsi, time)
) WITHOUT ROWID;
-- no time index: see retention in the store writer

CREATE TABLE vessel_names (
    mmsi        INTEGER NOT NULL,
    name        TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (mmsi, name)
) WITHOUT ROWID;
