/**
 * Joining by verified domain in the fake Polis API: an org's domains with e-mail code
 * verification, the suggestions they make, and the requests to join that accepting one
 * makes, with the server's shapes, permissions and problem codes.
 */
import type { components } from "@polis/client";

import { json, page, problem, type Reply, type Route } from "./fakeHttp.js";
import { PEOPLE, summary, type FakePolis } from "./fakePolis.js";

type S = components["schemas"];
type Domain = S["DomainResponse"];
type Org = S["OrgResponse"];

/** The code every verification e-mail of the fake carries. */
export const FAKE_CODE = "493027";
const MAX_ATTEMPTS = 5;
const BLOCKED = ["gmail.com", "outlook.com", "yahoo.com"];

interface FakeDomain extends Domain {
  code: string | null;
}
interface FakeSuggestion {
  id: string;
  identity_id: string;
  org_id: string;
  domain_id: string | null;
  status: S["SuggestionStatus"];
}
interface FakeRequestToJoin {
  id: string;
  identity_id: string;
  org_id: string;
  status: S["RequestStatus"];
  created_at: string;
}

export class JoiningState {
  domains: FakeDomain[] = [];
  suggestions: FakeSuggestion[] = [];
  requests: FakeRequestToJoin[] = [];

  constructor(private readonly polis: FakePolis) {}

  addDomain(
    org: Org,
    name: string,
    { verified = false, mode = "manual_invitation" }: { verified?: boolean; mode?: S["EnrollmentMode"] } = {},
  ): FakeDomain {
    const now = new Date().toISOString();
    const domain: FakeDomain = {
      id: this.polis.uuid(),
      org_id: org.id,
      name,
      enrollment_mode: mode,
      verified,
      affiliation_email_address: null,
      verification: {
        status: verified ? "verified" : "unverified",
        strategy: verified ? "admin" : null,
        attempts: 0,
        expires_at: null,
        verified_at: verified ? now : null,
      },
      total_pending_invitations: 0,
      total_pending_suggestions: 0,
      created_at: now,
      updated_at: now,
      code: null,
    };
    this.domains.push(domain);
    return domain;
  }

  suggest(org: Org, identity: string, domain?: FakeDomain): FakeSuggestion {
    const suggestion: FakeSuggestion = {
      id: this.polis.uuid(),
      identity_id: identity,
      org_id: org.id,
      domain_id: domain?.id ?? null,
      status: "pending",
    };
    this.suggestions.push(suggestion);
    return suggestion;
  }

  requestToJoin(org: Org, identity: string): FakeRequestToJoin {
    const request: FakeRequestToJoin = {
      id: this.polis.uuid(),
      identity_id: identity,
      org_id: org.id,
      status: "pending",
      created_at: "2026-11-02T09:30:00Z",
    };
    this.requests.push(request);
    return request;
  }

  /** A domain as the server shows it: its status at this moment, no code. */
  private view(domain: FakeDomain): Domain {
    const { code, ...shown } = domain;
    const expired = code !== null && domain.verification.expires_at !== null && Date.parse(domain.verification.expires_at) <= Date.now();
    const status = domain.verified
      ? "verified"
      : domain.verification.attempts >= MAX_ATTEMPTS
        ? "failed"
        : expired
          ? "expired"
          : "unverified";
    const pendingSuggestions = this.suggestions.filter((s) => s.domain_id === domain.id && s.status === "pending").length;
    return {
      ...shown,
      verification: { ...domain.verification, status },
      total_pending_suggestions: pendingSuggestions,
    };
  }

  private isMember(orgId: string, identity: string): boolean {
    return this.polis.memberships.some((m) => m.org_id === orgId && m.identity_id === identity);
  }

  /** The org, or the reply that refuses: reading domains needs either domains permission. */
  private domainsOrg(ref: string, manage: boolean): Org | Reply {
    const org = this.polis.guard(ref);
    if ("status" in org) return org;
    const permissions = this.polis.permissionsIn(org);
    const allowed = manage
      ? permissions.includes("org:sys_domains:manage")
      : permissions.some((p) => p === "org:sys_domains:manage" || p === "org:sys_domains:read");
    return allowed ? org : problem(403, "forbidden");
  }

  private domainOf(ref: string, id: string | undefined, manage: boolean): FakeDomain | Reply {
    const org = this.domainsOrg(ref, manage);
    if ("status" in org) return org;
    const domain = this.domains.find((d) => d.id === id && d.org_id === org.id);
    return domain ?? problem(404, "domain_not_found");
  }

