-- W1 floor. Add then remove a member, as two transactions like the API's two requests
-- (autocommit, one statement each). Each pgbench client adds its own spare identity
-- (bench_ids kind 'spare', n = pgbench's client_id) to one of the caller's orgs, only
-- if the caller (pgbench variable "me") holds the memberships-manage permission there.
-- Run by examples/bench_api with pgbench -M prepared. Colons are spelled \x3a (see r1.sql).
\set n random(1, 20)
INSERT INTO org_membership (identity_id, org_id, role, created_at, updated_at)
SELECT s.id, o.id, E'org\x3amember', now(), now()
  FROM bench_ids s, bench_ids o
 WHERE s.kind = 'spare' AND s.n = :client_id
   AND o.kind = 'my_org' AND o.n = :n
   AND EXISTS (SELECT 1
                 FROM org_membership c
                 JOIN role_permissions rp ON rp.role_key = c.role
                WHERE c.org_id = o.id
                  AND c.identity_id = :me
                  AND rp.permission = E'org\x3asys_memberships\x3amanage');
DELETE FROM org_membership m
 USING bench_ids s, bench_ids o
 WHERE s.kind = 'spare' AND s.n = :client_id
   AND o.kind = 'my_org' AND o.n = :n
   AND m.identity_id = s.id AND m.org_id = o.id
   AND EXISTS (SELECT 1
                 FROM org_membership c
                 JOIN role_permissions rp ON rp.role_key = c.role
                WHERE c.org_id = o.id
                  AND c.identity_id = :me
                  AND rp.permission = E'org\x3asys_memberships\x3amanage');
