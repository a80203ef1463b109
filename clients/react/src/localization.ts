import type { PolisErrorCode } from "./errors.js";
import type { SlugProblem } from "./slug.js";
import type { EnrollmentMode, MembershipRequestStatus, VerificationStatus } from "./types.js";

/**
 * Every text the components show. Pass a partial copy to `PolisProvider`'s `localization`
 * to translate or reword any of it; `{name}`-style placeholders are filled in.
 */
export interface PolisLocalization {
  /**
   * The BCP 47 language of these texts (`en`, `de`, `pt-BR`): dates and waiting times are
   * written in it, and e-mails Polis sends for these components (domain codes) use it.
   */
  locale: string;
  common: {
    loading: string;
    cancel: string;
    save: string;
    saving: string;
    previous: string;
    next: string;
    page: string;
    you: string;
    personalAccount: string;
    noOrganization: string;
    pagination: string;
    /** After `rate_limited`, when the server said how long to wait; `{when}` is e.g. "in 5 minutes". */
    retryWhen: string;
  };
  switcher: {
    trigger: string;
    organizations: string;
    active: string;
    manage: string;
    create: string;
    invitations: string;
    accept: string;
    acceptLabel: string;
    decline: string;
    declineLabel: string;
    invitedAs: string;
    suggestions: string;
  };
  suggestions: {
    why: string;
    request: string;
    requestLabel: string;
    requested: string;
    requestedLabel: string;
    requestSent: string;
  };
  create: {
    title: string;
    name: string;
    slug: string;
    slugHint: string;
    slugPlaceholder: string;
    submit: string;
    submitting: string;
    nameRequired: string;
    slug_problems: Record<SlugProblem, string>;
  };
  list: {
    title: string;
    subtitle: string;
    empty: string;
    loadMore: string;
    invitations: string;
    suggestions: string;
    create: string;
  };
  profile: {
    title: string;
    tabs: string;
    membersTab: string;
    invitationsTab: string;
    requestsTab: string;
    settingsTab: string;
    membersCount: string;
    membersCountOne: string;
    yourRole: string;
    noOrganization: string;
  };
  members: {
    search: string;
    roleFilter: string;
    allRoles: string;
    member: string;
    role: string;
    joined: string;
    actions: string;
    empty: string;
    roleOf: string;
    saveRole: string;
    roleChanged: string;
    remove: string;
    removeLabel: string;
    confirmRemove: string;
    removed: string;
    leave: string;
    confirmLeave: string;
    noPermission: string;
    lastAdminOnLeave: string;
    lastAdminOnRoleChange: string;
    lastAdminOnRemove: string;
  };
  invitations: {
    invite: string;
    emails: string;
    emailsHint: string;
    role: string;
    send: string;
    sending: string;
    sent: string;
    noEmails: string;
    invalidEmail: string;
    statusFilter: string;
    allStatuses: string;
    email: string;
    status: string;
    expires: string;
    actions: string;
    never: string;
    empty: string;
    revoke: string;
    revokeLabel: string;
    revoked: string;
    status_values: Record<"pending" | "accepted" | "revoked" | "declined" | "expired", string>;
  };
  requests: {
    intro: string;
    statusFilter: string;
    allStatuses: string;
    requester: string;
    requested: string;
    status: string;
    actions: string;
    empty: string;
    accept: string;
    acceptLabel: string;
    reject: string;
    rejectLabel: string;
    accepted: string;
    rejected: string;
    status_values: Record<MembershipRequestStatus, string>;
  };
  domains: {
    title: string;
    intro: string;
    empty: string;
    readOnly: string;
    add: string;
    name: string;
    nameHint: string;
    nameRequired: string;
    adding: string;
    added: string;
    addedVerified: string;
    enrollmentMode: string;
    modeOf: string;
    mode_values: Record<EnrollmentMode, string>;
    mode_descriptions: Record<EnrollmentMode, string>;
    status_values: Record<VerificationStatus, string>;
    pending: string;
    deletePending: string;
    deletePendingHint: string;
    saveMode: string;
    modeSaved: string;
    changeMode: string;
    changeModeLabel: string;
    verify: string;
    verifyLabel: string;
    remove: string;
    removeLabel: string;
    confirmRemove: string;
    removed: string;
    verifyTitle: string;
    email: string;
    emailHint: string;
    emailInvalid: string;
    sendCode: string;
    sendingCode: string;
    codeSentTo: string;
    code: string;
    codeHint: string;
    codeRequired: string;
    triesLeft: string;
    triesLeftOne: string;
    submitCode: string;
    verifying: string;
    newCode: string;
    verified: string;
    wrongCode: string;
    wrongCodeLast: string;
    sendTooSoon: string;
    tryTooSoon: string;
    failed: string;
    expired: string;
  };
  settings: {
    profile: string;
    name: string;
    slug: string;
    slugHint: string;
    imageUrl: string;
    saved: string;
    danger: string;
    delete: string;
    deleteWarning: string;
    confirmDelete: string;
    deletePermanently: string;
  };
  /** One message per problem code; `unknown` for a code this version does not know. */
  errors: Record<PolisErrorCode, string> & { unknown: string };
}

