import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import { pageQuery, refreshAll, useKeysetPages } from "./shared.js";

export interface UseMembersOptions {
  /** Matches members' e-mail, names and username (server side, case-insensitive). */
  query?: string;
  /** Only members with this role key. */
  role?: string;
  /** Members per page (1–500); 10 by default. */
  pageSize?: number;
}

/** One page at a time of an org's members, with role changes and removal. */
export function useMembers(org: string | null | undefined, { query = "", role = "", pageSize = 10 }: UseMembersOptions = {}) {
  const { client, queryClient } = usePolis();
  const ref = org ?? "";
  const trimmed = query.trim();
  const pages = useKeysetPages(JSON.stringify([ref, trimmed, role, pageSize]));
  const list = useQuery(
    {
      queryKey: polisKeys.members(ref, { query: trimmed, role, pageSize, token: pages.token }),
      queryFn: () =>
        unwrap(
          client.GET("/orgs/{org}/members", {
            params: {
              path: { org: ref },
              query: {
                ...pageQuery(pageSize, pages.token),
                ...(trimmed ? { query: trimmed } : {}),
                ...(role ? { role } : {}),
              },
            },
          }),
        ),
      enabled: ref !== "",
      placeholderData: keepPreviousData,
    },
    queryClient,
  );
  const nextToken = list.data?.next_page_token ?? null;

  const updateRole = useMutation(
    {
      mutationFn: ({ identityId, role: newRole }: { identityId: string; role: string }) =>
        unwrap(
          client.PATCH("/orgs/{org}/members/{identity_id}", {
            params: { path: { org: ref, identity_id: identityId } },
            body: { role: newRole },
          }),
        ),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const remove = useMutation(
    {
      mutationFn: (identityId: string) =>
        unwrap(
          client.DELETE("/orgs/{org}/members/{identity_id}", {
            params: { path: { org: ref, identity_id: identityId } },
          }),
        ),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );

  return {
    isLoaded: !list.isPending || ref === "",
    isFetching: list.isFetching,
    error: list.error ? toPolisError(list.error) : null,
    data: list.data?.data ?? [],
    page: pages.page,
    hasNextPage: nextToken !== null,
    hasPreviousPage: pages.hasPrevious,
    fetchNext: () => {
      if (nextToken !== null) pages.next(nextToken);
    },
    fetchPrevious: pages.previous,
    updateRole,
    remove,
  };
}
