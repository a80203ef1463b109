import { useState } from "react";

import { useMembershipRequests } from "../hooks/useMembershipRequests.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { MembershipRequest, MembershipRequestStatus } from "../types.js";
import { requesterName, shortDate } from "./names.js";
import { Avatar, ErrorNotice, Loading, Pager, StatusFilter, StatusNotice } from "./ui.js";

const STATUSES: MembershipRequestStatus[] = ["pending", "accepted", "rejected", "withdrawn"];

/**
 * Requests to join, made by people a verified domain suggested the org to, with Accept and
 * Reject (for members holding `org:sys_memberships:manage`).
 */
export function RequestsPanel({ org, pageSize }: { org: string; pageSize: number }) {
  const l = useLocalization();
  const [status, setStatus] = useState<MembershipRequestStatus | "">("pending");
  const requests = useMembershipRequests(org, { status, pageSize });
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [answering, setAnswering] = useState<string | null>(null);

  const answer = async (request: MembershipRequest, how: "accept" | "reject") => {
    const name = requesterName(request.public_user_data);
    setNotice(null);
    setFailure(null);
    setAnswering(request.id);
    try {
      await requests[how].mutateAsync(request.id);
      setNotice(format(how === "accept" ? l.requests.accepted : l.requests.rejected, { name }));
    } catch (error) {
      setFailure(error);
    } finally {
      setAnswering(null);
    }
  };

  return (
    <div className="polis-requests">
      <p className="polis-muted">{l.requests.intro}</p>
      <StatusFilter
        label={l.requests.statusFilter}
        statuses={STATUSES}
        names={l.requests.status_values}
        allLabel={l.requests.allStatuses}
        value={status}
        onChange={setStatus}
      />
      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      <ErrorNotice error={failure} />
      <ErrorNotice error={requests.error} />
      {!requests.isLoaded ? <Loading /> : null}
      {requests.isLoaded && requests.data.length === 0 ? <p className="polis-empty">{l.requests.empty}</p> : null}
      {requests.data.length > 0 ? (
        <table className="polis-table" aria-busy={requests.isFetching}>
          <thead>
            <tr>
              <th scope="col">{l.requests.requester}</th>
              <th scope="col">{l.requests.requested}</th>
              <th scope="col">{l.requests.status}</th>
              <th scope="col">{l.requests.actions}</th>
            </tr>
          </thead>
          <tbody>
            {requests.data.map((request) => {
              const user = request.public_user_data;
              const name = requesterName(user);
              return (
                <tr key={request.id}>
                  <td>
                    <div className="polis-member">
                      <Avatar name={name} imageUrl={user.has_image ? user.image_url : null} />
                      <div>
                        <div className="polis-member-name">{name}</div>
                        {user.identifier && user.identifier !== name ? (
                          <div className="polis-muted">{user.identifier}</div>
                        ) : null}
                      </div>
                    </div>
                  </td>
                  <td>{shortDate(request.created_at)}</td>
                  <td>
                    <span className={`polis-status polis-status--${request.status}`}>
                      {l.requests.status_values[request.status]}
                    </span>
                  </td>
                  <td>
                    {request.status === "pending" ? (
                      <span className="polis-row-actions">
                        <button
                          type="button"
                          className="polis-button polis-button--primary polis-button--small"
                          aria-label={format(l.requests.acceptLabel, { name })}
                          disabled={answering !== null}
                          onClick={() => answer(request, "accept")}
                        >
                          {l.requests.accept}
                        </button>
                        <button
                          type="button"
                          className="polis-button polis-button--small"
                          aria-label={format(l.requests.rejectLabel, { name })}
                          disabled={answering !== null}
                          onClick={() => answer(request, "reject")}
                        >
                          {l.requests.reject}
                        </button>
                      </span>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <Pager pages={requests} />
    </div>
  );
}
