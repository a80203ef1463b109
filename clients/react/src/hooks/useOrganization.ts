import { useMutation, useQuery } from "@tanstack/react-query";
import { useCallback } from "react";

import { toPolisError, unwrap, type PolisError } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { HasCheck, MyMembership, Org, UpdateOrgBody } from "../types.js";
import { forgetOrg, refreshAll, useAllMyMemberships } from "./shared.js";
import { useActiveOrg } from "./useActiveOrg.js";

export interface UseOrganizationResult {
  isLoaded: boolean;
  organization: Org | null;
  /** The caller's membership of the org (`null` when not a member, e.g. an API key). */
  membership: MyMembership | null;
  /** Clerk's `has()`: whether the caller's membership grants the permission or is the role. */
  has: (check: HasCheck) => boolean;
  error: PolisError | null;
  /** `PATCH /orgs/{org}` (needs `org:sys_profile:manage`). */
  update: ReturnType<typeof useUpdateOrg>;
  /** `DELETE /orgs/{org}` (needs `org:sys_profile:delete`). */
  destroy: ReturnType<typeof useOrgRemoval>;
  /** The caller leaves the org (`409 last_admin` when no one else could manage members). */
  leave: ReturnType<typeof useOrgRemoval>;
}

/**
 * One organization and the caller's place in it. `org` is the org's id, slug or Clerk id;
 * without it, the active org.
 */
export function useOrganization(org?: string | null): UseOrganizationResult {
  const { client, queryClient } = usePolis();
  const active = useActiveOrg();
  const ref = org ?? active.activeOrgId;
  const details = useQuery(
    {
      queryKey: polisKeys.orgDetails(ref ?? ""),
      queryFn: () => unwrap(client.GET("/orgs/{org}", { params: { path: { org: ref ?? "" } } })),
      enabled: ref !== null,
    },
    queryClient,
  );
  const mine = useAllMyMemberships();
  const organization = details.data ?? null;
  const membership = organization ? (mine.data?.find((m) => m.org_id === organization.id) ?? null) : null;
  const has = useCallback((check: HasCheck) => hasAccess(membership, check), [membership]);

  const refs = [ref, organization?.id, organization?.slug].filter((r): r is string => !!r);
  const afterRemoval = async () => {
    await forgetOrg(queryClient, refs);
    if (active.activeOrgId !== null && active.activeOrgId === organization?.id) await active.setActive(null);
  };
  const destroy = useOrgRemoval(async () => {
    await unwrap(client.DELETE("/orgs/{org}", { params: { path: { org: ref ?? "" } } }));
  }, afterRemoval);
  const leave = useOrgRemoval(async () => {
    if (!membership) throw toPolisError({ code: "member_not_found", status: 404, detail: "not a member" });
    await unwrap(
      client.DELETE("/orgs/{org}/members/{identity_id}", {
        params: { path: { org: membership.org_id, identity_id: membership.identity_id } },
      }),
    );
  }, afterRemoval);

  return {
    isLoaded: (org ? true : active.isLoaded) && (ref === null || (!details.isPending && mine.isFetched)),
    organization,
    membership,
    has,
    error: details.error ? toPolisError(details.error) : mine.error ? toPolisError(mine.error) : null,
    update: useUpdateOrg(ref),
    destroy,
    leave,
  };
}

/** Whether `membership` grants `check`; no membership grants nothing. */
export function hasAccess(membership: { role: string; permissions: string[] } | null, check: HasCheck): boolean {
  if (!membership) return false;
  if (check.permission !== undefined) return membership.permissions.includes(check.permission);
  return membership.role === check.role;
}

function useUpdateOrg(ref: string | null) {
  const { client, queryClient } = usePolis();
  return useMutation(
    {
      mutationFn: (body: UpdateOrgBody) =>
        unwrap(client.PATCH("/orgs/{org}", { params: { path: { org: ref ?? "" } }, body })),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
}

function useOrgRemoval(remove: () => Promise<void>, after: () => Promise<void>) {
  const { queryClient } = usePolis();
  return useMutation({ mutationFn: remove, onSuccess: after }, queryClient);
}
