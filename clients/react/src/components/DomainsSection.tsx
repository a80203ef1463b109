import { useId, useState, type FormEvent, type ReactNode } from "react";

import { toPolisError } from "../errors.js";
import { useDomains } from "../hooks/useDomains.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { Domain, EnrollmentMode } from "../types.js";
import { DomainVerification } from "./DomainVerification.js";
import { ErrorNotice, Field, Loading, StatusNotice } from "./ui.js";

export const ENROLLMENT_MODES: EnrollmentMode[] = ["manual_invitation", "automatic_invitation", "automatic_suggestion"];

type Domains = ReturnType<typeof useDomains>;
type Panel = "verify" | "mode" | "remove";

/**
 * An org's verified domains (Clerk's "Verified domains" in the organization profile): the
 * list with each domain's status and enrollment mode, for callers with
 * `org:sys_domains:read`; adding, verifying by e-mail code, changing the enrollment mode and
 * removing with `org:sys_domains:manage`.
 */
export function DomainsSection({ org, canManage }: { org: string; canManage: boolean }) {
  const l = useLocalization();
  const domains = useDomains(org);
  const [notice, setNotice] = useState<string | null>(null);
  const [open, setOpen] = useState<{ id: string; panel: Panel } | null>(null);
  const titleId = useId();

  const toggle = (id: string, panel: Panel) => {
    setNotice(null);
    setOpen(open?.id === id && open.panel === panel ? null : { id, panel });
  };
  const done = (message: string) => {
    setOpen(null);
    setNotice(message);
  };

  return (
    <section className="polis-domains" aria-labelledby={titleId}>
      <h3 className="polis-subtitle" id={titleId}>
        {l.domains.title}
      </h3>
      <p className="polis-muted">{l.domains.intro}</p>
      {canManage ? null : <p className="polis-muted">{l.domains.readOnly}</p>}
      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      <ErrorNotice error={domains.error} />
      {!domains.isLoaded ? <Loading /> : null}
      {domains.isLoaded && domains.data.length === 0 && !domains.error ? (
        <p className="polis-empty">{l.domains.empty}</p>
      ) : null}
      {domains.data.length > 0 ? (
        <ul className="polis-domain-list" aria-labelledby={titleId}>
          {domains.data.map((domain) => (
            <DomainItem
              key={domain.id}
              domain={domain}
              domains={domains}
              canManage={canManage}
              open={open?.id === domain.id ? open.panel : null}
              onToggle={(panel) => toggle(domain.id, panel)}
              onDone={done}
            />
          ))}
        </ul>
      ) : null}
      {canManage ? (
        <AddDomain
          domains={domains}
          onAdded={(domain) => {
            if (domain.verified) return done(format(l.domains.addedVerified, { name: domain.name }));
            // Verifying is the next step: open it right away.
            setNotice(format(l.domains.added, { name: domain.name }));
            setOpen({ id: domain.id, panel: "verify" });
          }}
        />
      ) : null}
    </section>
  );
}

