-- Invitations by e-mail, and the identity profiles Polis last saw in Kratos.

CREATE TABLE invitations (
    id               UUID PRIMARY KEY,
    org_id           UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- Lower-cased; matched case-insensitively against verified Kratos addresses.
    email_address    TEXT NOT NULL,
    -- No foreign key: a role may be deleted once no pending invitation uses it.
    role             TEXT NOT NULL,
    -- Stored state; "expired" is also computed from expires_at when reading.
    status           TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked', 'declined', 'expired')),
    -- SHA-256 of the acceptance token; NULL for invitations without one (imported).
    token_hash       TEXT,
    inviter_id       UUID,
    public_metadata  JSONB NOT NULL DEFAULT '{}',
    private_metadata JSONB NOT NULL DEFAULT '{}',
    redirect_url     TEXT,
    expires_at       TIMESTAMPTZ,
    accepted_by      UUID,
    clerk_id         TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT invitations_token_hash_key UNIQUE (token_hash),
    CONSTRAINT invitations_clerk_id_key UNIQUE (clerk_id)
);
-- One pending invitation per address and org.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (org_id, email_address) WHERE status = 'pending';
CREATE INDEX invitations_org_idx ON invitations (org_id, id);
CREATE INDEX invitations_email_idx ON invitations (email_address, status);

-- A snapshot of each member's Kratos profile, refreshed whenever Polis reads it from
-- Kratos; lets member lists be searched by e-mail or name without asking Kratos.
CREATE TABLE identity_profiles (
    identity_id  UUID PRIMARY KEY,
    email        TEXT,
    -- Lower-cased e-mail, names and username, for ?query= searches.
    search_text  TEXT NOT NULL,
    traits       JSONB NOT NULL DEFAULT '{}',
    refreshed_at TIMESTAMPTZ NOT NULL
);