export const defaultLocalization: PolisLocalization = {
  locale: "en",
  common: {
    loading: "Loading…",
    cancel: "Cancel",
    save: "Save",
    saving: "Saving…",
    previous: "Previous",
    next: "Next",
    page: "Page {page}",
    you: "You",
    personalAccount: "Personal account",
    noOrganization: "No organization",
    pagination: "Pages",
    retryWhen: "Try again {when}.",
  },
  switcher: {
    trigger: "switch organization",
    organizations: "Your organizations",
    active: "Active",
    manage: "Manage organization",
    create: "Create organization",
    invitations: "Invitations",
    accept: "Accept",
    acceptLabel: "Accept the invitation to {name}",
    decline: "Decline",
    declineLabel: "Decline the invitation to {name}",
    invitedAs: "Invited as {role}",
    suggestions: "Suggested for you",
  },
  suggestions: {
    why: "Your e-mail address is at its domain",
    request: "Request to join",
    requestLabel: "Request to join {name}",
    requested: "Requested",
    requestedLabel: "Requested to join {name}",
    requestSent: "You asked to join {name}. Its admins will answer your request.",
  },
  create: {
    title: "Create organization",
    name: "Name",
    slug: "Slug (optional)",
    slugHint: "Lowercase letters, digits and hyphens, up to 64. Left empty, it is made from the name.",
    slugPlaceholder: "{slug}",
    submit: "Create organization",
    submitting: "Creating…",
    nameRequired: "Enter a name.",
    slug_problems: {
      empty: "Enter a slug, or leave the field empty.",
      too_long: "A slug has at most 64 characters.",
      invalid_characters: "Use only lowercase letters, digits and hyphens.",
      uuid_shaped: "A slug cannot look like an id.",
    },
  },
  list: {
    title: "Choose an organization",
    subtitle: "Select the organization to continue with.",
    empty: "You are not a member of any organization yet.",
    loadMore: "Show more",
    invitations: "Invitations for you",
    suggestions: "Suggested for you",
    create: "Create organization",
  },
  profile: {
    title: "{name}",
    tabs: "Organization settings",
    membersTab: "Members",
    invitationsTab: "Invitations",
    requestsTab: "Requests",
    settingsTab: "Settings",
    membersCount: "{count} members",
    membersCountOne: "1 member",
    yourRole: "Your role: {role}",
    noOrganization: "No organization is selected.",
  },
  members: {
    search: "Search members",
    roleFilter: "Role",
    allRoles: "All roles",
    member: "Member",
    role: "Role",
    joined: "Joined",
    actions: "Actions",
    empty: "No members match.",
    roleOf: "Role of {name}",
    saveRole: "Save role",
    roleChanged: "{name} is now {role}.",
    remove: "Remove",
    removeLabel: "Remove {name}",
    confirmRemove: "Remove {name} from the organization?",
    removed: "{name} was removed.",
    leave: "Leave organization",
    confirmLeave: "Leave {name}? You will lose access to it.",
    noPermission: "You cannot see this organization's members.",
    lastAdminOnLeave:
      "You are the last member who can manage members. Make another member an admin before you leave, or delete the organization.",
    lastAdminOnRoleChange:
      "This is the last member who can manage members. Make another member an admin first.",
    lastAdminOnRemove:
      "This is the last member who can manage members and cannot be removed. Make another member an admin first.",
  },
  invitations: {
    invite: "Invite members",
    emails: "E-mail addresses",
    emailsHint: "One or more, separated by commas, spaces or new lines.",
    role: "Role",
    send: "Send invitations",
    sending: "Sending…",
    sent: "Invitation sent to {emails}.",
    noEmails: "Enter at least one e-mail address.",
    invalidEmail: "{email} is not an e-mail address.",
    statusFilter: "Status",
    allStatuses: "All",
    email: "E-mail",
    status: "Status",
    expires: "Expires",
    actions: "Actions",
    never: "Never",
    empty: "No invitations.",
    revoke: "Revoke",
    revokeLabel: "Revoke the invitation to {email}",
    revoked: "The invitation to {email} was revoked.",
    status_values: {
      pending: "Pending",
      accepted: "Accepted",
      revoked: "Revoked",
      declined: "Declined",
      expired: "Expired",
    },
  },
  requests: {
    intro: "People whose e-mail address is at one of the organization's verified domains asked to join.",
    statusFilter: "Status",
    allStatuses: "All",
    requester: "Requested by",
    requested: "Requested",
    status: "Status",
    actions: "Actions",
    empty: "No requests to join.",
    accept: "Accept",
    acceptLabel: "Accept the request from {name}",
    reject: "Reject",
    rejectLabel: "Reject the request from {name}",
    accepted: "{name} is now a member.",
    rejected: "The request from {name} was rejected.",
    status_values: {
      pending: "Pending",
      accepted: "Accepted",
      rejected: "Rejected",
      withdrawn: "Withdrawn",
    },
  },
  domains: {
    title: "Verified domains",
    intro:
      "People with a verified e-mail address at a verified domain can be invited or suggested to join, as the domain's enrollment mode says.",
    empty: "No domains yet.",
    readOnly: "Only admins can add, verify or change domains.",
    add: "Add domain",
    name: "Domain",
    nameHint: "For example acme.com. Common e-mail providers cannot be added.",
    nameRequired: "Enter a domain name.",
    adding: "Adding…",
    added: "{name} was added. Verify it with a code sent to an address there.",
    addedVerified: "{name} was added and is verified.",
    enrollmentMode: "Enrollment mode",
    modeOf: "Enrollment mode of {name}",
    mode_values: {
      manual_invitation: "No automatic enrollment",
      automatic_invitation: "Automatic invitations",
      automatic_suggestion: "Automatic suggestions",
    },
    mode_descriptions: {
      manual_invitation: "People join only when invited.",
      automatic_invitation: "People with a verified address at the domain are invited at once and can join whenever they like.",
      automatic_suggestion: "People with a verified address at the domain see the organization suggested and can ask to join; an admin accepts or rejects each request.",
    },
    status_values: {
      unverified: "Unverified",
      verified: "Verified",
      failed: "Verification failed",
      expired: "Code expired",
    },
    pending: "Pending invitations: {invitations}, suggestions: {suggestions}",
    deletePending: "Also withdraw the pending invitations and suggestions this domain made",
    deletePendingHint: "Otherwise they stay open and can still be accepted.",
    saveMode: "Save enrollment mode",
    modeSaved: "{name}: {mode}.",
    changeMode: "Enrollment",
    changeModeLabel: "Enrollment mode of {name}",
    verify: "Verify",
    verifyLabel: "Verify {name}",
    remove: "Remove",
    removeLabel: "Remove {name}",
    confirmRemove: "Remove {name}? The pending invitations and suggestions it made are withdrawn.",
    removed: "{name} was removed.",
    verifyTitle: "Verify {name}",
    email: "E-mail address at {name}",
    emailHint: "A 6-digit code is sent there. Use an address at {name} itself, not at a subdomain.",
    emailInvalid: "Enter an e-mail address.",
    sendCode: "Send code",
    sendingCode: "Sending…",
    codeSentTo: "A code was sent to {email}. It is valid for 10 minutes.",
    code: "Verification code",
    codeHint: "The 6 digits from the e-mail.",
    codeRequired: "Enter the 6-digit code.",
    triesLeft: "{count} tries left.",
    triesLeftOne: "1 try left.",
    submitCode: "Verify",
    verifying: "Verifying…",
    newCode: "Send a new code",
    verified: "{name} is verified.",
    wrongCode: "That code is not right.",
    wrongCodeLast: "That code is not right, and no tries are left. Send a new code.",
    sendTooSoon: "No new code can be sent for this domain yet.",
    tryTooSoon: "No more codes can be tried for this domain yet.",
    failed: "Too many wrong codes were entered. Send a new code.",
    expired: "The code expired. Send a new code.",
  },
  settings: {
    profile: "Organization profile",
    name: "Name",
    slug: "Slug",
    slugHint: "Lowercase letters, digits and hyphens, up to 64. Links that use the old slug stop working.",
    imageUrl: "Image URL",
    saved: "Saved.",
    danger: "Delete organization",
    delete: "Delete organization",
    deleteWarning: "Deleting removes every membership and invitation. It cannot be undone.",
    confirmDelete: "Type {slug} to confirm",
    deletePermanently: "Delete permanently",
  },
  errors: {
    invalid_json: "The request could not be read. Please try again.",
    unsupported_media_type: "The request could not be read. Please try again.",
    payload_too_large: "That is too much to send at once.",
    validation_failed: "Some fields are not valid.",
    unauthenticated: "You are signed out. Sign in again to continue.",
    forbidden: "You do not have permission to do that.",
    origin_not_allowed: "This site is not allowed to make changes. Ask the administrator to allow its address.",
    aal_required: "Confirm your identity with a second factor to continue.",
    identity_provider_unavailable: "Sign-in is unavailable right now. Try again in a moment.",
    org_not_found: "This organization does not exist, or you are not a member.",
    member_not_found: "This member is no longer in the organization.",
    role_not_found: "This role does not exist.",
    route_not_found: "This server does not offer that action.",
    method_not_allowed: "This server does not offer that action.",
    slug_taken: "This slug is taken. Choose another.",
    already_member: "This person is already a member.",
    unknown_role: "This role does not exist.",
    identity_not_found: "No such user.",
    membership_quota_exceeded: "The organization has no seats left for more members or invitations.",
    last_admin: "An organization must keep at least one member who can manage members.",
    role_in_use: "This role is still in use.",
    role_exists: "This role already exists.",
    invitation_not_found: "This invitation no longer exists.",
    invitation_exists: "This address already has a pending invitation.",
    invitation_not_pending: "This invitation was already answered, revoked or has expired.",
    invitation_email_mismatch: "This invitation was sent to another e-mail address.",
    role_not_grantable: "You can only give roles whose permissions you hold yourself, and only to members who hold no more than you.",
    direct_add_disabled: "Members cannot be added directly here. Invite them by e-mail instead.",
    rate_limited: "Too many requests. Wait a moment and try again.",
    database_unavailable: "The service is unavailable right now. Try again in a moment.",
    internal_error: "Something went wrong on the server. Try again in a moment.",
    insufficient_scope: "This app was not given access to do that. Sign in again and allow it.",
    webhook_not_found: "This webhook endpoint does not exist.",
    event_not_found: "This event does not exist.",
    email_not_configured: "This server does not send e-mail.",
    resend_too_soon: "This invitation was just sent. Wait a minute before sending it again.",
    suggestion_not_found: "This suggestion is no longer available.",
    membership_request_not_found: "This request to join no longer exists.",
    membership_request_not_pending: "This request to join was already accepted or rejected.",
    domain_not_found: "This domain does not exist.",
    domain_exists: "The organization already has this domain.",
    domain_quota_exceeded: "An organization can have at most 10 domains.",
    domain_taken: "This domain cannot be verified by this organization.",
    domain_already_verified: "This domain is already verified.",
    domain_blocked: "Common e-mail providers cannot be an organization's domain.",
    domain_address_mismatch: "Use an e-mail address at the domain itself.",
    verification_code_missing: "No verification code is pending. Request a new one.",
    verification_code_expired: "This code has expired. Request a new one.",
    verification_code_invalid: "That code is not right. Check the e-mail and try again.",
    network_error: "Could not reach the server. Check your connection and try again.",
    unexpected_response: "The server gave an answer that could not be read.",
    unknown: "Something went wrong.",
  },
};

/** A copy of `T` in which every field, at any depth, may be left out. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** `base` with every string that `overrides` gives replaced. */
export function mergeLocalization(
  base: PolisLocalization,
  overrides: DeepPartial<PolisLocalization> | undefined,
): PolisLocalization {
  return overrides ? (deepMerge(base, overrides) as PolisLocalization) : base;
}

function deepMerge(base: unknown, overrides: unknown): unknown {
  if (typeof base !== "object" || base === null || typeof overrides !== "object" || overrides === null) {
    return overrides ?? base;
  }
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[key] = deepMerge(merged[key], value);
  }
  return merged;
}

/** Fills `{name}` placeholders: `format("Hi {name}", { name: "Ann" })`. */
export function format(template: string, values: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  );
}