  private withdrawPending(domain: FakeDomain): void {
    for (const s of this.suggestions) if (s.domain_id === domain.id && s.status === "pending") s.status = "withdrawn";
    domain.total_pending_invitations = 0;
  }

  private requestView(request: FakeRequestToJoin) {
    const person = PEOPLE[request.identity_id] ?? {};
    return {
      object: "organization_membership_request",
      id: request.id,
      organization_id: request.org_id,
      status: request.status,
      public_user_data: {
        user_id: request.identity_id,
        first_name: person.first_name ?? null,
        last_name: person.last_name ?? null,
        image_url: null,
        has_image: false,
        identifier: person.email ?? null,
      },
      created_at: request.created_at,
      updated_at: request.created_at,
    };
  }

  private publicOrg(orgId: string) {
    const org = this.polis.orgs.find((o) => o.id === orgId) as Org;
    return { ...summary(org), has_image: org.image_url !== null };
  }

  private suggestionView(suggestion: FakeSuggestion) {
    return {
      object: "organization_suggestion",
      id: suggestion.id,
      status: suggestion.status,
      public_organization_data: this.publicOrg(suggestion.org_id),
      created_at: "2026-11-02T09:00:00Z",
      updated_at: "2026-11-02T09:00:00Z",
    };
  }

  readonly routes: Route[] = [
    [
      "GET",
      "/orgs/:org/domains",
      (r, p) => {
        const org = this.domainsOrg(p.org ?? "", false);
        if ("status" in org) return org;
        return json(200, page(this.domains.filter((d) => d.org_id === org.id).map((d) => this.view(d)), r.query));
      },
    ],
    ["POST", "/orgs/:org/domains", (r, p) => this.create(p.org ?? "", r.body as { name: string; enrollment_mode?: S["EnrollmentMode"] })],
    [
      "GET",
      "/orgs/:org/domains/:id",
      (_r, p) => {
        const domain = this.domainOf(p.org ?? "", p.id, false);
        return "code" in domain ? json(200, this.view(domain)) : domain;
      },
    ],
    [
      "PATCH",
      "/orgs/:org/domains/:id",
      (r, p) => {
        const domain = this.domainOf(p.org ?? "", p.id, true);
        if (!("code" in domain)) return domain;
        const body = r.body as { enrollment_mode?: S["EnrollmentMode"]; delete_pending?: boolean };
        if (body.enrollment_mode) domain.enrollment_mode = body.enrollment_mode;
        if (body.delete_pending) this.withdrawPending(domain);
        return json(200, this.view(domain));
      },
    ],
    [
      "DELETE",
      "/orgs/:org/domains/:id",
      (_r, p) => {
        const domain = this.domainOf(p.org ?? "", p.id, true);
        if (!("code" in domain)) return domain;
        this.withdrawPending(domain);
        this.domains = this.domains.filter((d) => d.id !== domain.id);
        return json(200, { id: domain.id, deleted: true });
      },
    ],
    ["POST", "/orgs/:org/domains/:id/verification", (r, p) => this.sendCode(p.org ?? "", p.id ?? "", r.body as { email: string })],
    ["POST", "/orgs/:org/domains/:id/verification/attempt", (r, p) => this.attempt(p.org ?? "", p.id ?? "", r.body as { code: string })],
    [
      "GET",
      "/orgs/:org/membership-requests",
      (r, p) => {
        const org = this.polis.guard(p.org ?? "", "org:sys_memberships:manage");
        if ("status" in org) return org;
        const status = r.query.get("status");
        const rows = this.requests.filter((q) => q.org_id === org.id && (!status || q.status === status));
        return json(200, page(rows.map((q) => this.requestView(q)), r.query));
      },
    ],
    ["POST", "/orgs/:org/membership-requests/:id/accept", (_r, p) => this.answer(p.org ?? "", p.id ?? "", "accepted")],
    ["POST", "/orgs/:org/membership-requests/:id/reject", (_r, p) => this.answer(p.org ?? "", p.id ?? "", "rejected")],
    [
      "GET",
      "/me/suggestions",
      (r) => {
        const rows = this.suggestions.filter(
          (s) => s.identity_id === this.polis.me && s.status !== "withdrawn" && !this.isMember(s.org_id, s.identity_id),
        );
        return json(200, page(rows.map((s) => this.suggestionView(s)), r.query));
      },
    ],
    [
      "POST",
      "/me/suggestions/:id/accept",
      (_r, p) => {
        const suggestion = this.suggestions.find((s) => s.id === p.id && s.identity_id === this.polis.me && s.status !== "withdrawn");
        if (!suggestion) return problem(404, "suggestion_not_found");
        if (this.isMember(suggestion.org_id, suggestion.identity_id)) return problem(409, "already_member");
        if (suggestion.status === "pending") {
          suggestion.status = "accepted";
          this.requestToJoin(this.polis.orgs.find((o) => o.id === suggestion.org_id) as Org, suggestion.identity_id);
        }
        return json(200, this.suggestionView(suggestion));
      },
    ],
    [
      "GET",
      "/me/membership-requests",
      (r) => {
        const rows = this.requests
          .filter((q) => q.identity_id === this.polis.me)
          .map((q) => ({ ...this.requestView(q), public_organization_data: this.publicOrg(q.org_id) }));
        return json(200, page(rows, r.query));
      },
    ],
  ];

