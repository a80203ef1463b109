-- R1 floor. The first page of one org's members (50, ordered by identity_id, plus one
-- row to know whether a next page exists) with each member's profile snapshot, only if
-- the caller (pgbench variable "me") holds the memberships-read permission there. One
-- statement holds the org lookup (drawn from bench_ids, as cheap as resolving the org
-- in the path), the access check and the page.
-- Run by examples/bench_api with pgbench -M prepared. pgbench reads any colon followed
-- by a name as a variable, even inside quotes or comments, so role and permission keys
-- spell their colon as \x3a in E strings, and these comments have none.
\set n random(1, 20)
WITH org AS (SELECT id FROM bench_ids WHERE kind = 'my_org' AND n = :n)
SELECT m.identity_id, m.role, m.public_metadata, m.created_at, m.updated_at, p.traits
  FROM org_membership m
  LEFT JOIN identity_profiles p ON p.identity_id = m.identity_id
 WHERE m.org_id = (SELECT id FROM org)
   AND EXISTS (SELECT 1
                 FROM org_membership c
                 JOIN role_permissions rp ON rp.role_key = c.role
                WHERE c.org_id = (SELECT id FROM org)
                  AND c.identity_id = :me
                  AND rp.permission = E'org\x3asys_memberships\x3aread')
 ORDER BY m.identity_id
 LIMIT 51;
