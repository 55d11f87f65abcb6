-- vesselwatch schema, version 6: an encounter is found from either of its two vessels. The event
-- is stored once, under the vessel it is about; this index finds it by the other one too, so that
-- `events --vessel X` (and the API's `vessel=`) lists the meetings X was the other side of.
CREATE INDEX events_other_mmsi ON events (json_extract(record, '$.encounter.other.mmsi'))
    WHERE kind IN ('encounter_started', 'encounter');
