import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { CreatedInvitation, InvitationStatus } from "../types.js";
import { pageQuery, refreshAll, useKeysetPages } from "./shared.js";

export interface UseInvitationsOptions {
  /** Only invitations in this state; all of them by default. */
  status?: InvitationStatus | "";
  /** Invitations per page (1–500); 10 by default. */
  pageSize?: number;
}

export interface InviteInput {
  /** One address, or up to 100 sent as one all-or-nothing batch. */
  emailAddresses: string[];
  /** A role key; the server's default role (`org:member`) when absent. */
  role?: string;
  /** Where the invitee should land; the server adds `invitation_token=…` to it. */
  redirectUrl?: string;
}

/** An org's invitations, page by page, with `invite` (one or many) and `revoke`. */
export function useInvitations(org: string | null | undefined, { status = "", pageSize = 10 }: UseInvitationsOptions = {}) {
  const { client, queryClient } = usePolis();
  const ref = org ?? "";
  const pages = useKeysetPages(JSON.stringify([ref, status, pageSize]));
  const list = useQuery(
    {
      queryKey: polisKeys.invitations(ref, { status, pageSize, token: pages.token }),
      queryFn: () =>
        unwrap(
          client.GET("/orgs/{org}/invitations", {
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

  const invite = useMutation(
    {
      mutationFn: async ({ emailAddresses, role, redirectUrl }: InviteInput): Promise<CreatedInvitation[]> => {
        const bodies = emailAddresses.map((email_address) => ({
          email_address,
          ...(role ? { role } : {}),
          ...(redirectUrl ? { redirect_url: redirectUrl } : {}),
        }));
        const [only] = bodies;
        if (bodies.length === 1 && only) {
          const created = await unwrap(
            client.POST("/orgs/{org}/invitations", { params: { path: { org: ref } }, body: only }),
          );
          return [created];
        }
        const created = await unwrap(
          client.POST("/orgs/{org}/invitations/bulk", { params: { path: { org: ref } }, body: bodies }),
        );
        return created.data;
      },
      onSuccess: () => refreshAll(queryClient),
    },
    queryClient,
  );
  const revoke = useMutation(
    {
      mutationFn: (id: string) =>
        unwrap(client.POST("/orgs/{org}/invitations/{id}/revoke", { params: { path: { org: ref, id } } })),
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
    invite,
    revoke,
  };
}
