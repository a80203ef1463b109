import { useId, useRef, useState, type KeyboardEvent } from "react";

import { useOrganization } from "../hooks/useOrganization.js";
import { useRoles } from "../hooks/useRoles.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import { PERMISSIONS, type CreatedInvitation } from "../types.js";
import { InvitationsPanel } from "./InvitationsPanel.js";
import { MembersPanel } from "./MembersPanel.js";
import { RequestsPanel } from "./RequestsPanel.js";
import { SettingsPanel } from "./SettingsPanel.js";
import { Avatar, cx, ErrorNotice, Loading } from "./ui.js";

export type ProfileTab = "members" | "invitations" | "requests" | "settings";

export interface OrganizationProfileProps {
  /** The org's id, slug or Clerk id; the active org when left out. */
  org?: string;
  defaultTab?: ProfileTab;
  /** Called after the caller left the org. */
  onLeft?: () => void;
  /** Called after the org was deleted. */
  onDeleted?: () => void;
  /** Called with new invitations and their one-time `url`/`token`, e.g. to e-mail them. */
  onInvited?: (invitations: CreatedInvitation[]) => void;
  /** Where invitees should land; Polis adds `invitation_token=…` to it. */
  invitationRedirectUrl?: string;
  /** Members, invitations and requests per page; 10 by default. */
  pageSize?: number;
  className?: string;
}

/**
 * An organization's members, invitations, requests to join and settings (with its verified
 * domains) in tabs (Clerk's `<OrganizationProfile />`). Tabs and controls the caller may not use are not shown; the
 * server still decides, and its refusals are shown from their problem codes.
 */
export function OrganizationProfile({
  org,
  defaultTab = "members",
  onLeft,
  onDeleted,
  onInvited,
  invitationRedirectUrl,
  pageSize = 10,
  className,
}: OrganizationProfileProps) {
  const l = useLocalization();
  const organization = useOrganization(org);
  const { roleName } = useRoles();
  const [gone, setGone] = useState(false);
  const [tab, setTab] = useState<ProfileTab>(defaultTab);
  const baseId = useId();
  const tabRefs = useRef<Partial<Record<ProfileTab, HTMLButtonElement | null>>>({});

  if (gone) return null;
  if (!organization.isLoaded) {
    return (
      <section className={cx("polis", "polis-card", "polis-profile", className)}>
        <Loading />
      </section>
    );
  }
  const current = organization.organization;
  if (!current) {
    return (
      <section className={cx("polis", "polis-card", "polis-profile", className)}>
        {organization.error ? <ErrorNotice error={organization.error} /> : <p>{l.profile.noOrganization}</p>}
      </section>
    );
  }

  const can = (permission: string) => organization.has({ permission });
  const tabs: { key: ProfileTab; label: string }[] = [{ key: "members", label: l.profile.membersTab }];
  if (can(PERMISSIONS.manageMembers)) {
    tabs.push({ key: "invitations", label: l.profile.invitationsTab });
    tabs.push({ key: "requests", label: l.profile.requestsTab });
  }
  const readsDomains = can(PERMISSIONS.readDomains) || can(PERMISSIONS.manageDomains);
  if (can(PERMISSIONS.manageProfile) || can(PERMISSIONS.deleteOrg) || readsDomains) {
    tabs.push({ key: "settings", label: l.profile.settingsTab });
  }
  const selected = tabs.some((t) => t.key === tab) ? tab : "members";

  // Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
  const onTabKey = (event: KeyboardEvent) => {
    const index = tabs.findIndex((t) => t.key === selected);
    const target =
      event.key === "ArrowRight"
        ? tabs[(index + 1) % tabs.length]
        : event.key === "ArrowLeft"
          ? tabs[(index - 1 + tabs.length) % tabs.length]
          : event.key === "Home"
            ? tabs[0]
            : event.key === "End"
              ? tabs[tabs.length - 1]
              : undefined;
    if (!target) return;
    event.preventDefault();
    setTab(target.key);
    tabRefs.current[target.key]?.focus();
  };
  const removed = (then?: () => void) => () => {
    setGone(true);
    then?.();
  };

  const headingId = `${baseId}-heading`;
  return (
    <section className={cx("polis", "polis-card", "polis-profile", className)} aria-labelledby={headingId}>
      <header className="polis-profile-header">
        <Avatar name={current.name} imageUrl={current.image_url} />
        <div>
          <h2 className="polis-title" id={headingId}>
            {format(l.profile.title, { name: current.name })}
          </h2>
          <p className="polis-muted">
            {current.members_count === 1
              ? l.profile.membersCountOne
              : format(l.profile.membersCount, { count: current.members_count })}
            {organization.membership
              ? ` · ${format(l.profile.yourRole, { role: roleName(organization.membership.role) })}`
              : ""}
          </p>
        </div>
      </header>
      <div className="polis-tabs" role="tablist" aria-label={l.profile.tabs} onKeyDown={onTabKey}>
        {tabs.map((t) => (
          <button
            key={t.key}
            ref={(element) => {
              tabRefs.current[t.key] = element;
            }}
            type="button"
            role="tab"
            id={`${baseId}-tab-${t.key}`}
            aria-selected={selected === t.key}
            aria-controls={`${baseId}-panel-${t.key}`}
            tabIndex={selected === t.key ? 0 : -1}
            className="polis-tab"
            onClick={() => setTab(t.key)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        className="polis-tab-panel"
        role="tabpanel"
        id={`${baseId}-panel-${selected}`}
        aria-labelledby={`${baseId}-tab-${selected}`}
        tabIndex={0}
      >
        {selected === "members" ? (
          <MembersPanel organization={organization} pageSize={pageSize} onLeft={removed(onLeft)} />
        ) : selected === "invitations" ? (
          <InvitationsPanel
            org={current.id}
            pageSize={pageSize}
            onInvited={onInvited}
            redirectUrl={invitationRedirectUrl}
          />
        ) : selected === "requests" ? (
          <RequestsPanel org={current.id} pageSize={pageSize} />
        ) : (
          <SettingsPanel organization={organization} onDeleted={removed(onDeleted)} />
        )}
      </div>
    </section>
  );
}
