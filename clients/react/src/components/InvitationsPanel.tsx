import { useId, useState, type FormEvent } from "react";

import { toPolisError } from "../errors.js";
import { useInvitations } from "../hooks/useInvitations.js";
import { useRoles } from "../hooks/useRoles.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { CreatedInvitation, Invitation, InvitationStatus } from "../types.js";
import { shortDate } from "./names.js";
import { ErrorNotice, Field, Loading, Pager, StatusFilter, StatusNotice } from "./ui.js";

const STATUSES: InvitationStatus[] = ["pending", "accepted", "revoked", "declined", "expired"];
// Loose on purpose: the server is the judge; this only catches what is plainly not an address.
const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Splits what was typed into addresses: commas, semicolons, spaces or new lines between. */
export function parseEmailList(text: string): string[] {
  const seen = new Set<string>();
  return text
    .split(/[\s,;]+/)
    .map((part) => part.trim())
    .filter((part) => part !== "" && !seen.has(part.toLowerCase()) && seen.add(part.toLowerCase()));
}

/** The invite form (one or many addresses, a role) and the org's invitations with revoke. */
export function InvitationsPanel({
  org,
  pageSize,
  onInvited,
  redirectUrl,
}: {
  org: string;
  pageSize: number;
  onInvited: ((invitations: CreatedInvitation[]) => void) | undefined;
  redirectUrl: string | undefined;
}) {
  const l = useLocalization();
  const { roles, roleName } = useRoles();
  const [status, setStatus] = useState<InvitationStatus | "">("pending");
  const invitations = useInvitations(org, { status, pageSize });
  const [emails, setEmails] = useState("");
  const [role, setRole] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [sentTo, setSentTo] = useState<string[]>([]);
  const titleId = useId();

  const chosenRole = role || roles.find((r) => r.key === "org:member")?.key || "";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setNotice(null);
    setFailure(null);
    const addresses = parseEmailList(emails);
    if (addresses.length === 0) return setInputError(l.invitations.noEmails);
    const bad = addresses.find((address) => !LOOKS_LIKE_EMAIL.test(address));
    if (bad) return setInputError(format(l.invitations.invalidEmail, { email: bad }));
    setInputError(null);
    setSentTo(addresses);
    try {
      const created = await invitations.invite.mutateAsync({
        emailAddresses: addresses,
        ...(chosenRole ? { role: chosenRole } : {}),
        ...(redirectUrl ? { redirectUrl } : {}),
      });
      setEmails("");
      setNotice(format(l.invitations.sent, { emails: created.map((c) => c.email_address).join(", ") }));
      onInvited?.(created);
    } catch (error) {
      setFailure(error);
    }
  };

  const revoke = async (invitation: Invitation) => {
    setNotice(null);
    setFailure(null);
    try {
      await invitations.revoke.mutateAsync(invitation.id);
      setNotice(format(l.invitations.revoked, { email: invitation.email_address }));
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <div className="polis-invitations">
      <form className="polis-invite-form" onSubmit={submit} noValidate aria-labelledby={titleId}>
        <h3 className="polis-subtitle" id={titleId}>
          {l.invitations.invite}
        </h3>
        <Field label={l.invitations.emails} hint={l.invitations.emailsHint} error={inputError}>
          {(props) => (
            <textarea
              {...props}
              className="polis-input"
              name="emails"
              rows={2}
              autoComplete="off"
              spellCheck={false}
              value={emails}
              onChange={(event) => setEmails(event.target.value)}
            />
          )}
        </Field>
        <Field label={l.invitations.role}>
          {(props) => (
            <select
              {...props}
              className="polis-input"
              name="role"
              value={chosenRole}
              onChange={(event) => setRole(event.target.value)}
            >
              {roles.map((r) => (
                <option key={r.key} value={r.key}>
                  {r.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="polis-actions">
          <button type="submit" className="polis-button polis-button--primary" disabled={invitations.invite.isPending}>
            {invitations.invite.isPending ? l.invitations.sending : l.invitations.send}
          </button>
        </div>
      </form>

      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      <ErrorNotice error={failure} />
      <FieldProblems error={failure} addresses={sentTo} />

      <StatusFilter
        label={l.invitations.statusFilter}
        statuses={STATUSES}
        names={l.invitations.status_values}
        allLabel={l.invitations.allStatuses}
        value={status}
        onChange={setStatus}
      />
      <ErrorNotice error={invitations.error} />
      {!invitations.isLoaded ? <Loading /> : null}
      {invitations.isLoaded && invitations.data.length === 0 ? (
        <p className="polis-empty">{l.invitations.empty}</p>
      ) : null}
      {invitations.data.length > 0 ? (
        <table className="polis-table" aria-busy={invitations.isFetching}>
          <thead>
            <tr>
              <th scope="col">{l.invitations.email}</th>
              <th scope="col">{l.invitations.role}</th>
              <th scope="col">{l.invitations.status}</th>
              <th scope="col">{l.invitations.expires}</th>
              <th scope="col">{l.invitations.actions}</th>
            </tr>
          </thead>
          <tbody>
            {invitations.data.map((invitation) => (
              <tr key={invitation.id}>
                <td>{invitation.email_address}</td>
                <td>{roleName(invitation.role)}</td>
                <td>
                  <span className={`polis-status polis-status--${invitation.status}`}>
                    {l.invitations.status_values[invitation.status]}
                  </span>
                </td>
                <td>{invitation.expires_at ? shortDate(invitation.expires_at) : l.invitations.never}</td>
                <td>
                  {invitation.status === "pending" ? (
                    <button
                      type="button"
                      className="polis-button polis-button--small"
                      aria-label={format(l.invitations.revokeLabel, { email: invitation.email_address })}
                      disabled={invitations.revoke.isPending}
                      onClick={() => revoke(invitation)}
                    >
                      {l.invitations.revoke}
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager pages={invitations} />
    </div>
  );
}

/**
 * The server's per-field messages for `validation_failed`, with bulk fields (`[2].email_address`)
 * named by the address they were about.
 */
function FieldProblems({ error, addresses }: { error: unknown; addresses: string[] }) {
  if (!error) return null;
  const problems = toPolisError(error).fieldErrors;
  if (problems.length === 0) return null;
  return (
    <ul className="polis-field-problems">
      {problems.map((problem) => {
        const index = /^\[(\d+)\]/.exec(problem.field)?.[1];
        const subject = index !== undefined ? (addresses[Number(index)] ?? problem.field) : problem.field;
        return (
          <li key={`${problem.field}:${problem.message}`}>
            <strong>{subject}</strong>: {problem.message}
          </li>
        );
      })}
    </ul>
  );
}