  private create(ref: string, body: { name: string; enrollment_mode?: S["EnrollmentMode"] }): Reply {
    const org = this.domainsOrg(ref, true);
    if ("status" in org) return org;
    const name = body.name.trim().toLowerCase().replace(/\.$/, "");
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(name)) {
      return problem(422, "validation_failed", { errors: [{ field: "name", message: "is not a domain name" }] });
    }
    if (BLOCKED.some((b) => name === b || name.endsWith(`.${b}`))) return problem(422, "domain_blocked");
    const mine = this.domains.filter((d) => d.org_id === org.id);
    if (mine.some((d) => d.name === name)) return problem(409, "domain_exists");
    if (mine.length >= 10) return problem(409, "domain_quota_exceeded");
    // Verified at once when the caller has a verified address there, as the server does.
    const atDomain = PEOPLE[this.polis.me]?.email?.endsWith(`@${name}`) ?? false;
    const domain = this.addDomain(org, name, { verified: atDomain, mode: body.enrollment_mode ?? "manual_invitation" });
    if (atDomain) domain.verification.strategy = "verified_address";
    return json(201, this.view(domain));
  }

  private sendCode(ref: string, id: string, body: { email: string }): Reply {
    const domain = this.domainOf(ref, id, true);
    if (!("code" in domain)) return domain;
    if (domain.verified) return problem(409, "domain_already_verified");
    const email = body.email.trim().toLowerCase();
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      return problem(422, "validation_failed", { errors: [{ field: "email", message: "is not an e-mail address" }] });
    }
    if (email.split("@")[1] !== domain.name) return problem(422, "domain_address_mismatch");
    domain.code = FAKE_CODE;
    domain.affiliation_email_address = email;
    domain.verification = {
      ...domain.verification,
      strategy: "email_code",
      attempts: 0,
      expires_at: new Date(Date.now() + 10 * 60_000).toISOString(),
    };
    return json(200, this.view(domain));
  }

  private attempt(ref: string, id: string, body: { code: string }): Reply {
    const domain = this.domainOf(ref, id, true);
    if (!("code" in domain)) return domain;
    if (domain.verified) return problem(409, "domain_already_verified");
    if (domain.code === null || domain.verification.attempts >= MAX_ATTEMPTS) {
      return problem(409, "verification_code_missing");
    }
    if (Date.parse(domain.verification.expires_at ?? "") <= Date.now()) return problem(422, "verification_code_expired");
    if (body.code.trim() !== domain.code) {
      domain.verification.attempts += 1;
      // Like the server: the tries still left on this code, as a number.
      const remaining_attempts = Math.max(0, 5 - domain.verification.attempts);
      if (remaining_attempts === 0) domain.code = null;
      return problem(422, "verification_code_invalid", { remaining_attempts });
    }
    domain.code = null;
    domain.verified = true;
    domain.verification.verified_at = new Date().toISOString();
    return json(200, this.view(domain));
  }

  private answer(ref: string, id: string, status: "accepted" | "rejected"): Reply {
    const org = this.polis.guard(ref, "org:sys_memberships:manage");
    if ("status" in org) return org;
    const request = this.requests.find((q) => q.id === id && q.org_id === org.id);
    if (!request) return problem(404, "membership_request_not_found");
    if (request.status !== "pending") return problem(409, "membership_request_not_pending");
    if (status === "accepted") {
      if (this.isMember(org.id, request.identity_id)) return problem(409, "already_member");
      this.polis.memberships.push({ org_id: org.id, identity_id: request.identity_id, role: "org:member", created_at: request.created_at });
    }
    request.status = status;
    return json(200, this.requestView(request));
  }
}
