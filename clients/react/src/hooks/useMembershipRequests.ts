import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { MembershipRequestStatus } from "../types.js";
import { pageQuery, refreshAll, useKeysetPages } from "./shared.js";

export interface UseMembershipRequestsOptions {
  /** Only requests in this state; all of them with `""`. Pending by default. */
  status?: MembershipRequestStatus | "";
  /** Requests per page (1–500); 10 by default. */
  pageSize?: number;
}

/**
 * Requests to join an org, made by people a verified domain suggested it to, page by page,
 * with `accept` (the requester becomes a member with the default role) and `reject`.
 * Needs `org:sys_memberships:manage`.
 */
export function useMembershipRequests(
  org: string | null | undefined,
  { status = "pending", pageSize = 10 }: UseMembershipRequestsOptions = {},
) {
  const { client, queryClient } = usePolis();
  const ref = org ?? "";
  const pages = useKeysetPages(JSON.stringify([ref, status, pageSize]));
  const list = useQuery(
    {
      queryKey: polisKeys.membershipRequests(ref, { status, pageSize, token: pages.token }),
      queryFn: () =>
        unwrap(
          client.GET("/orgs/{org}/membership-requests", {
            params: {
              path: { org: ref },
              query: { ...pageQuery(pageSize, pages.token), ...(status ? { status } : {}) },
            },
          }),
        ),
      enabled: ref !== "",
      placeholderData: keepPreviousData,
    },
    queryClient,
  );
  const nextToken = list.data?.next_page_token ?? null;

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
    accept: useAnswer(ref, "accept"),
    reject: useAnswer(ref, "reject"),
  };
}

function useAnswer(ref: string, how: "accept" | "reject") {
  const { client, queryClient } = usePolis();
  return useMutation(
    {
      mutationFn: (id: string) => {
        const params = { params: { path: { org: ref, id } } };
        return unwrap(
          how === "accept"
            ? client.POST("/orgs/{org}/membership-requests/{id}/accept", params)
            : client.POST("/orgs/{org}/membership-requests/{id}/reject", params),
        );
      },
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
}
