-- C1 floor. One permission check: the org (drawn from bench_ids, as cheap as resolving the
-- org a check names), the caller's (pgbench variable "me") membership in it and its role's
-- permissions, in one statement, as POST /authz/check reads them.
-- Run by examples/bench_api with pgbench -M prepared (see r1.sql about colons).
\set n random(1, 20)
SELECT o.id, o.slug, m.role, rp.permission
  FROM orgs o
  LEFT JOIN org_membership m ON m.org_id = o.id AND m.identity_id = :me
  LEFT JOIN role_permissions rp ON rp.role_key = m.role
 WHERE o.id = (SELECT id FROM bench_ids WHERE kind = 'my_org' AND n = :n);
