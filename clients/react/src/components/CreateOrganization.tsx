import { useId, useState, type FormEvent } from "react";

import { toPolisError } from "../errors.js";
import { useOrganizationList } from "../hooks/useOrganizationList.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import { checkSlug, slugFromName } from "../slug.js";
import type { Org } from "../types.js";
import { cx, ErrorNotice, Field } from "./ui.js";

export interface CreateOrganizationProps {
  /** Called with the new org, once the lists on screen show it. */
  onCreated?: (org: Org) => void;
  /** Shows a Cancel button that calls this. */
  onCancel?: () => void;
  /** Make the new org the active one (default true, as Clerk does). */
  setActive?: boolean;
  /** Leave out the slug field; the server then derives the slug from the name. */
  hideSlug?: boolean;
  /** Hide the heading, for when the form sits under a heading of the app's. */
  hideTitle?: boolean;
  className?: string;
}

/** A form that creates an organization (Clerk's `<CreateOrganization />`). */
export function CreateOrganization({
  onCreated,
  onCancel,
  setActive = true,
  hideSlug = false,
  hideTitle = false,
  className,
}: CreateOrganizationProps) {
  const l = useLocalization();
  const { createOrganization, setActive: activate } = useOrganizationList();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [touched, setTouched] = useState(false);
  const [serverError, setServerError] = useState<unknown>(null);

  const slugProblem = slug === "" ? null : checkSlug(slug);
  const nameError = touched && name.trim() === "" ? l.create.nameRequired : null;
  const failure = serverError ? toPolisError(serverError) : null;
  const slugTaken = failure?.code === "slug_taken";
  const slugError = slugProblem
    ? l.create.slug_problems[slugProblem]
    : slugTaken
      ? l.errors.slug_taken
      : failure?.fieldMessage("slug");
  const nameServerError = failure?.fieldMessage("name");
  // A taken slug is told at its field; every other failure above the buttons too (for
  // validation_failed, its fields carry the details).
  const formError = slugTaken ? null : failure;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (name.trim() === "" || slugProblem) return;
    setServerError(null);
    try {
      const org = await createOrganization.mutateAsync({
        name: name.trim(),
        ...(slug ? { slug } : {}),
      });
      if (setActive) await activate(org);
      setName("");
      setSlug("");
      setTouched(false);
      onCreated?.(org);
    } catch (error) {
      setServerError(error);
    }
  }

  const pending = createOrganization.isPending;
  const titleId = useId();
  return (
    <form
      className={cx("polis", "polis-card", "polis-create", className)}
      onSubmit={submit}
      noValidate
      aria-labelledby={hideTitle ? undefined : titleId}
      aria-label={hideTitle ? l.create.title : undefined}
    >
      {hideTitle ? null : (
        <h2 className="polis-title" id={titleId}>
          {l.create.title}
        </h2>
      )}
      <Field label={l.create.name} error={nameError ?? nameServerError}>
        {(props) => (
          <input
            {...props}
            className="polis-input"
            name="name"
            autoComplete="organization"
            required
            maxLength={256}
            value={name}
            onChange={(event) => setName(event.target.value)}
            onBlur={() => setTouched(true)}
          />
        )}
      </Field>
      {hideSlug ? null : (
        <Field label={l.create.slug} hint={l.create.slugHint} error={slugError}>
          {(props) => (
            <input
              {...props}
              className="polis-input"
              name="slug"
              autoComplete="off"
              spellCheck={false}
              maxLength={64}
              placeholder={name.trim() ? format(l.create.slugPlaceholder, { slug: slugFromName(name) }) : ""}
              value={slug}
              onChange={(event) => {
                setSlug(event.target.value);
                if (slugTaken) setServerError(null);
              }}
            />
          )}
        </Field>
      )}
      <ErrorNotice error={formError} />
      {/* A taken slug is also announced, since its message sits beside the field. */}
      {slugTaken ? (
        <p className="polis-visually-hidden" role="alert">
          {l.errors.slug_taken}
        </p>
      ) : null}
      <div className="polis-actions">
        {onCancel ? (
          <button type="button" className="polis-button" onClick={onCancel}>
            {l.common.cancel}
          </button>
        ) : null}
        <button type="submit" className="polis-button polis-button--primary" disabled={pending}>
          {pending ? l.create.submitting : l.create.submit}
        </button>
      </div>
    </form>
  );
}
