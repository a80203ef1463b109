import { useEffect, useId, useRef, useState } from "react";

import { useActiveOrg } from "../hooks/useActiveOrg.js";
import { useMyInvitations } from "../hooks/useMyInvitations.js";
import { useOrganizationList } from "../hooks/useOrganizationList.js";
import { useRoles } from "../hooks/useRoles.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { OrgSummary } from "../types.js";
import { CreateOrganization } from "./CreateOrganization.js";
import { SuggestionsForMe } from "./SuggestionsForMe.js";
import { Avatar, cx, ErrorNotice, Loading } from "./ui.js";

export interface OrganizationSwitcherProps {
  /** Called after the active org changed (`null`: the personal account). */
  onSwitch?: (org: OrgSummary | null) => void;
  /** Shows "Manage organization", calling this with the active org (e.g. open the profile). */
  onManage?: (org: OrgSummary) => void;
  /** "Create organization" calls this instead of opening the form in the switcher. */
  onCreateOrganization?: () => void;
  /** Leave out the personal account (apps where a user always works in an org). */
  hidePersonal?: boolean;
  hideCreate?: boolean;
  className?: string;
}

/**
 * The active org and a panel to switch to another, create one, answer invitations and ask
 * to join suggested orgs (Clerk's `<OrganizationSwitcher />`). A disclosure: Escape or a click outside closes it.
 */
export function OrganizationSwitcher({
  onSwitch,
  onManage,
  onCreateOrganization,
  hidePersonal = false,
  hideCreate = false,
  className,
}: OrganizationSwitcherProps) {
  const l = useLocalization();
  const active = useActiveOrg();
  const [open, setOpen] = useState(false);
  const [creating, setCreating] = useState(false);
  const panelId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const triggerRef = useRef<HTMLButtonElement>(null);

  const close = (returnFocus: boolean) => {
    setOpen(false);
    setCreating(false);
    if (returnFocus) triggerRef.current?.focus();
  };

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: MouseEvent) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) close(false);
    };
    document.addEventListener("mousedown", onPointer);
    return () => document.removeEventListener("mousedown", onPointer);
  }, [open]);

  const current = active.organization;
  const label = current ? current.name : hidePersonal ? l.common.noOrganization : l.common.personalAccount;
  const shown = active.isLoaded ? label : l.common.loading;
  return (
    <div
      ref={rootRef}
      className={cx("polis", "polis-switcher", className)}
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          event.stopPropagation();
          close(true);
        }
      }}
    >
      <button
        ref={triggerRef}
        type="button"
        className="polis-switcher-trigger"
        aria-expanded={open}
        aria-controls={panelId}
        // Starts with the visible text, so voice control users can say what they see.
        aria-label={`${shown}, ${l.switcher.trigger}`}
        onClick={() => (open ? close(false) : setOpen(true))}
      >
        <Avatar name={label} imageUrl={current?.image_url} />
        <span className="polis-switcher-name">{shown}</span>
        <span className="polis-switcher-chevron" aria-hidden="true" />
      </button>
      {open ? (
        <div className="polis-switcher-panel" id={panelId}>
          {creating ? (
            <CreateOrganization
              onCreated={(org) => {
                onSwitch?.({ id: org.id, name: org.name, slug: org.slug, image_url: org.image_url });
                close(true);
              }}
              onCancel={() => setCreating(false)}
            />
          ) : (
            <SwitcherLists
              hidePersonal={hidePersonal}
              hideCreate={hideCreate}
              onManage={
                onManage && current
                  ? () => {
                      close(false);
                      onManage(current);
                    }
                  : undefined
              }
              onCreate={() => {
                if (onCreateOrganization) {
                  close(false);
                  onCreateOrganization();
                } else setCreating(true);
              }}
              onSwitched={(org) => {
                onSwitch?.(org);
                close(true);
              }}
            />
          )}
        </div>
      ) : null}
    </div>
  );
}

