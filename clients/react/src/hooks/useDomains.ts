import { useMutation, useQuery } from "@tanstack/react-query";

import { toPolisError, unwrap } from "../errors.js";
import { usePolis } from "../provider.js";
import { polisKeys } from "../queryKeys.js";
import type { Domain, EnrollmentMode } from "../types.js";
import { refreshAll } from "./shared.js";

/** Wrong codes the server accepts against one verification code before it burns it. */
export const MAX_CODE_ATTEMPTS = 5;

// An org has at most 10 domains, so one page holds them all.
const ALL_DOMAINS = 50;

export interface AddDomainInput {
  /** `acme.com`; IDNA names are accepted and come back as ASCII (`xn--…`). */
  name: string;
  /** `manual_invitation` when left out. */
  enrollmentMode?: EnrollmentMode;
}

export interface UpdateDomainInput {
  id: string;
  enrollmentMode: EnrollmentMode;
  /** Also withdraw the invitations and suggestions the domain made that are still pending. */
  deletePending?: boolean;
}

export interface SendCodeInput {
  id: string;
  /** An address at the domain itself (not a subdomain). */
  email: string;
  /** The e-mail's language (BCP 47); English when left out. */
  locale?: string;
}

/**
 * An org's verified domains (`/orgs/{org}/domains`; reading needs `org:sys_domains:read`,
 * the rest `org:sys_domains:manage`): `add`, `update` (enrollment mode), `remove`, and
 * verification by e-mail code with `sendCode` and `verify`.
 */
export function useDomains(org: string | null | undefined) {
  const { client, queryClient } = usePolis();
  const ref = org ?? "";
  const list = useQuery(
    {
      queryKey: polisKeys.domains(ref),
      queryFn: () =>
        unwrap(
          client.GET("/orgs/{org}/domains", { params: { path: { org: ref }, query: { page_size: ALL_DOMAINS } } }),
        ),
      enabled: ref !== "",
    },
    queryClient,
  );
  const path = (id: string) => ({ params: { path: { org: ref, id } } });
  const refresh = () => refreshAll(queryClient);

  const add = useMutation(
    {
      mutationFn: ({ name, enrollmentMode }: AddDomainInput) =>
        unwrap(
          client.POST("/orgs/{org}/domains", {
            params: { path: { org: ref } },
            body: { name, ...(enrollmentMode ? { enrollment_mode: enrollmentMode } : {}) },
          }),
        ),
      onSuccess: refresh,
    },
    queryClient,
  );
  const update = useMutation(
    {
      mutationFn: ({ id, enrollmentMode, deletePending }: UpdateDomainInput) =>
        unwrap(
          client.PATCH("/orgs/{org}/domains/{id}", {
            ...path(id),
            body: { enrollment_mode: enrollmentMode, ...(deletePending ? { delete_pending: true } : {}) },
          }),
        ),
      onSuccess: refresh,
    },
    queryClient,
  );
  const remove = useMutation(
    {
      mutationFn: (id: string) => unwrap(client.DELETE("/orgs/{org}/domains/{id}", path(id))),
      onSuccess: refresh,
    },
    queryClient,
  );
  const sendCode = useMutation(
    {
      mutationFn: ({ id, email, locale }: SendCodeInput) =>
        unwrap(
          client.POST("/orgs/{org}/domains/{id}/verification", {
            ...path(id),
            body: { email, ...(locale ? { locale } : {}) },
          }),
        ),
      onSuccess: refresh,
    },
    queryClient,
  );
  const verify = useMutation(
    {
      mutationFn: ({ id, code }: { id: string; code: string }) =>
        unwrap(client.POST("/orgs/{org}/domains/{id}/verification/attempt", { ...path(id), body: { code } })),
      // A wrong code is counted although the call fails: refresh either way, so the tries
      // left are up to date by the time the failure reaches the caller.
      onSettled: refresh,
    },
    queryClient,
  );

  return {
    isLoaded: !list.isPending || ref === "",
    error: list.error ? toPolisError(list.error) : null,
    data: list.data?.data ?? [],
    add,
    update,
    remove,
    sendCode,
    verify,
  };
}

/** Whether a code was sent for the domain and can still be entered. */
export function isAwaitingCode(domain: Domain): boolean {
  return (
    !domain.verified && domain.verification.status === "unverified" && domain.verification.strategy === "email_code"
  );
}

/** How many more codes may be tried against the domain's current code. */
export function triesLeft(domain: Domain): number {
  return Math.max(0, MAX_CODE_ATTEMPTS - domain.verification.attempts);
}
