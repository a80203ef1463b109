import { useInfiniteQuery, useMutation } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { MyMembershipRequest, Suggestion } from "../types.js";
import { pageOrEmpty, pageQuery, refreshAll } from "./shared.js";

/**
 * The orgs suggested to the caller because a verified e-mail address of theirs is at a
 * domain the org verified (Clerk's `userSuggestions`), with `accept`, which asks to join:
 * the suggestion then reads `accepted` until a manager answers. Empty against a server
 * without suggestions.
 */
export function useMySuggestions({ pageSize = 20 }: { pageSize?: number } = {}) {
  const { client, queryClient } = usePolis();
  const pages = useInfiniteQuery(
    {
      queryKey: polisKeys.mySuggestions(pageSize),
      queryFn: ({ pageParam }) =>
        pageOrEmpty(unwrap(client.GET("/me/suggestions", { params: { query: pageQuery(pageSize, pageParam) } }))),
      initialPageParam: undefined as string | undefined,
      getNextPageParam: (last) => last.next_page_token ?? undefined,
    },
    queryClient,
  );
  const accept = useMutation(
    {
      mutationFn: (id: string) => unwrap(client.POST("/me/suggestions/{id}/accept", { params: { path: { id } } })),
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const data: Suggestion[] = pages.data?.pages.flatMap((page) => page.data) ?? [];
  return {
    isLoaded: pages.isFetched,
    error: pages.error ? toPolisError(pages.error) : null,
    data,
    hasNextPage: pages.hasNextPage,
    fetchNext: () => pages.fetchNextPage(),
    accept,
  };
}

/**
 * The caller's requests to join orgs, in every state (`pending`, `accepted`, `rejected`,
 * `withdrawn`), oldest first. Empty against a server without them.
 */
export function useMyMembershipRequests({ pageSize = 20 }: { pageSize?: number } = {}) {
  const { client, queryClient } = usePolis();
  const pages = useInfiniteQuery(
    {
      queryKey: polisKeys.myMembershipRequests(pageSize),
      queryFn: ({ pageParam }) =>
        pageOrEmpty(
          unwrap(client.GET("/me/membership-requests", { params: { query: pageQuery(pageSize, pageParam) } })),
        ),
      initialPageParam: undefined as string | undefined,
      getNextPageParam: (last) => last.next_page_token ?? undefined,
    },
    queryClient,
  );
  const data: MyMembershipRequest[] = pages.data?.pages.flatMap((page) => page.data) ?? [];
  return {
    isLoaded: pages.isFetched,
    error: pages.error ? toPolisError(pages.error) : null,
    data,
    hasNextPage: pages.hasNextPage,
    fetchNext: () => pages.fetchNextPage(),
  };
}
