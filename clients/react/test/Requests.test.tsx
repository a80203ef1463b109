import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { OrganizationProfile } from "../src/index.js";
import { ALICE, BOB, CAROL, FakePolis, problem } from "./fakePolis.js";
import { rememberActiveOrg, renderWithPolis } from "./render.js";

function acmeWithRequests(myRole = "org:admin") {
  const polis = new FakePolis();
  const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, myRole]]);
  if (myRole !== "org:admin") polis.memberships.push({ org_id: acme.id, identity_id: CAROL, role: "org:admin", created_at: acme.created_at });
  rememberActiveOrg(acme.id);
  return { polis, acme };
}

describe("<OrganizationProfile /> requests to join", () => {
  it("lets a manager accept one request and reject another, and the members follow", async () => {
    const { polis, acme } = acmeWithRequests();
    const bob = polis.joining.requestToJoin(acme, BOB);
    const carol = polis.joining.requestToJoin(acme, CAROL);
    renderWithPolis(<OrganizationProfile defaultTab="requests" />, { polis });
    const user = userEvent.setup();

    expect(await screen.findByRole("tab", { name: "Requests" })).toHaveAttribute("aria-selected", "true");
    const bobRow = (await screen.findByText("Bob Stone")).closest("tr") as HTMLElement;
    expect(within(bobRow).getByText("bob@example.com")).toBeInTheDocument();
    expect(within(bobRow).getByText("Pending")).toBeInTheDocument();
    expect(screen.getByText("1 member · Your role: Admin")).toBeInTheDocument();

    await user.click(within(bobRow).getByRole("button", { name: "Accept the request from Bob Stone" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Bob Stone is now a member.");
    expect(bob.status).toBe("accepted");
    // Answered requests leave the pending list, and the org now has two members.
    await waitFor(() => expect(screen.queryByText("Bob Stone")).not.toBeInTheDocument());
    expect(await screen.findByText("2 members · Your role: Admin")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Reject the request from Carol Diaz" }));
    expect(await screen.findByRole("status")).toHaveTextContent("The request from Carol Diaz was rejected.");
    expect(carol.status).toBe("rejected");
    expect(await screen.findByText("No requests to join.")).toBeInTheDocument();
    expect(polis.memberships.some((m) => m.org_id === acme.id && m.identity_id === CAROL)).toBe(false);

    // Every state, without buttons for the answered ones.
    await user.selectOptions(screen.getByRole("combobox", { name: "Status" }), "");
    const rows = await screen.findAllByRole("row");
    expect(rows.slice(1).map((row) => row.textContent)).toEqual([
      expect.stringContaining("Accepted"),
      expect.stringContaining("Rejected"),
    ]);
    expect(within(rows[1] as HTMLElement).queryByRole("button")).not.toBeInTheDocument();
    expect(polis.calls("GET", `/orgs/${acme.id}/membership-requests`).at(-1)?.query.has("status")).toBe(false);
    expect(polis.calls("GET", `/orgs/${acme.id}/membership-requests`)[0]?.query.get("status")).toBe("pending");
  });

  it("shows a request another manager answered first from its code", async () => {
    const { polis, acme } = acmeWithRequests();
    polis.joining.requestToJoin(acme, BOB);
    polis.on("POST", `/orgs/${acme.id}/membership-requests/:id/accept`, () => problem(409, "membership_request_not_pending"));
    renderWithPolis(<OrganizationProfile defaultTab="requests" />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Accept the request from Bob Stone" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("This request to join was already accepted or rejected.");
    expect(alert.textContent).not.toMatch(/409/);
  });

  it("names a requester Polis knows only by e-mail or id", async () => {
    const { polis, acme } = acmeWithRequests();
    polis.joining.requestToJoin(acme, "0f0e0d0c-0000-4000-8000-000000000009");
    renderWithPolis(<OrganizationProfile defaultTab="requests" />, { polis });
    expect(
      await screen.findByRole("button", { name: "Accept the request from 0f0e0d0c-0000-4000-8000-000000000009" }),
    ).toBeInTheDocument();
  });

  it("is not offered to a member who cannot manage members", async () => {
    const { polis, acme } = acmeWithRequests("org:member");
    polis.joining.requestToJoin(acme, BOB);
    renderWithPolis(<OrganizationProfile defaultTab="requests" />, { polis });

    expect(await screen.findByRole("tab", { name: "Members" })).toHaveAttribute("aria-selected", "true");
    expect(screen.queryByRole("tab", { name: "Requests" })).not.toBeInTheDocument();
    expect(polis.requests.some((r) => r.path.includes("membership-requests"))).toBe(false);
  });
});
