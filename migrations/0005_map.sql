-- vesselwatch schema, version 5: what the map draws of each vessel's latest report (course,
-- heading, speed, status, the fix's time) and a change counter, so that the map's live stream
-- reads only the vessels changed since its last look, in any process that reads the file.

ALTER TABLE vessels ADD COLUMN cog REAL;
ALTER TABLE vessels ADD COLUMN heading INTEGER;
ALTER TABLE vessels ADD COLUMN sog REAL;
ALTER TABLE vessels ADD COLUMN status INTEGER;
ALTER TABLE vessels ADD COLUMN fix_time INTEGER;   -- Unix ms, message time of (lat, lon)
ALTER TABLE vessels ADD COLUMN changed INTEGER;    -- the batch that last wrote the row: 1, 2, ...
CREATE INDEX vessels_changed ON vessels (changed);
