-- The domains whose recorded identities are still to be enrolled. The transaction that
-- verifies a domain, or switches a verified one to an automatic mode, requests it here;
-- a background worker in some replica claims the row with a lease, enrolls the domain's
-- identities in small transactions, and deletes the row once done. `generation` grows
-- with each request, so a request made while a run is under way is not lost with it.

CREATE TABLE domain_enrollments (
    domain_id    UUID PRIMARY KEY REFERENCES org_domains (id) ON DELETE CASCADE,
    generation   INTEGER NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    leased_by    UUID,
    leased_until TIMESTAMPTZ
);
