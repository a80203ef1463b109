/**
 * An in-memory stand-in for the Polis HTTP API, for component tests: it answers the routes
 * the components call with the server's shapes and problem codes, and records every request.
 * The real server is exercised by the browser test (e2e/), not here.
 */
import type { components } from "@polis/client";

import { compile, json, page, params, problem, type FakeRequest, type Handler, type Reply, type Route } from "./fakeHttp.js";
import { JoiningState } from "./fakeJoining.js";

export { json, problem } from "./fakeHttp.js";
export type { Reply } from "./fakeHttp.js";

type S = components["schemas"];
type Org = S["OrgResponse"];
type Role = S["RoleResponse"];
type Invitation = S["InvitationResponse"];

export const ALICE = "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11";
export const BOB = "8c1f2a0b-5d4e-4f6a-b7c8-9d0e1f2a3b4c";
export const CAROL = "8a2791bb-9a45-4c0a-bf0e-174b32143e96";

export const PEOPLE: Record<string, Record<string, string>> = {
  [ALICE]: { email: "alice@example.com", first_name: "Alice", last_name: "Ng" },
  [BOB]: { email: "bob@example.com", first_name: "Bob", last_name: "Stone" },
  [CAROL]: { email: "carol@example.com", first_name: "Carol", last_name: "Diaz" },
};

const ALL_SYSTEM = [
  "org:sys_domains:manage",
  "org:sys_domains:read",
  "org:sys_memberships:manage",
  "org:sys_memberships:read",
  "org:sys_profile:delete",
  "org:sys_profile:manage",
];
export const NOW = "2026-11-01T10:00:00Z";

export const ROLES: Role[] = [
  role("org:admin", "Admin", ALL_SYSTEM),
  role("org:member", "Member", ["org:sys_memberships:read"]),
  // Manages the profile and members but may not delete the org.
  role("org:manager", "Manager", ["org:sys_memberships:manage", "org:sys_memberships:read", "org:sys_profile:manage"]),
  // Sees the members and the verified domains, changes nothing.
  role("org:auditor", "Auditor", ["org:sys_memberships:read", "org:sys_domains:read"]),
];

function role(key: string, name: string, permissions: string[]): Role {
  return { key, name, description: null, permissions, created_at: NOW, updated_at: NOW };
}

type Request = FakeRequest;

interface MembershipRow {
  org_id: string;
  identity_id: string;
  role: string;
  created_at: string;
}

export class FakePolis {
  /** Who is calling. */
  me = ALICE;
  orgs: Org[] = [];
  memberships: MembershipRow[] = [];
  invitations: Invitation[] = [];
  requests: Request[] = [];
  /** Verified domains, suggestions and requests to join. */
  readonly joining = new JoiningState(this);
  private overrides: { method: string; pattern: RegExp; keys: string[]; handler: Handler; once: boolean }[] = [];
  private seq = 0;

  /** Answers `method pattern` (`/orgs/:org`) with `handler` before the built-in routes. */
  on(method: string, pattern: string, handler: Handler, { once = false } = {}): this {
    const { regex, keys } = compile(pattern);
    this.overrides.push({ method, pattern: regex, keys, handler, once });
    return this;
  }

  addOrg(name: string, slug: string, members: [string, string][]): Org {
    const org: Org = {
      id: this.uuid(),
      name,
      slug,
      image_url: null,
      public_metadata: {},
      max_allowed_memberships: 0,
      members_count: 0,
      created_by: members[0]?.[0] ?? null,
      clerk_id: null,
      created_at: NOW,
      updated_at: NOW,
    };
    this.orgs.push(org);
    for (const [identity_id, roleKey] of members) {
      this.memberships.push({ org_id: org.id, identity_id, role: roleKey, created_at: NOW });
    }
    return org;
  }

  invite(org: Org, email: string, roleKey = "org:member"): Invitation {
    const invitation: Invitation = {
      id: this.uuid(),
      org_id: org.id,
      email_address: email,
      role: roleKey,
      status: "pending",
      public_metadata: {},
      inviter_id: ALICE,
      redirect_url: null,
      expires_at: "2026-12-01T10:00:00Z",
      locale: null,
      created_at: NOW,
      updated_at: NOW,
    };
    this.invitations.push(invitation);
    return invitation;
  }

