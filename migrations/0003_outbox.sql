-- vesselwatch schema, version 3: the webhook outbox. An alert row is written in the same
-- transaction as its event; the delivery worker moves it on only when the endpoint accepted it.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    webhook         TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events (id),
    event_time      INTEGER NOT NULL,   -- Unix ms, message time: the delivery order
    created         INTEGER NOT NULL,   -- Unix ms, wall clock: `max_age` counts from here
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | failed | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    INTEGER NOT NULL DEFAULT 0,       -- Unix ms, wall clock
    last_status     INTEGER,            -- HTTP status of the last attempt
    last_error      TEXT,
    delivered       INTEGER,            -- Unix ms, wall clock
    UNIQUE (webhook, event_id)
);
CREATE INDEX alerts_queue ON alerts (webhook, status, event_time, id);

CREATE TABLE webhooks (
    name            TEXT PRIMARY KEY,
    disabled        INTEGER NOT NULL DEFAULT 0,  -- set on 410 Gone
    reason          TEXT,
    updated         INTEGER NOT NULL
);
