-- The verification budget of each domain name across all orgs (domain::domains::budget):
-- codes sent and wrong codes entered since window_start. Rows are tiny and one per
-- name ever verified by code.

CREATE TABLE domain_name_budgets (
    name         TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    codes_sent   INTEGER NOT NULL,
    wrong_codes  INTEGER NOT NULL
);
