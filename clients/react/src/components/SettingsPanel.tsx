import { useEffect, useId, useState, type FormEvent } from "react";

import { toPolisError } from "../errors.js";
import type { UseOrganizationResult } from "../hooks/useOrganization.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import { checkSlug } from "../slug.js";
import { PERMISSIONS, type UpdateOrgBody } from "../types.js";
import { DomainsSection } from "./DomainsSection.js";
import { ErrorNotice, Field, StatusNotice } from "./ui.js";

/**
 * Name, slug and image URL (with `org:sys_profile:manage`), verified domains (seen with
 * `org:sys_domains:read`, changed with `org:sys_domains:manage`) and deletion
 * (`org:sys_profile:delete`).
 */
export function SettingsPanel({
  organization,
  onDeleted,
}: {
  organization: UseOrganizationResult;
  onDeleted: () => void;
}) {
  const canEdit = organization.has({ permission: PERMISSIONS.manageProfile });
  const canDelete = organization.has({ permission: PERMISSIONS.deleteOrg });
  const canManageDomains = organization.has({ permission: PERMISSIONS.manageDomains });
  const canReadDomains = canManageDomains || organization.has({ permission: PERMISSIONS.readDomains });
  const orgId = organization.organization?.id;
  return (
    <div className="polis-settings">
      {canEdit ? <ProfileForm organization={organization} /> : null}
      {canReadDomains && orgId ? <DomainsSection org={orgId} canManage={canManageDomains} /> : null}
      {canDelete ? <DeleteOrganization organization={organization} onDeleted={onDeleted} /> : null}
    </div>
  );
}

function ProfileForm({ organization }: { organization: UseOrganizationResult }) {
  const l = useLocalization();
  const org = organization.organization;
  const [name, setName] = useState(org?.name ?? "");
  const [slug, setSlug] = useState(org?.slug ?? "");
  const [imageUrl, setImageUrl] = useState(org?.image_url ?? "");
  const [saved, setSaved] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const titleId = useId();
  useEffect(() => {
    setName(org?.name ?? "");
    setSlug(org?.slug ?? "");
    setImageUrl(org?.image_url ?? "");
  }, [org?.name, org?.slug, org?.image_url]);
  if (!org) return null;

  const slugProblem = checkSlug(slug);
  const error = failure ? toPolisError(failure) : null;
  const slugTaken = error?.code === "slug_taken";
  const nameError = name.trim() === "" ? l.create.nameRequired : error?.fieldMessage("name");
  const slugError = slugProblem
    ? l.create.slug_problems[slugProblem]
    : slugTaken
      ? l.errors.slug_taken
      : error?.fieldMessage("slug");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    setFailure(null);
    if (name.trim() === "" || slugProblem) return;
    // Send only what changed, so a stale form never undoes someone else's edit of another field.
    const body: UpdateOrgBody = {};
    if (name.trim() !== org.name) body.name = name.trim();
    if (slug !== org.slug) body.slug = slug;
    if ((imageUrl.trim() || null) !== (org.image_url ?? null)) body.image_url = imageUrl.trim() || null;
    if (Object.keys(body).length === 0) return setSaved(true);
    try {
      await organization.update.mutateAsync(body);
      setSaved(true);
    } catch (caught) {
      setFailure(caught);
    }
  };

  return (
    <form className="polis-settings-form" onSubmit={submit} noValidate aria-labelledby={titleId}>
      <h3 className="polis-subtitle" id={titleId}>
        {l.settings.profile}
      </h3>
      <Field label={l.settings.name} error={nameError}>
        {(props) => (
          <input
            {...props}
            className="polis-input"
            name="name"
            maxLength={256}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        )}
      </Field>
      <Field label={l.settings.slug} hint={l.settings.slugHint} error={slugError}>
        {(props) => (
          <input
            {...props}
            className="polis-input"
            name="slug"
            spellCheck={false}
            maxLength={64}
            value={slug}
            onChange={(event) => setSlug(event.target.value)}
          />
        )}
      </Field>
      <Field label={l.settings.imageUrl} error={error?.fieldMessage("image_url")}>
        {(props) => (
          <input
            {...props}
            className="polis-input"
            name="image_url"
            type="url"
            inputMode="url"
            value={imageUrl}
            onChange={(event) => setImageUrl(event.target.value)}
          />
        )}
      </Field>
      {saved ? <StatusNotice>{l.settings.saved}</StatusNotice> : null}
      <ErrorNotice error={failure} />
      <div className="polis-actions">
        <button type="submit" className="polis-button polis-button--primary" disabled={organization.update.isPending}>
          {organization.update.isPending ? l.common.saving : l.common.save}
        </button>
      </div>
    </form>
  );
}

function DeleteOrganization({
  organization,
  onDeleted,
}: {
  organization: UseOrganizationResult;
  onDeleted: () => void;
}) {
  const l = useLocalization();
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const [failure, setFailure] = useState<unknown>(null);
  const titleId = useId();
  const org = organization.organization;
  if (!org) return null;

  const destroy = async (event: FormEvent) => {
    event.preventDefault();
    if (typed !== org.slug) return;
    setFailure(null);
    try {
      await organization.destroy.mutateAsync();
      onDeleted();
    } catch (caught) {
      setFailure(caught);
    }
  };

  return (
    <section className="polis-danger" aria-labelledby={titleId}>
      <h3 className="polis-subtitle" id={titleId}>
        {l.settings.danger}
      </h3>
      <p className="polis-muted">{l.settings.deleteWarning}</p>
      <ErrorNotice error={failure} />
      {confirming ? (
        <form onSubmit={destroy} noValidate>
          <Field label={format(l.settings.confirmDelete, { slug: org.slug })}>
            {(props) => (
              <input
                {...props}
                className="polis-input"
                autoComplete="off"
                spellCheck={false}
                value={typed}
                onChange={(event) => setTyped(event.target.value)}
              />
            )}
          </Field>
          <div className="polis-actions">
            <button type="button" className="polis-button" onClick={() => setConfirming(false)}>
              {l.common.cancel}
            </button>
            <button
              type="submit"
              className="polis-button polis-button--danger"
              disabled={typed !== org.slug || organization.destroy.isPending}
            >
              {l.settings.deletePermanently}
            </button>
          </div>
        </form>
      ) : (
        <button type="button" className="polis-button polis-button--danger-outline" onClick={() => setConfirming(true)}>
          {l.settings.delete}
        </button>
      )}
    </section>
  );
}
