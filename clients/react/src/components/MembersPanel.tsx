import { useEffect, useId, useState } from "react";

import type { UseOrganizationResult } from "../hooks/useOrganization.js";
import { useMembers } from "../hooks/useMembers.js";
import { useRoles } from "../hooks/useRoles.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import { PERMISSIONS, type Membership } from "../types.js";
import { memberEmail, memberName, memberPicture, shortDate } from "./names.js";
import { Avatar, ErrorNotice, Loading, Pager, StatusNotice } from "./ui.js";

/** Members with search, role filter and paging; role changes, removal, and leaving. */
export function MembersPanel({
  organization,
  pageSize,
  onLeft,
}: {
  organization: UseOrganizationResult;
  pageSize: number;
  onLeft: () => void;
}) {
  const l = useLocalization();
  const { roles, roleName } = useRoles();
  const [search, setSearch] = useState("");
  const query = useDebounced(search, 250);
  const [roleFilter, setRoleFilter] = useState("");
  const orgId = organization.organization?.id ?? null;
  const canRead = organization.has({ permission: PERMISSIONS.readMembers });
  const canManage = organization.has({ permission: PERMISSIONS.manageMembers });
  const members = useMembers(canRead ? orgId : null, { query, role: roleFilter, pageSize });
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<{ error: unknown; lastAdmin: string } | null>(null);
  const [confirmingLeave, setConfirmingLeave] = useState(false);
  const searchId = useId();
  const roleId = useId();
  const me = organization.membership?.identity_id;

  const report = (message: string | null, error: unknown = null, lastAdmin = l.errors.last_admin) => {
    setNotice(message);
    setFailure(error ? { error, lastAdmin } : null);
  };

  const leave = async () => {
    report(null);
    try {
      await organization.leave.mutateAsync();
      onLeft();
    } catch (error) {
      setConfirmingLeave(false);
      report(null, error, l.members.lastAdminOnLeave);
    }
  };

  return (
    <div className="polis-members">
      {canRead ? (
        <div className="polis-toolbar" role="search">
          <div className="polis-field polis-field--inline">
            <label className="polis-label" htmlFor={searchId}>
              {l.members.search}
            </label>
            <input
              id={searchId}
              className="polis-input"
              type="search"
              value={search}
              onChange={(event) => setSearch(event.target.value)}
            />
          </div>
          <div className="polis-field polis-field--inline">
            <label className="polis-label" htmlFor={roleId}>
              {l.members.roleFilter}
            </label>
            <select
              id={roleId}
              className="polis-input"
              value={roleFilter}
              onChange={(event) => setRoleFilter(event.target.value)}
            >
              <option value="">{l.members.allRoles}</option>
              {roles.map((role) => (
                <option key={role.key} value={role.key}>
                  {role.name}
                </option>
              ))}
            </select>
          </div>
        </div>
      ) : (
        <p className="polis-muted">{l.members.noPermission}</p>
      )}

      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      {failure ? <ErrorNotice error={failure.error} overrides={{ last_admin: failure.lastAdmin }} /> : null}
      <ErrorNotice error={members.error} />

      {canRead && !members.isLoaded ? <Loading /> : null}
      {canRead && members.isLoaded ? (
        members.data.length === 0 ? (
          <p className="polis-empty">{l.members.empty}</p>
        ) : (
          <table className="polis-table" aria-busy={members.isFetching}>
            <thead>
              <tr>
                <th scope="col">{l.members.member}</th>
                <th scope="col">{l.members.role}</th>
                <th scope="col">{l.members.joined}</th>
                {canManage ? <th scope="col">{l.members.actions}</th> : null}
              </tr>
            </thead>
            <tbody>
              {members.data.map((member) => (
                <MemberRow
                  key={member.identity_id}
                  member={member}
                  isMe={member.identity_id === me}
                  canManage={canManage}
                  roles={roles}
                  roleName={roleName}
                  members={members}
                  report={report}
                />
              ))}
            </tbody>
          </table>
        )
      ) : null}
      <Pager pages={members} />

      {organization.membership ? (
        <div className="polis-leave">
          {confirmingLeave ? (
            <div className="polis-confirm" role="group" aria-label={l.members.leave}>
              <p>{format(l.members.confirmLeave, { name: organization.organization?.name ?? "" })}</p>
              <div className="polis-actions">
                <button type="button" className="polis-button" onClick={() => setConfirmingLeave(false)}>
                  {l.common.cancel}
                </button>
                <button
                  type="button"
                  className="polis-button polis-button--danger"
                  disabled={organization.leave.isPending}
                  onClick={leave}
                >
                  {l.members.leave}
                </button>
              </div>
            </div>
          ) : (
            <button
              type="button"
              className="polis-button polis-button--danger-outline"
              onClick={() => {
                report(null);
                setConfirmingLeave(true);
              }}
            >
              {l.members.leave}
            </button>
          )}
        </div>
      ) : null}
    </div>
  );
}

