import { useQuery } from "@tanstack/react-query";
import { useCallback } from "react";

import { unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";

/** The instance's role catalog, and a role's display name from its key. */
export function useRoles() {
  const { client, queryClient } = usePolis();
  const roles = useQuery(
    {
      queryKey: polisKeys.roles,
      queryFn: async () => (await unwrap(client.GET("/roles"))).data,
      staleTime: 5 * 60_000,
    },
    queryClient,
  );
  const data = roles.data;
  const roleName = useCallback(
    (key: string) => data?.find((role) => role.key === key)?.name ?? key,
    [data],
  );
  return { roles: data ?? [], isLoaded: !roles.isPending, roleName };
}