function SwitcherLists({
  hidePersonal,
  hideCreate,
  onManage,
  onCreate,
  onSwitched,
}: {
  hidePersonal: boolean;
  hideCreate: boolean;
  onManage: (() => void) | undefined;
  onCreate: () => void;
  onSwitched: (org: OrgSummary | null) => void;
}) {
  const l = useLocalization();
  const { memberships, isLoaded, error, setActive, activeOrgId } = useOrganizationList();
  const { roleName } = useRoles();
  const [switchError, setSwitchError] = useState<unknown>(null);
  const headingId = useId();

  const choose = async (org: OrgSummary | null) => {
    setSwitchError(null);
    try {
      await setActive(org);
      onSwitched(org);
    } catch (failure) {
      setSwitchError(failure);
    }
  };

  return (
    <>
      {onManage ? (
        <button type="button" className="polis-button polis-button--block" onClick={onManage}>
          {l.switcher.manage}
        </button>
      ) : null}
      <h2 className="polis-switcher-heading" id={headingId}>
        {l.switcher.organizations}
      </h2>
      {!isLoaded ? <Loading /> : null}
      <ErrorNotice error={error ?? switchError} />
      <ul className="polis-switcher-list" aria-labelledby={headingId}>
        {hidePersonal ? null : (
          <li>
            <button
              type="button"
              className="polis-switcher-item"
              aria-current={activeOrgId === null ? "true" : undefined}
              onClick={() => choose(null)}
            >
              <Avatar name={l.common.personalAccount} />
              <span className="polis-switcher-item-text">{l.common.personalAccount}</span>
              {activeOrgId === null ? <span className="polis-badge">{l.switcher.active}</span> : null}
            </button>
          </li>
        )}
        {memberships.data.map((membership) => {
          const isActive = membership.org.id === activeOrgId;
          return (
            <li key={membership.org.id}>
              <button
                type="button"
                className="polis-switcher-item"
                aria-current={isActive ? "true" : undefined}
                onClick={() => choose(membership.org)}
              >
                <Avatar name={membership.org.name} imageUrl={membership.org.image_url} />
                <span className="polis-switcher-item-text">
                  <span>{membership.org.name}</span>
                  <span className="polis-muted">{roleName(membership.role)}</span>
                </span>
                {isActive ? <span className="polis-badge">{l.switcher.active}</span> : null}
              </button>
            </li>
          );
        })}
      </ul>
      {memberships.hasNextPage ? (
        <button type="button" className="polis-button polis-button--link" onClick={memberships.fetchNext}>
          {l.list.loadMore}
        </button>
      ) : null}
      <InvitationsForMe />
      <SuggestionsForMe />
      {hideCreate ? null : (
        <button type="button" className="polis-button polis-button--block" onClick={onCreate}>
          {l.switcher.create}
        </button>
      )}
    </>
  );
}

/** The caller's pending invitations, each with Accept and Decline; nothing when none. */
export function InvitationsForMe({ headingLevel = 2, title }: { headingLevel?: 2 | 3; title?: string }) {
  const l = useLocalization();
  const invitations = useMyInvitations();
  const { roleName } = useRoles();
  const headingId = useId();
  const [answering, setAnswering] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  if (invitations.data.length === 0 && !invitations.error && !failure) return null;
  const Heading = headingLevel === 2 ? "h2" : "h3";

  const answer = async (id: string, how: "accept" | "decline") => {
    setFailure(null);
    setAnswering(id);
    try {
      await (how === "accept" ? invitations.accept : invitations.decline).mutateAsync(id);
    } catch (error) {
      setFailure(error);
    } finally {
      setAnswering(null);
    }
  };

  return (
    <section className="polis-invitations-for-me" aria-labelledby={headingId}>
      <Heading className="polis-switcher-heading" id={headingId}>
        {title ?? l.switcher.invitations}
      </Heading>
      <ErrorNotice error={invitations.error ?? failure} />
      <ul className="polis-switcher-list">
        {invitations.data.map((invitation) => (
          <li key={invitation.id} className="polis-invitation-row">
            <Avatar name={invitation.org.name} imageUrl={invitation.org.image_url} />
            <span className="polis-switcher-item-text">
              <span>{invitation.org.name}</span>
              <span className="polis-muted">{format(l.switcher.invitedAs, { role: roleName(invitation.role) })}</span>
            </span>
            <span className="polis-row-actions">
              <button
                type="button"
                className="polis-button polis-button--primary polis-button--small"
                aria-label={format(l.switcher.acceptLabel, { name: invitation.org.name })}
                disabled={answering !== null}
                onClick={() => answer(invitation.id, "accept")}
              >
                {l.switcher.accept}
              </button>
              <button
                type="button"
                className="polis-button polis-button--small"
                aria-label={format(l.switcher.declineLabel, { name: invitation.org.name })}
                disabled={answering !== null}
                onClick={() => answer(invitation.id, "decline")}
              >
                {l.switcher.decline}
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