function MemberRow({
  member,
  isMe,
  canManage,
  roles,
  roleName,
  members,
  report,
}: {
  member: Membership;
  isMe: boolean;
  canManage: boolean;
  roles: { key: string; name: string }[];
  roleName: (key: string) => string;
  members: ReturnType<typeof useMembers>;
  report: (message: string | null, error?: unknown, lastAdmin?: string) => void;
}) {
  const l = useLocalization();
  const [role, setRole] = useState(member.role);
  const [confirmingRemove, setConfirmingRemove] = useState(false);
  const name = memberName(member);
  const email = memberEmail(member);
  const selectId = useId();
  useEffect(() => setRole(member.role), [member.role]);

  const saveRole = async () => {
    report(null);
    try {
      await members.updateRole.mutateAsync({ identityId: member.identity_id, role });
      report(format(l.members.roleChanged, { name, role: roleName(role) }));
    } catch (error) {
      setRole(member.role);
      report(null, error, l.members.lastAdminOnRoleChange);
    }
  };
  const remove = async () => {
    report(null);
    try {
      await members.remove.mutateAsync(member.identity_id);
      report(format(l.members.removed, { name }));
    } catch (error) {
      setConfirmingRemove(false);
      report(null, error, l.members.lastAdminOnRemove);
    }
  };

  // The role list always offers the member's current role, even one missing from the catalog.
  const options = roles.some((r) => r.key === member.role)
    ? roles
    : [{ key: member.role, name: roleName(member.role) }, ...roles];
  return (
    <tr>
      <td>
        <div className="polis-member">
          <Avatar name={name} imageUrl={memberPicture(member)} />
          <div>
            <div className="polis-member-name">
              {name}
              {isMe ? <span className="polis-badge">{l.common.you}</span> : null}
            </div>
            {email && email !== name ? <div className="polis-muted">{email}</div> : null}
          </div>
        </div>
      </td>
      <td>
        {canManage ? (
          <div className="polis-role-edit">
            <label className="polis-visually-hidden" htmlFor={selectId}>
              {format(l.members.roleOf, { name })}
            </label>
            <select
              id={selectId}
              className="polis-input polis-input--compact"
              value={role}
              onChange={(event) => setRole(event.target.value)}
            >
              {options.map((option) => (
                <option key={option.key} value={option.key}>
                  {option.name}
                </option>
              ))}
            </select>
            {role !== member.role ? (
              <>
                <button
                  type="button"
                  className="polis-button polis-button--primary polis-button--small"
                  disabled={members.updateRole.isPending}
                  onClick={saveRole}
                >
                  {l.members.saveRole}
                </button>
                <button
                  type="button"
                  className="polis-button polis-button--small"
                  onClick={() => setRole(member.role)}
                >
                  {l.common.cancel}
                </button>
              </>
            ) : null}
          </div>
        ) : (
          roleName(member.role)
        )}
      </td>
      <td>{shortDate(member.created_at)}</td>
      {canManage ? (
        <td>
          {isMe ? null : confirmingRemove ? (
            <div className="polis-confirm" role="group" aria-label={format(l.members.removeLabel, { name })}>
              <span>{format(l.members.confirmRemove, { name })}</span>
              <button type="button" className="polis-button polis-button--small" onClick={() => setConfirmingRemove(false)}>
                {l.common.cancel}
              </button>
              <button
                type="button"
                className="polis-button polis-button--danger polis-button--small"
                disabled={members.remove.isPending}
                onClick={remove}
              >
                {l.members.remove}
              </button>
            </div>
          ) : (
            <button
              type="button"
              className="polis-button polis-button--small"
              aria-label={format(l.members.removeLabel, { name })}
              onClick={() => setConfirmingRemove(true)}
            >
              {l.members.remove}
            </button>
          )}
        </td>
      ) : null}
    </tr>
  );
}

/** `value`, once it has stopped changing for `delay` ms (so search waits for typing to pause). */
function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
