-- Verification codes of domain names: the budget of each name across all orgs
-- (domain::domains::budget), codes sent and wrong codes entered since window_start;
-- one tiny row per name ever sent a code. And which domain a queued code e-mail is for.

CREATE TABLE domain_name_budgets (
    name         TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    codes_sent   INTEGER NOT NULL,
    wrong_codes  INTEGER NOT NULL
);

-- The domain whose verification code an e-mail carries: a code replaced or used has its
-- queued e-mail withdrawn, and a deleted domain takes its e-mails with it.
ALTER TABLE email_outbox ADD COLUMN domain_id BLOB REFERENCES org_domains (id) ON DELETE CASCADE;
CREATE INDEX email_outbox_domain_idx ON email_outbox (domain_id) WHERE domain_id IS NOT NULL;
