-- C10 floor. Ten permission checks at once: ten consecutive orgs of the caller's (pgbench
-- variable "me"), its membership in each and its roles' permissions, in one statement.
-- Run by examples/bench_api with pgbench -M prepared (see r1.sql about colons).
\set n random(1, 11)
SELECT o.id, o.slug, m.role, rp.permission
  FROM orgs o
  LEFT JOIN org_membership m ON m.org_id = o.id AND m.identity_id = :me
  LEFT JOIN role_permissions rp ON rp.role_key = m.role
 WHERE o.id IN (SELECT id FROM bench_ids WHERE kind = 'my_org' AND n BETWEEN :n AND :n + 9);
