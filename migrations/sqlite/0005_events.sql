-- Every committed change is an event, written in the same transaction as the change
-- (the outbox). The events are also the audit log, so they keep no foreign key: they
-- outlive the orgs and memberships they describe.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    org_id      BLOB,
    actor_type  TEXT NOT NULL CHECK (actor_type IN ('identity', 'api_key', 'import', 'system')),
    actor_id    TEXT,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    request_id  TEXT,
    client_ip   TEXT,
    user_agent  TEXT,
    -- The event's `data` as webhooks send it (Clerk's shapes), private metadata included.
    data        TEXT NOT NULL
);
CREATE INDEX events_org_idx ON events (org_id, seq);
CREATE INDEX events_occurred_idx ON events (occurred_at);

-- Webhook endpoints, managed by admin API keys.
CREATE TABLE webhook_endpoints (
    id                   BLOB PRIMARY KEY,
    url                  TEXT NOT NULL,
    description          TEXT,
    -- `whsec_` + base64 of the key; the previous one signs too until it expires.
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_expires_at  TEXT,
    disabled_at          TEXT,
    disabled_reason      TEXT,
    -- Since when every delivery has failed (NULL: the last one succeeded).
    failing_since        TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

-- The event types an endpoint receives; none listed: every type.
CREATE TABLE webhook_endpoint_types (
    endpoint_id BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, type)
);

-- One row per (endpoint, event) to deliver, written with the event (fan-out in the same
-- transaction), so that no event committed is ever missed by an endpoint that existed.
CREATE TABLE webhook_deliveries (
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'given_up')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- A worker holds the delivery until then (a crashed worker's lease runs out).
    leased_until    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_seq)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_seq);