function DomainItem({
  domain,
  domains,
  canManage,
  open,
  onToggle,
  onDone,
}: {
  domain: Domain;
  domains: Domains;
  canManage: boolean;
  open: Panel | null;
  onToggle: (panel: Panel) => void;
  onDone: (message: string) => void;
}) {
  const l = useLocalization();
  const baseId = useId();
  const nameId = `${baseId}-name`;
  const panelId = `${baseId}-panel`;
  const { name } = domain;
  const pending = domain.total_pending_invitations + domain.total_pending_suggestions > 0;
  const button = (panel: Panel, text: string, label: string, danger = false) => (
    <button
      type="button"
      className={`polis-button polis-button--small${danger ? " polis-button--danger-outline" : ""}`}
      aria-label={label}
      aria-expanded={open === panel}
      aria-controls={open === panel ? panelId : undefined}
      onClick={() => onToggle(panel)}
    >
      {text}
    </button>
  );

  return (
    <li className="polis-domain" aria-labelledby={nameId}>
      <div className="polis-domain-head">
        <span className="polis-domain-name" id={nameId}>
          {name}
        </span>
        <span className={`polis-status polis-status--${domain.verification.status}`}>
          {l.domains.status_values[domain.verification.status]}
        </span>
      </div>
      <p className="polis-muted polis-domain-details">
        {l.domains.enrollmentMode}: {l.domains.mode_values[domain.enrollment_mode]}
        {pending
          ? ` · ${format(l.domains.pending, {
              invitations: domain.total_pending_invitations,
              suggestions: domain.total_pending_suggestions,
            })}`
          : null}
      </p>
      {canManage ? (
        <div className="polis-row-actions">
          {domain.verified ? null : button("verify", l.domains.verify, format(l.domains.verifyLabel, { name }))}
          {button("mode", l.domains.changeMode, format(l.domains.changeModeLabel, { name }))}
          {button("remove", l.domains.remove, format(l.domains.removeLabel, { name }), true)}
        </div>
      ) : null}
      {open ? (
        <div className="polis-domain-panel" id={panelId}>
          {open === "verify" ? (
            <DomainVerification domain={domain} domains={domains} onClose={() => onToggle("verify")} onVerified={onDone} />
          ) : open === "mode" ? (
            <EnrollmentForm domain={domain} domains={domains} onClose={() => onToggle("mode")} onSaved={onDone} />
          ) : (
            <RemoveDomain domain={domain} domains={domains} onClose={() => onToggle("remove")} onRemoved={onDone} />
          )}
        </div>
      ) : null}
    </li>
  );
}

function AddDomain({ domains, onAdded }: { domains: Domains; onAdded: (domain: Domain) => void }) {
  const l = useLocalization();
  const [name, setName] = useState("");
  const [mode, setMode] = useState<EnrollmentMode>("manual_invitation");
  const [inputError, setInputError] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const titleId = useId();
  const error = failure ? toPolisError(failure) : null;
  // Failures about the name are told at the field (and announced); the rest above the button.
  const nameFailure =
    error?.code === "domain_blocked" || error?.code === "domain_exists"
      ? l.errors[error.code]
      : error?.fieldMessage("name");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const trimmed = name.trim();
    if (trimmed === "") return setInputError(l.domains.nameRequired);
    setInputError(null);
    try {
      const domain = await domains.add.mutateAsync({ name: trimmed, enrollmentMode: mode });
      setName("");
      setMode("manual_invitation");
      onAdded(domain);
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <form className="polis-domain-add" onSubmit={submit} noValidate aria-labelledby={titleId}>
      <h4 className="polis-subtitle polis-subtitle--small" id={titleId}>
        {l.domains.add}
      </h4>
      <Field label={l.domains.name} hint={l.domains.nameHint} error={inputError ?? nameFailure}>
        {(props) => (
          <input
            {...props}
            className="polis-input"
            name="domain"
            autoComplete="off"
            spellCheck={false}
            inputMode="url"
            placeholder="acme.com"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        )}
      </Field>
      <Field label={l.domains.enrollmentMode} hint={l.domains.mode_descriptions[mode]}>
        {(props) => (
          <select
            {...props}
            className="polis-input"
            name="enrollment_mode"
            value={mode}
            onChange={(event) => setMode(event.target.value as EnrollmentMode)}
          >
            {ENROLLMENT_MODES.map((m) => (
              <option key={m} value={m}>
                {l.domains.mode_values[m]}
              </option>
            ))}
          </select>
        )}
      </Field>
      {nameFailure ? (
        <p className="polis-visually-hidden" role="alert">
          {nameFailure}
        </p>
      ) : (
        <ErrorNotice error={failure} />
      )}
      <div className="polis-actions">
        <button type="submit" className="polis-button polis-button--primary" disabled={domains.add.isPending}>
          {domains.add.isPending ? l.domains.adding : l.domains.add}
        </button>
      </div>
    </form>
  );
}

