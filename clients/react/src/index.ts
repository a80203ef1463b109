/**
 * React hooks and components for Polis organizations, built on `@polis/client`.
 *
 * ```tsx
 * <PolisProvider baseUrl="https://polis.example.com">
 *   <OrganizationSwitcher onManage={() => navigate("/org")} />
 * </PolisProvider>
 * ```
 * Styles: `import "@polis/react/styles.css"`; theme them with the `--polis-*` CSS variables.
 */

export { PolisProvider, usePolis, useLocalization } from "./provider.js";
export type { PolisProviderProps, PolisContextValue } from "./provider.js";

export { useActiveOrg } from "./hooks/useActiveOrg.js";
export type { ActiveOrgSource, UseActiveOrgResult } from "./hooks/useActiveOrg.js";
export { useOrganization, hasAccess } from "./hooks/useOrganization.js";
export type { UseOrganizationResult } from "./hooks/useOrganization.js";
export { useOrganizationList } from "./hooks/useOrganizationList.js";
export type { UseOrganizationListOptions } from "./hooks/useOrganizationList.js";
export { useMembers } from "./hooks/useMembers.js";
export type { UseMembersOptions } from "./hooks/useMembers.js";
export { useInvitations } from "./hooks/useInvitations.js";
export type { InviteInput, UseInvitationsOptions } from "./hooks/useInvitations.js";
export { useMyInvitations } from "./hooks/useMyInvitations.js";
export { useMySuggestions, useMyMembershipRequests } from "./hooks/useMySuggestions.js";
export { useMembershipRequests } from "./hooks/useMembershipRequests.js";
export type { UseMembershipRequestsOptions } from "./hooks/useMembershipRequests.js";
export { useDomains, isAwaitingCode, triesLeft, MAX_CODE_ATTEMPTS } from "./hooks/useDomains.js";
export type { AddDomainInput, SendCodeInput, UpdateDomainInput } from "./hooks/useDomains.js";
export { useRoles } from "./hooks/useRoles.js";

export { OrganizationSwitcher, InvitationsForMe } from "./components/OrganizationSwitcher.js";
export type { OrganizationSwitcherProps } from "./components/OrganizationSwitcher.js";
export { SuggestionsForMe } from "./components/SuggestionsForMe.js";
export { CreateOrganization } from "./components/CreateOrganization.js";
export type { CreateOrganizationProps } from "./components/CreateOrganization.js";
export { OrganizationProfile } from "./components/OrganizationProfile.js";
export type { OrganizationProfileProps, ProfileTab } from "./components/OrganizationProfile.js";
export { OrganizationList } from "./components/OrganizationList.js";
export type { OrganizationListProps } from "./components/OrganizationList.js";

export { PolisError, isPolisError, toPolisError } from "./errors.js";
export type { PolisErrorCode } from "./errors.js";
export { defaultLocalization, format } from "./localization.js";
export type { DeepPartial, PolisLocalization } from "./localization.js";
export { checkSlug, slugFromName, SLUG_MAX_LENGTH } from "./slug.js";
export type { SlugProblem } from "./slug.js";
export { polisKeys } from "./queryKeys.js";
export { PERMISSIONS } from "./types.js";
export type * from "./types.js";
