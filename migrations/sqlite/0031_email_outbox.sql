-- E-mails waiting to be sent, written in the same transaction as the change that sends
-- them (an invitation, a domain verification code): a mail exists if and only if its
-- change committed. A worker claims due rows with a lease (one writer at a time), sends
-- them over SMTP and records the outcome while it still holds the lease.
-- SQLite: UUIDs are 16-byte BLOBs, timestamps RFC 3339 TEXT, JSON TEXT.

CREATE TABLE email_outbox (
    id              BLOB PRIMARY KEY,
    recipient       TEXT NOT NULL,
    -- BCP-47 tag choosing the templates' language; NULL: English.
    locale          TEXT,
    -- The message (see domain::email::EmailMessage), tagged by "template". Its secret
    -- (the acceptance link's token, the verification code) is replaced by "<redacted>"
    -- once the row is sent, failed or cancelled.
    message         TEXT NOT NULL,
    invitation_id   BLOB REFERENCES invitations (id) ON DELETE CASCADE,
    -- queued: waiting (or retrying); sending: claimed by a worker until leased_until;
    -- sent; failed: retried until given up; cancelled: its invitation was revoked or
    -- its link replaced before it went out.
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    leased_until    TEXT,
    leased_by       BLOB,
    last_error      TEXT,
    sent_at         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX email_outbox_invitation_idx ON email_outbox (invitation_id) WHERE invitation_id IS NOT NULL;
CREATE INDEX email_outbox_created_idx ON email_outbox (created_at);

-- The language of an invitation's e-mails (BCP-47), and when its last e-mail was queued
-- (resends are limited by it).
ALTER TABLE invitations ADD COLUMN locale TEXT;
ALTER TABLE invitations ADD COLUMN email_queued_at TEXT;
