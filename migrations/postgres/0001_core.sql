-- Organizations, the role catalog, memberships and API keys.

CREATE TABLE orgs (
    id                      UUID PRIMARY KEY,
    name                    TEXT NOT NULL,
    slug                    TEXT NOT NULL,
    image_url               TEXT,
    public_metadata         JSONB NOT NULL DEFAULT '{}',
    private_metadata        JSONB NOT NULL DEFAULT '{}',
    max_allowed_memberships INTEGER NOT NULL DEFAULT 0 CHECK (max_allowed_memberships >= 0),
    created_by              UUID,
    clerk_id                TEXT,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CONSTRAINT orgs_slug_key UNIQUE (slug),
    CONSTRAINT orgs_clerk_id_key UNIQUE (clerk_id)
);

CREATE TABLE roles (
    key         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE role_permissions (
    role_key   TEXT NOT NULL REFERENCES roles (key) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_key, permission)
);
-- "Which roles can manage members?" is asked by every last-admin check.
CREATE INDEX role_permissions_permission_idx ON role_permissions (permission, role_key);

CREATE TABLE org_membership (
    identity_id      UUID NOT NULL,
    org_id           UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    role             TEXT NOT NULL REFERENCES roles (key),
    public_metadata  JSONB NOT NULL DEFAULT '{}',
    private_metadata JSONB NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT org_membership_pkey PRIMARY KEY (identity_id, org_id)
);
-- Member lists page by (org_id, identity_id); role filters and role_in_use use role.
CREATE INDEX org_membership_org_idx ON org_membership (org_id, identity_id);
CREATE INDEX org_membership_role_idx ON org_membership (role, org_id);

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('admin', 'read')),
    secret_hash TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

INSERT INTO roles (key, name, description, created_at, updated_at) VALUES
    ('org:admin', 'Admin', 'Manages the organization, its profile and its members', now(), now()),
    ('org:member', 'Member', 'Belongs to the organization and can see its members', now(), now());

INSERT INTO role_permissions (role_key, permission) VALUES
    ('org:admin', 'org:sys_profile:manage'),
    ('org:admin', 'org:sys_profile:delete'),
    ('org:admin', 'org:sys_memberships:read'),
    ('org:admin', 'org:sys_memberships:manage'),
    ('org:admin', 'org:sys_domains:read'),
    ('org:admin', 'org:sys_domains:manage'),
    ('org:admin', 'org:sys_billing:read'),
    ('org:admin', 'org:sys_billing:manage'),
    ('org:member', 'org:sys_memberships:read');
