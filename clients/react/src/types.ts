import type { components } from "@polis/client";

export type {
  ErrorCode,
  FieldError,
  Membership,
  MyMembership,
  Org,
  PolisClient,
  PolisCredentials,
  Problem,
  Role,
} from "@polis/client";

type Schemas = components["schemas"];

export type OrgSummary = Schemas["OrgSummaryResponse"];
export type Invitation = Schemas["InvitationResponse"];
export type InvitationStatus = Schemas["InvitationStatus"];
export type MyInvitation = Schemas["MyInvitationResponse"];
/** A new invitation, with the acceptance `token` and `url` that are shown only once. */
export type CreatedInvitation = Schemas["CreatedInvitationResponse"];
export type UpdateOrgBody = Schemas["UpdateOrgRequest"];
export type CreateOrgBody = Schemas["CreateOrgRequest"];
/** A domain of an org, with where its verification stands. */
export type Domain = Schemas["DomainResponse"];
export type EnrollmentMode = Schemas["EnrollmentMode"];
export type VerificationStatus = Schemas["VerificationStatus"];
/** A request to join an org, as its managers see it. */
export type MembershipRequest = Schemas["MembershipRequestResponse"];
export type MembershipRequestStatus = Schemas["RequestStatus"];
/** One of the caller's own requests to join, with the org it is for. */
export type MyMembershipRequest = Schemas["MyMembershipRequestResponse"];
/** An org a verified domain suggests to the caller. */
export type Suggestion = Schemas["SuggestionResponse"];

/** The system permissions the components check before showing a control. */
export const PERMISSIONS = {
  readMembers: "org:sys_memberships:read",
  manageMembers: "org:sys_memberships:manage",
  manageProfile: "org:sys_profile:manage",
  deleteOrg: "org:sys_profile:delete",
  readDomains: "org:sys_domains:read",
  manageDomains: "org:sys_domains:manage",
} as const;

/** Clerk's `has()` argument: a permission key or a role key. */
export type HasCheck = { permission: string; role?: never } | { role: string; permission?: never };
