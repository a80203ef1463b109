import { createPolisClient, type PolisClient, type PolisCredentials } from "@polis/client";
import { QueryClient } from "@tanstack/react-query";
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";

import { isPolisError } from "./errors.js";
import {
  defaultLocalization,
  mergeLocalization,
  type DeepPartial,
  type PolisLocalization,
} from "./localization.js";

export interface PolisProviderProps {
  /** Where Polis is served, e.g. `https://polis.example.com`. */
  baseUrl: string;
  /**
   * How calls are authenticated. Defaults to the browser's Kratos session cookie
   * (`credentials: "include"`); Polis must then list this app's origin in
   * `POLIS_CORS_ALLOWED_ORIGINS`.
   */
  credentials?: PolisCredentials;
  /**
   * The TanStack Query client that caches Polis data. By default Polis keeps its own,
   * apart from any the app uses, so the two never share keys.
   */
  queryClient?: QueryClient;
  /** Any of the components' texts, replaced (see `PolisLocalization`). */
  localization?: DeepPartial<PolisLocalization>;
  /**
   * Where the active organization is kept while Polis has no `/me/active-org`;
   * `window.localStorage` by default, `null` to keep it in memory only.
   */
  activeOrgStorage?: Storage | null;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
  children: ReactNode;
}

export interface PolisContextValue {
  client: PolisClient;
  queryClient: QueryClient;
  localization: PolisLocalization;
  baseUrl: string;
  activeOrgStorage: Storage | null;
}

const PolisContext = createContext<PolisContextValue | null>(null);

/** Makes Polis available to the hooks and components below it. */
export function PolisProvider({
  baseUrl,
  credentials,
  queryClient,
  localization,
  activeOrgStorage,
  fetch,
  children,
}: PolisProviderProps) {
  const [ownQueryClient] = useState(createQueryClient);
  const credentialKey = JSON.stringify(credentials ?? { type: "cookie" });
  const client = useMemo(
    () =>
      createPolisClient({
        baseUrl,
        credentials: credentials ?? { type: "cookie" },
        ...(fetch ? { fetch } : {}),
      }),
    // Rebuilt when what the credentials say changes, not when the caller passes a new object.
    [baseUrl, credentialKey, fetch],
  );
  const value = useMemo<PolisContextValue>(
    () => ({
      client,
      queryClient: queryClient ?? ownQueryClient,
      localization: mergeLocalization(defaultLocalization, localization),
      baseUrl,
      activeOrgStorage: activeOrgStorage === undefined ? browserStorage() : activeOrgStorage,
    }),
    [client, queryClient, ownQueryClient, localization, baseUrl, activeOrgStorage],
  );
  return <PolisContext.Provider value={value}>{children}</PolisContext.Provider>;
}

/** The provider's client, cache and texts; throws outside a `PolisProvider`. */
export function usePolis(): PolisContextValue {
  const value = useContext(PolisContext);
  if (!value) throw new Error("Polis hooks and components must be used inside <PolisProvider>");
  return value;
}

export function useLocalization(): PolisLocalization {
  return usePolis().localization;
}

function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Fresh data whenever a component mounts (opening the switcher, changing tabs), so
        // changes made elsewhere show without a reload; in-flight requests are still shared.
        staleTime: 0,
        // Retry only what may pass on a second try; a 4xx answer will not change.
        retry: (failures, error) => failures < 2 && isTransient(error),
      },
    },
  });
}

function isTransient(error: unknown): boolean {
  return (
    isPolisError(error, "network_error") ||
    isPolisError(error, "identity_provider_unavailable") ||
    isPolisError(error, "database_unavailable")
  );
}

function browserStorage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    // Storage can be disabled by the browser's privacy settings.
    return null;
  }
}
