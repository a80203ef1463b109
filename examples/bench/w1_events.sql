-- W1 floor with the outbox: the W1 floor (w1.sql), each statement also writing its event
-- row (a payload of the size Polis writes, ~700 bytes) and fanning out to the enabled
-- webhook endpoints, in the same statement, as Polis's writable CTE does. Against w1.sql
-- in the same run it is the database's cost of the outbox.
-- Run by examples/bench_api with pgbench -M prepared. Colons are spelled \x3a (see r1.sql).
\set n random(1, 20)
WITH added AS (
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
                    AND rp.permission = E'org\x3asys_memberships\x3amanage')
  RETURNING identity_id, org_id
), recorded AS (
  INSERT INTO events (id, type, occurred_at, org_id, actor_type, actor_id, target_type,
                      target_id, request_id, client_ip, user_agent, data)
  SELECT gen_random_uuid(), 'organizationMembership.created', now(), a.org_id, 'identity',
         :me, 'organization_membership', a.org_id || E'\x3a' || a.identity_id,
         gen_random_uuid()::text, '127.0.0.1', 'bench',
         jsonb_build_object('object', 'organization_membership', 'role', E'org\x3amember',
           'permissions', jsonb_build_array(E'org\x3asys_memberships\x3aread'),
           'public_metadata', '{}'::jsonb, 'private_metadata', '{}'::jsonb,
           'organization', jsonb_build_object('object', 'organization', 'id', a.org_id,
             'name', 'Bench org', 'slug', 'bench-org', 'public_metadata', '{}'::jsonb,
             'private_metadata', '{}'::jsonb, 'created_at', 0, 'updated_at', 0),
           'public_user_data', jsonb_build_object('user_id', a.identity_id,
             'first_name', 'Bench', 'last_name', 'User', 'identifier', 'bench@example.test'),
           'created_at', 0, 'updated_at', 0)
    FROM added a
  RETURNING seq, type
)
INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at,
                                created_at, updated_at)
SELECT w.id, r.seq, 'pending', 0, now(), now(), now()
  FROM webhook_endpoints w, recorded r
 WHERE w.disabled_at IS NULL;
WITH removed AS (
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
                    AND rp.permission = E'org\x3asys_memberships\x3amanage')
  RETURNING m.identity_id, m.org_id
)
INSERT INTO events (id, type, occurred_at, org_id, actor_type, actor_id, target_type,
                    target_id, request_id, client_ip, user_agent, data)
SELECT gen_random_uuid(), 'organizationMembership.deleted', now(), r.org_id, 'identity', :me,
       'organization_membership', r.org_id || E'\x3a' || r.identity_id,
       gen_random_uuid()::text, '127.0.0.1', 'bench',
       jsonb_build_object('object', 'organization_membership', 'role', E'org\x3amember',
         'organization', jsonb_build_object('object', 'organization', 'id', r.org_id,
           'name', 'Bench org', 'slug', 'bench-org'),
         'public_user_data', jsonb_build_object('user_id', r.identity_id,
           'first_name', 'Bench', 'last_name', 'User', 'identifier', 'bench@example.test'),
         'created_at', 0, 'updated_at', 0)
  FROM removed r;
