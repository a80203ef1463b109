-- Verified domains, the enrollment they drive (automatic invitations, suggestions,
-- membership requests), and the verified addresses Polis last saw on each identity.

CREATE TABLE org_domains (
    id                        UUID PRIMARY KEY,
    org_id                    UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- Lower-case ASCII form (IDNA "punycode"), e.g. "acme.com", "xn--bcher-kva.example".
    name                      TEXT NOT NULL,
    enrollment_mode           TEXT NOT NULL CHECK (enrollment_mode IN
                                  ('manual_invitation', 'automatic_invitation', 'automatic_suggestion')),
    -- NULL until verified. How: 'email_code', 'verified_address' (the creator already had a
    -- verified address there), 'import', 'admin' (an admin API key created it).
    verified_at               TIMESTAMPTZ,
    verification_strategy     TEXT,
    -- The affiliation address the last code went to, the code's SHA-256, its expiry and
    -- the failed attempts against it. The code is single-use: cleared once used.
    affiliation_email_address TEXT,
    code_hash                 TEXT,
    code_expires_at           TIMESTAMPTZ,
    code_attempts             INTEGER NOT NULL DEFAULT 0,
    code_sent_at              TIMESTAMPTZ,
    clerk_id                  TEXT,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    CONSTRAINT org_domains_org_name_key UNIQUE (org_id, name),
    CONSTRAINT org_domains_clerk_id_key UNIQUE (clerk_id)
);
-- A name is verified by at most one org of the instance.
CREATE UNIQUE INDEX org_domains_verified_name_key ON org_domains (name) WHERE verified_at IS NOT NULL;
CREATE INDEX org_domains_org_idx ON org_domains (org_id, id);

-- Invitations created by an automatic_invitation domain name it; they are not listed
-- with the org's own invitations, and are withdrawn with the domain's delete_pending.
ALTER TABLE invitations ADD COLUMN domain_id UUID REFERENCES org_domains (id) ON DELETE SET NULL;
CREATE INDEX invitations_domain_idx ON invitations (domain_id) WHERE domain_id IS NOT NULL;

-- Orgs suggested to an identity by an automatic_suggestion domain.
CREATE TABLE org_suggestions (
    id          UUID PRIMARY KEY,
    identity_id UUID NOT NULL,
    org_id      UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    domain_id   UUID REFERENCES org_domains (id) ON DELETE SET NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'withdrawn')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT org_suggestions_identity_org_key UNIQUE (identity_id, org_id)
);
CREATE INDEX org_suggestions_domain_idx ON org_suggestions (domain_id) WHERE domain_id IS NOT NULL;

-- Requests to join, from an accepted suggestion (or imported from Clerk).
CREATE TABLE membership_requests (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    identity_id   UUID NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    suggestion_id UUID REFERENCES org_suggestions (id) ON DELETE SET NULL,
    decided_by    UUID,
    clerk_id      TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT membership_requests_clerk_id_key UNIQUE (clerk_id)
);
-- One pending request per identity and org.
CREATE UNIQUE INDEX membership_requests_pending_key ON membership_requests (org_id, identity_id) WHERE status = 'pending';
CREATE INDEX membership_requests_org_idx ON membership_requests (org_id, status, id);

-- The verified e-mail addresses of each identity, as Polis last saw them in a session:
-- lets a newly verified domain find the identities it enrolls.
CREATE TABLE identity_verified_addresses (
    identity_id UUID NOT NULL,
    address     TEXT NOT NULL,
    -- The part after '@', lower-case ASCII.
    domain      TEXT NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (identity_id, address)
);
CREATE INDEX identity_verified_addresses_domain_idx ON identity_verified_addresses (domain);
