-- Which worker holds a delivery's lease: a worker records its attempt only while the
-- lease is still its own, so a delivery another process took over after the lease ran
-- out is not recorded twice.
ALTER TABLE webhook_deliveries ADD COLUMN leased_by UUID;

-- Every delivery attempt, for `GET /admin/webhooks/{id}/deliveries`: what was sent
-- when, and what the endpoint answered.
CREATE TABLE webhook_attempts (
    id              UUID PRIMARY KEY,
    endpoint_id     UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq       BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    attempted_at    TIMESTAMPTZ NOT NULL,
    -- The HTTP status, or NULL when no answer came (`error` says why).
    status_code     INTEGER,
    error           TEXT,
    latency_ms      BIGINT NOT NULL,
    -- The first 4 KiB of the answer's body.
    response_body   TEXT,
    -- When the next attempt is due; NULL when this one settled the delivery.
    next_attempt_at TIMESTAMPTZ
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_event_idx ON webhook_attempts (event_seq);
