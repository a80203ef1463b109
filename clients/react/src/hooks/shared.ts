import { useQuery, type QueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { isMissingRoute, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { MyMembership } from "../types.js";

/** `page_size` and, past the first page, `page_token` (left out rather than `undefined`). */
export function pageQuery(pageSize: number, token: string | undefined) {
  return token === undefined ? { page_size: pageSize } : { page_size: pageSize, page_token: token };
}

/**
 * A page of a list that older servers do not have: their `route_not_found` reads as an
 * empty list, so the components that show it just show nothing there.
 */
export async function pageOrEmpty<T>(
  call: Promise<{ data: T[]; next_page_token?: string | null }>,
): Promise<{ data: T[]; next_page_token?: string | null }> {
  try {
    return await call;
  } catch (error) {
    if (isMissingRoute(error)) return { data: [], next_page_token: null };
    throw error;
  }
}

/**
 * Refreshes every Polis query on screen; resolves once they have their new data. The active
 * org is left alone: only `setActive` changes it, and a refetch racing it could undo it.
 */
export function refreshAll(queryClient: QueryClient): Promise<void> {
  return queryClient.invalidateQueries({
    queryKey: polisKeys.all,
    predicate: (query) => JSON.stringify(query.queryKey) !== JSON.stringify(polisKeys.activeOrg),
  });
}

/**
 * Drops what is cached about an org that the caller can no longer see (deleted or left),
 * then refreshes the caller's own lists.
 */
export async function forgetOrg(queryClient: QueryClient, refs: string[]): Promise<void> {
  for (const ref of refs) {
    await queryClient.cancelQueries({ queryKey: polisKeys.org(ref) });
    queryClient.removeQueries({ queryKey: polisKeys.org(ref) });
  }
  await refreshAll(queryClient);
}

/**
 * Back-and-forth paging over a keyset-paged list: a stack of page tokens, emptied
 * whenever `resetKey` (what the list is filtered by) changes.
 */
export function useKeysetPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; tokens: (string | undefined)[] }>({
    key: resetKey,
    tokens: [undefined],
  });
  const tokens = state.key === resetKey ? state.tokens : [undefined];
  return {
    token: tokens[tokens.length - 1],
    page: tokens.length,
    hasPrevious: tokens.length > 1,
    next: (token: string) => setState({ key: resetKey, tokens: [...tokens, token] }),
    previous: () => setState({ key: resetKey, tokens: tokens.slice(0, -1) }),
  };
}

/** Every membership of the caller (all pages), to find the caller's role in an org. */
export function useAllMyMemberships() {
  const { client, queryClient } = usePolis();
  return useQuery(
    {
      queryKey: polisKeys.allMyMemberships,
      queryFn: async () => {
        const all: MyMembership[] = [];
        let token: string | undefined;
        do {
          const page = await unwrap(
            client.GET("/me/memberships", { params: { query: pageQuery(500, token) } }),
          );
          all.push(...page.data);
          token = page.next_page_token ?? undefined;
        } while (token !== undefined);
        return all;
      },
    },
    queryClient,
  );
}
