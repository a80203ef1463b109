-- R2 floor. The caller's (pgbench variable "me") memberships, ordered by org id, each
-- with its org's summary (first page of 50, plus one row to know whether a next page
-- exists). No access check is needed beyond being the caller.
-- Run by examples/bench_api with pgbench -M prepared. Colons are spelled \x3a (see r1.sql).
SELECT o.id, o.name, o.slug, o.image_url,
       m.role, m.public_metadata, m.created_at, m.updated_at
  FROM org_membership m
  JOIN orgs o ON o.id = m.org_id
 WHERE m.identity_id = :me
 ORDER BY m.org_id
 LIMIT 51;
