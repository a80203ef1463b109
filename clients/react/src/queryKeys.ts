/**
 * Cache keys. Every key starts with "polis" so one invalidation after a change refreshes
 * whatever is on screen; org-scoped keys carry the org as the caller named it.
 */
export const polisKeys = {
  all: ["polis"] as const,
  me: ["polis", "me"] as const,
  myMemberships: (pageSize: number) => ["polis", "me", "memberships", { pageSize }] as const,
  allMyMemberships: ["polis", "me", "memberships", "all"] as const,
  myInvitations: (pageSize: number) => ["polis", "me", "invitations", { pageSize }] as const,
  mySuggestions: (pageSize: number) => ["polis", "me", "suggestions", { pageSize }] as const,
  myMembershipRequests: (pageSize: number) => ["polis", "me", "membership-requests", { pageSize }] as const,
  activeOrg: ["polis", "me", "active-org"] as const,
  roles: ["polis", "roles"] as const,
  org: (org: string) => ["polis", "org", org] as const,
  orgDetails: (org: string) => ["polis", "org", org, "details"] as const,
  members: (org: string, params: object) => ["polis", "org", org, "members", params] as const,
  invitations: (org: string, params: object) => ["polis", "org", org, "invitations", params] as const,
  domains: (org: string) => ["polis", "org", org, "domains"] as const,
  membershipRequests: (org: string, params: object) => ["polis", "org", org, "membership-requests", params] as const,
};