function EnrollmentForm({
  domain,
  domains,
  onClose,
  onSaved,
}: {
  domain: Domain;
  domains: Domains;
  onClose: () => void;
  onSaved: (message: string) => void;
}) {
  const l = useLocalization();
  const [mode, setMode] = useState<EnrollmentMode>(domain.enrollment_mode);
  const [deletePending, setDeletePending] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const baseId = useId();
  const legend = format(l.domains.modeOf, { name: domain.name });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const saved = format(l.domains.modeSaved, { name: domain.name, mode: l.domains.mode_values[mode] });
    if (mode === domain.enrollment_mode && !deletePending) return onSaved(saved);
    try {
      await domains.update.mutateAsync({ id: domain.id, enrollmentMode: mode, deletePending });
      onSaved(saved);
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label={legend}>
      <fieldset className="polis-fieldset">
        <legend className="polis-label">{legend}</legend>
        {ENROLLMENT_MODES.map((m) => (
          <Choice key={m} id={`${baseId}-${m}`} label={l.domains.mode_values[m]} hint={l.domains.mode_descriptions[m]}>
            {(props) => (
              <input
                {...props}
                type="radio"
                name={`${baseId}-mode`}
                value={m}
                checked={mode === m}
                onChange={() => setMode(m)}
              />
            )}
          </Choice>
        ))}
      </fieldset>
      <Choice
        id={`${baseId}-delete-pending`}
        label={l.domains.deletePending}
        hint={`${format(l.domains.pending, {
          invitations: domain.total_pending_invitations,
          suggestions: domain.total_pending_suggestions,
        })}. ${l.domains.deletePendingHint}`}
      >
        {(props) => (
          <input
            {...props}
            type="checkbox"
            checked={deletePending}
            onChange={(event) => setDeletePending(event.target.checked)}
          />
        )}
      </Choice>
      <ErrorNotice error={failure} />
      <div className="polis-actions">
        <button type="button" className="polis-button" onClick={onClose}>
          {l.common.cancel}
        </button>
        <button type="submit" className="polis-button polis-button--primary" disabled={domains.update.isPending}>
          {domains.update.isPending ? l.common.saving : l.domains.saveMode}
        </button>
      </div>
    </form>
  );
}

/** A radio button or checkbox with its label and, described by it, a hint. */
function Choice({
  id,
  label,
  hint,
  children,
}: {
  id: string;
  label: string;
  hint: string;
  children: (props: { id: string; "aria-describedby": string }) => ReactNode;
}) {
  return (
    <div className="polis-choice">
      {children({ id, "aria-describedby": `${id}-hint` })}
      <div>
        <label className="polis-choice-label" htmlFor={id}>
          {label}
        </label>
        <p className="polis-hint" id={`${id}-hint`}>
          {hint}
        </p>
      </div>
    </div>
  );
}

function RemoveDomain({
  domain,
  domains,
  onClose,
  onRemoved,
}: {
  domain: Domain;
  domains: Domains;
  onClose: () => void;
  onRemoved: (message: string) => void;
}) {
  const l = useLocalization();
  const [failure, setFailure] = useState<unknown>(null);
  const label = format(l.domains.removeLabel, { name: domain.name });
  const remove = async () => {
    setFailure(null);
    try {
      await domains.remove.mutateAsync(domain.id);
      onRemoved(format(l.domains.removed, { name: domain.name }));
    } catch (error) {
      setFailure(error);
    }
  };
  return (
    <div className="polis-confirm" role="group" aria-label={label}>
      <p>{format(l.domains.confirmRemove, { name: domain.name })}</p>
      <ErrorNotice error={failure} />
      <div className="polis-actions">
        <button type="button" className="polis-button" onClick={onClose}>
          {l.common.cancel}
        </button>
        <button
          type="button"
          className="polis-button polis-button--danger"
          disabled={domains.remove.isPending}
          onClick={remove}
        >
          {l.domains.remove}
        </button>
      </div>
    </div>
  );
}
