import { useInfiniteQuery, useMutation } from "@tanstack/react-query";

import { toPolisError, unwrap, type PolisError } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { CreateOrgBody, MyMembership } from "../types.js";
import { pageQuery, refreshAll } from "./shared.js";
import { useActiveOrg } from "./useActiveOrg.js";

export interface UseOrganizationListOptions {
  /** Memberships per page (1–500); 20 by default. */
  pageSize?: number;
}

/**
 * The caller's organizations (Clerk's `useOrganizationList()`): memberships page by page,
 * `createOrganization` and `setActive`.
 */
export function useOrganizationList({ pageSize = 20 }: UseOrganizationListOptions = {}) {
  const { client, queryClient } = usePolis();
  const active = useActiveOrg();
  const pages = useInfiniteQuery(
    {
      queryKey: polisKeys.myMemberships(pageSize),
      queryFn: ({ pageParam }) =>
        unwrap(client.GET("/me/memberships", { params: { query: pageQuery(pageSize, pageParam) } })),
      initialPageParam: undefined as string | undefined,
      getNextPageParam: (last) => last.next_page_token ?? undefined,
    },
    queryClient,
  );
  const createOrganization = useMutation(
    {
      mutationFn: (body: CreateOrgBody) => unwrap(client.POST("/orgs", { body })),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const data: MyMembership[] = pages.data?.pages.flatMap((page) => page.data) ?? [];
  return {
    isLoaded: pages.isFetched,
    error: pages.error ? toPolisError(pages.error) : (null as PolisError | null),
    memberships: {
      data,
      hasNextPage: pages.hasNextPage,
      fetchNext: () => pages.fetchNextPage(),
      isFetching: pages.isFetching,
    },
    createOrganization,
    setActive: active.setActive,
    activeOrgId: active.activeOrgId,
  };
}
