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
-- The queue of each endpoint, in delivery order: only undelivered rows, so the head is one seek.
CREATE INDEX alerts_queue ON alerts (webhook, event_time, id) WHERE status IN ('pending', 'failed');
CREATE INDEX alerts_status ON alerts (status);

CREATE TABLE webhooks (
    name            TEXT PRIMARY KEY,
    disabled        INTEGER NOT NULL DEFAULT 0,  -- set on 410 Gone
    reason          TEXT,
    updated         INTEGER NOT NULL
);
