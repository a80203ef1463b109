-- R3 floor. The caller's (pgbench variable "me") own membership in one of its orgs,
-- with its profile snapshot and its role's permissions. The caller's membership is
-- both the access check and the answer, so one statement.
-- Run by examples/bench_api with pgbench -M prepared. Colons are spelled \x3a (see r1.sql).
\set n random(1, 20)
SELECT m.role, m.public_metadata, m.created_at, m.updated_at, p.traits,
       ARRAY(SELECT rp.permission FROM role_permissions rp
              WHERE rp.role_key = m.role ORDER BY rp.permission) AS permissions
  FROM org_membership m
  LEFT JOIN identity_profiles p ON p.identity_id = m.identity_id
 WHERE m.org_id = (SELECT id FROM bench_ids WHERE kind = 'my_org' AND n = :n)
   AND m.identity_id = :me;
