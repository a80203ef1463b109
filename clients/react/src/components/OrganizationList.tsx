import { useId, useState } from "react";

import { useOrganizationList } from "../hooks/useOrganizationList.js";
import { useRoles } from "../hooks/useRoles.js";
import { useLocalization } from "../provider.js";
import type { OrgSummary } from "../types.js";
import { CreateOrganization } from "./CreateOrganization.js";
import { InvitationsForMe } from "./OrganizationSwitcher.js";
import { SuggestionsForMe } from "./SuggestionsForMe.js";
import { Avatar, cx, ErrorNotice, Loading } from "./ui.js";

export interface OrganizationListProps {
  /** Called once the chosen org is active (`null`: the personal account). */
  onSelect?: (org: OrgSummary | null) => void;
  /** Offer the personal account too (off by default: this is for apps that need an org). */
  showPersonal?: boolean;
  hideCreate?: boolean;
  /** Memberships per page; 20 by default. */
  pageSize?: number;
  className?: string;
}

/**
 * A chooser for apps that need an organization after sign-in (Clerk's
 * `<OrganizationList />`): the caller's orgs, invitations to answer, orgs suggested by a
 * verified domain to ask to join, and a create form.
 */
export function OrganizationList({
  onSelect,
  showPersonal = false,
  hideCreate = false,
  pageSize = 20,
  className,
}: OrganizationListProps) {
  const l = useLocalization();
  const list = useOrganizationList({ pageSize });
  const { roleName } = useRoles();
  const [creating, setCreating] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const titleId = useId();
  const listId = useId();

  const choose = async (org: OrgSummary | null) => {
    setFailure(null);
    try {
      await list.setActive(org);
      onSelect?.(org);
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <section className={cx("polis", "polis-card", "polis-org-list", className)} aria-labelledby={titleId}>
      <h2 className="polis-title" id={titleId}>
        {l.list.title}
      </h2>
      <p className="polis-muted">{l.list.subtitle}</p>
      <ErrorNotice error={list.error ?? failure} />
      {!list.isLoaded ? <Loading /> : null}
      {list.isLoaded && list.memberships.data.length === 0 ? <p className="polis-empty">{l.list.empty}</p> : null}
      <ul className="polis-switcher-list" id={listId} aria-labelledby={titleId}>
        {list.memberships.data.map((membership) => (
          <li key={membership.org.id}>
            <button
              type="button"
              className="polis-switcher-item"
              onClick={() => choose(membership.org)}
            >
              <Avatar name={membership.org.name} imageUrl={membership.org.image_url} />
              <span className="polis-switcher-item-text">
                <span>{membership.org.name}</span>
                <span className="polis-muted">{roleName(membership.role)}</span>
              </span>
              <span className="polis-arrow" aria-hidden="true" />
            </button>
          </li>
        ))}
        {showPersonal ? (
          <li>
            <button type="button" className="polis-switcher-item" onClick={() => choose(null)}>
              <Avatar name={l.common.personalAccount} />
              <span className="polis-switcher-item-text">{l.common.personalAccount}</span>
            </button>
          </li>
        ) : null}
      </ul>
      {list.memberships.hasNextPage ? (
        <button type="button" className="polis-button polis-button--link" onClick={list.memberships.fetchNext}>
          {l.list.loadMore}
        </button>
      ) : null}
      <InvitationsForMe headingLevel={3} title={l.list.invitations} />
      <SuggestionsForMe headingLevel={3} title={l.list.suggestions} />
      {hideCreate ? null : creating ? (
        <CreateOrganization
          hideTitle
          onCreated={(org) => {
            setCreating(false);
            onSelect?.({ id: org.id, name: org.name, slug: org.slug, image_url: org.image_url });
          }}
          onCancel={() => setCreating(false)}
        />
      ) : (
        <button type="button" className="polis-button polis-button--block" onClick={() => setCreating(true)}>
          {l.list.create}
        </button>
      )}
    </section>
  );
}
