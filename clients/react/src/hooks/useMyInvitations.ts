import { useInfiniteQuery, useMutation } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { MyInvitation } from "../types.js";
import { pageQuery, refreshAll } from "./shared.js";

/**
 * The pending invitations addressed to the caller's verified e-mail addresses (Clerk's
 * `userInvitations`), with `accept` and `decline`.
 */
export function useMyInvitations({ pageSize = 20 }: { pageSize?: number } = {}) {
  const { client, queryClient } = usePolis();
  const pages = useInfiniteQuery(
    {
      queryKey: polisKeys.myInvitations(pageSize),
      queryFn: ({ pageParam }) =>
        unwrap(client.GET("/me/invitations", { params: { query: pageQuery(pageSize, pageParam) } })),
      initialPageParam: undefined as string | undefined,
      getNextPageParam: (last) => last.next_page_token ?? undefined,
    },
    queryClient,
  );
  const accept = useMutation(
    {
      mutationFn: (id: string) =>
        unwrap(client.POST("/me/invitations/{id}/accept", { params: { path: { id } } })),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const decline = useMutation(
    {
      mutationFn: (id: string) =>
        unwrap(client.POST("/me/invitations/{id}/decline", { params: { path: { id } } })),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const data: MyInvitation[] = pages.data?.pages.flatMap((page) => page.data) ?? [];
  return {
    isLoaded: pages.isFetched,
    error: pages.error ? toPolisError(pages.error) : null,
    data,
    hasNextPage: pages.hasNextPage,
    fetchNext: () => pages.fetchNextPage(),
    accept,
    decline,
  };
}
