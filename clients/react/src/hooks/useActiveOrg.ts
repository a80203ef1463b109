import { useMutation, useQuery } from "@tanstack/react-query";

import { isMissingRoute, PolisError, toPolisError } from "../errors.js";
import { usePolis, type PolisContextValue } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { MyMembership, OrgSummary } from "../types.js";
import { useAllMyMemberships } from "./shared.js";

/**
 * Where the active organization lives: on the server (`/me/active-org`, kept per Kratos
 * session), or in this browser's storage when the server is older and has no such route.
 */
export type ActiveOrgSource = "server" | "local";

interface ActiveOrgState {
  source: ActiveOrgSource;
  /** The org's id (or, for a value kept before the org was loaded, its slug). */
  orgId: string | null;
}

export interface UseActiveOrgResult {
  isLoaded: boolean;
  /** The id of the active org, `null` for none (the personal account). */
  activeOrgId: string | null;
  /** The caller's membership of the active org. */
  membership: MyMembership | null;
  organization: OrgSummary | null;
  source: ActiveOrgSource | null;
  /** Makes an org (its id, slug, or the org itself) active; `null` for none. */
  setActive: (org: string | { id: string } | null) => Promise<void>;
  isSwitching: boolean;
  error: PolisError | null;
}

/**
 * The organization the user is working in (Clerk's `organization` from `useOrganization()`
 * with `setActive`). Uses `GET/PUT/DELETE /me/active-org` when the server has them, and this
 * browser's storage when it answers `route_not_found`.
 */
export function useActiveOrg(): UseActiveOrgResult {
  const polis = usePolis();
  const { queryClient } = polis;
  const memberships = useAllMyMemberships();
  const state = useQuery(
    // Changes only through setActive (which writes the cache), so it is read once.
    { queryKey: polisKeys.activeOrg, queryFn: () => readActiveOrg(polis), staleTime: Infinity },
    queryClient,
  );
  const switching = useMutation(
    {
      mutationFn: async (org: string | { id: string } | null) => {
        const orgId = org === null ? null : typeof org === "string" ? org : org.id;
        const idOf = (ref: string) =>
          memberships.data?.find((m) => m.org.id === ref || m.org.slug === ref)?.org.id ?? ref;
        const resolved = orgId === null ? null : idOf(orgId);
        return writeActiveOrg(polis, state.data?.source ?? "local", resolved);
      },
      onSuccess: (next) => queryClient.setQueryData(polisKeys.activeOrg, next),
    },
    queryClient,
  );

  const orgId = state.data?.orgId ?? null;
  const membership =
    orgId === null ? null : (memberships.data?.find((m) => m.org.id === orgId || m.org.slug === orgId) ?? null);
  // A remembered org the caller no longer belongs to is no active org at all.
  const activeOrgId = membership?.org.id ?? null;
  return {
    isLoaded: state.isFetched && memberships.isFetched,
    activeOrgId,
    membership,
    organization: membership?.org ?? null,
    source: state.data?.source ?? null,
    setActive: async (org) => {
      await switching.mutateAsync(org);
    },
    isSwitching: switching.isPending,
    error: toNullableError(state.error ?? memberships.error ?? switching.error),
  };
}

function toNullableError(error: unknown): PolisError | null {
  return error ? toPolisError(error) : null;
}

// Servers before `/me/active-org` answer `route_not_found`; these calls go through the same
// client (base URL, credentials) without its path types, so they also work against those.
// Polis answers GET and PUT with `{"org": {id, name, slug, image_url} | null}`, DELETE with 204.
type LooseCall = (
  path: string,
  init?: { body?: unknown },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
type LooseClient = { GET: LooseCall; PUT: LooseCall; DELETE: LooseCall };

const ACTIVE_ORG_PATH = "/me/active-org";

function storageKey(baseUrl: string): string {
  return `polis.activeOrg:${baseUrl}`;
}

async function readActiveOrg(polis: PolisContextValue): Promise<ActiveOrgState> {
  const client = polis.client as unknown as LooseClient;
  let result: Awaited<ReturnType<LooseCall>>;
  try {
    result = await client.GET(ACTIVE_ORG_PATH);
  } catch (error) {
    throw toPolisError(error);
  }
  if (result.response.ok) {
    return { source: "server", orgId: orgIdFromBody(result.data) };
  }
  const error = toPolisError(result.error);
  if (isMissingRoute(error)) return { source: "local", orgId: readLocal(polis) };
  // "No active org" may be told as a 404 of its own.
  if (result.response.status === 404) return { source: "server", orgId: null };
  throw error;
}

async function writeActiveOrg(
  polis: PolisContextValue,
  source: ActiveOrgSource,
  orgId: string | null,
): Promise<ActiveOrgState> {
  if (source === "server") {
    const client = polis.client as unknown as LooseClient;
    try {
      const result =
        orgId === null
          ? await client.DELETE(ACTIVE_ORG_PATH)
          : await client.PUT(ACTIVE_ORG_PATH, { body: { org: orgId } });
      if (result.response.ok) return { source: "server", orgId };
      const error = toPolisError(result.error);
      if (!isMissingRoute(error)) throw error;
    } catch (error) {
      const failure = toPolisError(error);
      // A server that has the route but whose CORS rules do not allow PUT fails as a
      // network error in the browser: keep working with local state and say why.
      if (failure.code !== "network_error" && !isMissingRoute(failure)) throw failure;
      console.warn("polis: could not store the active organization on the server; keeping it in this browser", failure.code);
    }
  }
  writeLocal(polis, orgId);
  return { source: "local", orgId };
}

function orgIdFromBody(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  const org = record.org ?? record.org_id ?? record.id ?? null;
  if (typeof org === "string") return org;
  if (typeof org === "object" && org !== null && typeof (org as { id?: unknown }).id === "string") {
    return (org as { id: string }).id;
  }
  return null;
}

function readLocal(polis: PolisContextValue): string | null {
  const storage = polis.activeOrgStorage;
  if (storage) {
    try {
      return storage.getItem(storageKey(polis.baseUrl));
    } catch {
      // A storage that refuses to read leaves the in-memory value in charge.
    }
  }
  return memory.get(polis.baseUrl) ?? null;
}

function writeLocal(polis: PolisContextValue, orgId: string | null): void {
  if (orgId === null) memory.delete(polis.baseUrl);
  else memory.set(polis.baseUrl, orgId);
  try {
    if (orgId === null) polis.activeOrgStorage?.removeItem(storageKey(polis.baseUrl));
    else polis.activeOrgStorage?.setItem(storageKey(polis.baseUrl), orgId);
  } catch {
    // A full or disabled storage leaves the in-memory value in charge.
  }
}

// Used when there is no storage, or it refuses to write.
const memory = new Map<string, string>();
