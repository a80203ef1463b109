-- The active organization of each Kratos session (GET/PUT/DELETE /me/active-org).
-- The foreign key to the membership clears the row, in the same statement, when the
-- membership ends or the org is deleted (which deletes its memberships).

CREATE TABLE active_orgs (
    session_id  UUID PRIMARY KEY,
    identity_id UUID NOT NULL,
    org_id      UUID NOT NULL,
    -- When the Kratos session expires; expired rows are never read and are pruned on write.
    expires_at  TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT active_orgs_membership_fkey FOREIGN KEY (identity_id, org_id)
        REFERENCES org_membership (identity_id, org_id) ON DELETE CASCADE
);
-- The cascade looks rows up by membership; pruning by identity.
CREATE INDEX active_orgs_membership_idx ON active_orgs (identity_id, org_id);