  /** The requests made to `method path` (path without the query). */
  calls(method: string, path: string): Request[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new globalThis.Request(input, init);
    const url = new URL(request.url);
    const text = await request.text();
    const call: Request = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined,
      headers: request.headers,
    };
    this.requests.push(call);
    const reply = await this.route(call);
    if (reply.status === 204) return new Response(null, { status: 204 });
    const type = reply.status >= 400 ? "application/problem+json" : "application/json";
    return new Response(JSON.stringify(reply.body), {
      status: reply.status,
      headers: { "Content-Type": type, ...reply.headers },
    });
  };

  private async route(call: Request): Promise<Reply> {
    for (const [index, override] of this.overrides.entries()) {
      const match = override.method === call.method ? override.pattern.exec(call.path) : null;
      if (!match) continue;
      if (override.once) this.overrides.splice(index, 1);
      return override.handler(call, params(override.keys, match));
    }
    for (const [method, pattern, handler] of [...this.builtIn, ...this.joining.routes]) {
      const { regex, keys } = compile(pattern);
      const match = method === call.method ? regex.exec(call.path) : null;
      if (match) return handler(call, params(keys, match));
    }
    return problem(404, "route_not_found");
  }

  uuid(): string {
    this.seq += 1;
    return `00000000-0000-7000-8000-${String(this.seq).padStart(12, "0")}`;
  }

  private orgOf(ref: string): Org | undefined {
    const org = this.orgs.find((o) => o.id === ref || o.slug === ref);
    return org && this.memberships.some((m) => m.org_id === org.id && m.identity_id === this.me) ? org : undefined;
  }

  permissionsIn(org: Org): string[] {
    const mine = this.memberships.find((m) => m.org_id === org.id && m.identity_id === this.me);
    return ROLES.find((r) => r.key === mine?.role)?.permissions ?? [];
  }

  private withCount(org: Org): Org {
    return { ...org, members_count: this.memberships.filter((m) => m.org_id === org.id).length };
  }

  membership(row: MembershipRow) {
    return {
      ...row,
      permissions: ROLES.find((r) => r.key === row.role)?.permissions ?? [],
      public_metadata: {},
      updated_at: NOW,
      identity: { id: row.identity_id, traits: PEOPLE[row.identity_id] ?? {} },
    };
  }

  /** Whether removing or demoting `identity` would leave `org` with no one who manages members. */
  private lastManager(org: Org, identity: string, newRole?: string): boolean {
    const manages = (roleKey: string) =>
      ROLES.find((r) => r.key === roleKey)?.permissions.includes("org:sys_memberships:manage") ?? false;
    const after = this.memberships
      .filter((m) => m.org_id === org.id)
      .filter((m) => m.identity_id !== identity || newRole !== undefined)
      .map((m) => (m.identity_id === identity && newRole ? newRole : m.role));
    return !after.some(manages);
  }

  /** Guards an org route: 404 for non-members, 403 without `permission`. */
  guard(ref: string, permission?: string): Org | Reply {
    const org = this.orgOf(ref);
    if (!org) return problem(404, "org_not_found");
    if (permission && !this.permissionsIn(org).includes(permission)) return problem(403, "forbidden");
    return org;
  }

  private readonly builtIn: Route[] = [
    ["GET", "/roles", () => json(200, { data: ROLES })],
    [
      "GET",
      "/me/memberships",
      (r) => {
        const rows = this.memberships
          .filter((m) => m.identity_id === this.me)
          .map((m) => {
            const org = this.orgs.find((o) => o.id === m.org_id) as Org;
            return { ...this.membership(m), org: summary(org) };
          });
        return json(200, page(rows, r.query));
      },
    ],
    [
      "GET",
      "/me/invitations",
      (r) => {
        const email = PEOPLE[this.me]?.email;
        const rows = this.invitations
          .filter((i) => i.email_address === email && i.status === "pending")
          .map((i) => ({ ...i, org: summary(this.orgs.find((o) => o.id === i.org_id) as Org) }));
        return json(200, page(rows, r.query));
      },
    ],
    [
      "POST",
      "/me/invitations/:id/accept",
      (_r, p) => {
        const invitation = this.invitations.find((i) => i.id === p.id);
        if (!invitation) return problem(404, "invitation_not_found");
        if (invitation.status !== "pending") return problem(409, "invitation_not_pending");
        invitation.status = "accepted";
        const row = { org_id: invitation.org_id, identity_id: this.me, role: invitation.role, created_at: NOW };
        this.memberships.push(row);
        return json(201, this.membership(row));
      },
    ],
    [
      "POST",
      "/me/invitations/:id/decline",
      (_r, p) => {
        const invitation = this.invitations.find((i) => i.id === p.id);
        if (!invitation) return problem(404, "invitation_not_found");
        invitation.status = "declined";
        return json(200, invitation);
      },
    ],
    [
      "POST",
      "/orgs",
      (r) => {
        const body = r.body as { name: string; slug?: string };
        const slug = body.slug ?? body.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
        if (this.orgs.some((o) => o.slug === slug)) return problem(409, "slug_taken");
        const org = this.addOrg(body.name, slug, [[this.me, "org:admin"]]);
        return json(201, this.withCount(org));
      },
    ],
    [
      "GET",
      "/orgs/:org",
      (_r, p) => {
        const org = this.guard(p.org ?? "");
        return "status" in org ? org : json(200, this.withCount(org));
      },
    ],
    [
      "PATCH",
      "/orgs/:org",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_profile:manage");
        if ("status" in org) return org;
        const body = r.body as Partial<Org>;
        if (body.slug && this.orgs.some((o) => o.slug === body.slug && o.id !== org.id)) {
          return problem(409, "slug_taken");
        }
        Object.assign(org, body);
        return json(200, this.withCount(org));
      },
    ],
    [
      "DELETE",
      "/orgs/:org",
      (_r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_profile:delete");
        if ("status" in org) return org;
        this.orgs = this.orgs.filter((o) => o.id !== org.id);
        this.memberships = this.memberships.filter((m) => m.org_id !== org.id);
        return { status: 204 };
      },
    ],
    [
      "GET",
      "/orgs/:org/members",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:read");
        if ("status" in org) return org;
        const query = r.query.get("query")?.toLowerCase() ?? "";
        const roleKey = r.query.get("role");
        const rows = this.memberships
          .filter((m) => m.org_id === org.id)
          .filter((m) => !roleKey || m.role === roleKey)
          .filter((m) => !query || Object.values(PEOPLE[m.identity_id] ?? {}).some((v) => v.toLowerCase().includes(query)))
          .map((m) => this.membership(m));
        return json(200, page(rows, r.query));
      },
    ],
    [
      "PATCH",
      "/orgs/:org/members/:id",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        const row = this.memberships.find((m) => m.org_id === org.id && m.identity_id === p.id);
        if (!row) return problem(404, "member_not_found");
        const newRole = (r.body as { role: string }).role;
        if (this.lastManager(org, row.identity_id, newRole)) return problem(409, "last_admin");
        row.role = newRole;
        return json(200, this.membership(row));
      },
    ],
    [
      "DELETE",
      "/orgs/:org/members/:id",
      (_r, p) => {
        const self = p.id === this.me;
        const org = this.guard(p.org ?? "", self ? undefined : "org:sys_memberships:manage");
        if ("status" in org) return org;
        if (!this.memberships.some((m) => m.org_id === org.id && m.identity_id === p.id)) {
          return problem(404, "member_not_found");
        }
        if (this.lastManager(org, p.id ?? "")) return problem(409, "last_admin");
        this.memberships = this.memberships.filter((m) => !(m.org_id === org.id && m.identity_id === p.id));
        return { status: 204 };
      },
    ],
    [
      "GET",
      "/orgs/:org/invitations",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        const status = r.query.get("status");
        const rows = this.invitations.filter((i) => i.org_id === org.id && (!status || i.status === status));
        return json(200, page(rows, r.query));
      },
    ],
    [
      "POST",
      "/orgs/:org/invitations",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        return this.createInvitations(org, [r.body as { email_address: string; role?: string }], false);
      },
    ],
    [
      "POST",
      "/orgs/:org/invitations/bulk",
      (r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        return this.createInvitations(org, r.body as { email_address: string; role?: string }[], true);
      },
    ],
    [
      "POST",
      "/orgs/:org/invitations/:id/revoke",
      (_r, p) => {
        const org = this.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        const invitation = this.invitations.find((i) => i.id === p.id && i.org_id === org.id);
        if (!invitation) return problem(404, "invitation_not_found");
        if (invitation.status !== "pending") return problem(409, "invitation_not_pending");
        invitation.status = "revoked";
        return json(200, invitation);
      },
    ],
  ];

  private createInvitations(org: Org, bodies: { email_address: string; role?: string }[], bulk: boolean): Reply {
    const pending = (email: string) =>
      this.invitations.some((i) => i.org_id === org.id && i.email_address === email && i.status === "pending");
    if (bodies.some((b) => pending(b.email_address.toLowerCase()))) return problem(409, "invitation_exists");
    const created = bodies.map((b) => ({
      ...this.invite(org, b.email_address.toLowerCase(), b.role ?? "org:member"),
      token: "secret-token",
      url: null,
      email_sent: false,
    }));
    return bulk ? json(201, { data: created }) : json(201, created[0]);
  }
}

export function summary(org: Org) {
  return { id: org.id, name: org.name, slug: org.slug, image_url: org.image_url };
}
