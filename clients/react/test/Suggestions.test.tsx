import { renderHook, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";

import { OrganizationList, OrganizationSwitcher, PolisProvider, useMyMembershipRequests } from "../src/index.js";
import { ALICE, BOB, FakePolis, problem } from "./fakePolis.js";
import { BASE_URL, renderWithPolis } from "./render.js";

/** Bob, invited to Globex, with Acme Corp suggested by its domain. */
function bobWithSuggestion() {
  const polis = new FakePolis();
  const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, "org:admin"]]);
  const globex = polis.addOrg("Globex", "globex", [[ALICE, "org:admin"]]);
  const domain = polis.joining.addDomain(acme, "example.com", { verified: true, mode: "automatic_suggestion" });
  const suggestion = polis.joining.suggest(acme, BOB, domain);
  polis.invite(globex, "bob@example.com");
  polis.me = BOB;
  return { polis, acme, suggestion };
}

describe("suggestions for the signed-in user", () => {
  it("lists suggestions beside invitations in <OrganizationList />; Request to join then reads Requested", async () => {
    const { polis, acme, suggestion } = bobWithSuggestion();
    renderWithPolis(<OrganizationList />, { polis });
    const user = userEvent.setup();

    const invitations = await screen.findByRole("region", { name: "Invitations for you" });
    expect(within(invitations).getByText("Globex")).toBeInTheDocument();
    const suggested = await screen.findByRole("region", { name: "Suggested for you" });
    expect(within(suggested).getByText("Acme Corp")).toBeInTheDocument();
    expect(within(suggested).getByText("Your e-mail address is at its domain")).toBeInTheDocument();

    const button = within(suggested).getByRole("button", { name: "Request to join Acme Corp" });
    await user.click(button);
    expect(await within(suggested).findByRole("status")).toHaveTextContent(
      "You asked to join Acme Corp. Its admins will answer your request.",
    );
    const requested = await within(suggested).findByRole("button", { name: "Requested to join Acme Corp" });
    expect(requested).toHaveTextContent("Requested");
    expect(requested).toHaveAttribute("aria-disabled", "true");
    // The same button: focus stays where the user was.
    expect(requested).toHaveFocus();
    expect(suggestion.status).toBe("accepted");
    expect(polis.joining.requests).toEqual([expect.objectContaining({ org_id: acme.id, identity_id: BOB, status: "pending" })]);

    // Asking twice does not call again.
    await user.click(requested);
    expect(polis.calls("POST", `/me/suggestions/${suggestion.id}/accept`)).toHaveLength(1);
  });

  it("shows suggestions in the switcher, and once a manager accepts, the org instead", async () => {
    const { polis, acme, suggestion } = bobWithSuggestion();
    suggestion.status = "accepted";
    renderWithPolis(<OrganizationSwitcher />, { polis });
    const user = userEvent.setup();

    const trigger = await screen.findByRole("button", { name: "Personal account, switch organization" });
    await user.click(trigger);
    const suggested = await screen.findByRole("region", { name: "Suggested for you" });
    expect(within(suggested).getByRole("button", { name: "Requested to join Acme Corp" })).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "Invitations" })).toBeInTheDocument();

    // A manager accepts the request elsewhere; the switcher shows it when opened again.
    polis.memberships.push({ org_id: acme.id, identity_id: BOB, role: "org:member", created_at: acme.created_at });
    await user.keyboard("{Escape}");
    await user.click(trigger);
    const list = screen.getByRole("list", { name: "Your organizations" });
    expect(await within(list).findByRole("button", { name: /^Acme Corp/ })).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole("region", { name: "Suggested for you" })).not.toBeInTheDocument());
  });

  it("shows nothing, and no error, against a server without suggestions", async () => {
    const { polis } = bobWithSuggestion();
    polis.on("GET", "/me/suggestions", () => problem(404, "route_not_found"));
    renderWithPolis(<OrganizationList />, { polis });

    expect(await screen.findByRole("region", { name: "Invitations for you" })).toBeInTheDocument();
    await waitFor(() => expect(polis.calls("GET", "/me/suggestions")).toHaveLength(1));
    expect(screen.queryByRole("region", { name: "Suggested for you" })).not.toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("shows a suggestion that went away from its code", async () => {
    const { polis } = bobWithSuggestion();
    polis.on("POST", "/me/suggestions/:id/accept", () => problem(404, "suggestion_not_found"));
    renderWithPolis(<OrganizationList />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Request to join Acme Corp" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This suggestion is no longer available.");
    expect(screen.getByRole("button", { name: "Request to join Acme Corp" })).not.toHaveAttribute("aria-disabled");
  });
});

describe("useMyMembershipRequests", () => {
  it("lists the caller's requests with the org each is for", async () => {
    const { polis, acme } = bobWithSuggestion();
    polis.joining.requestToJoin(acme, BOB).status = "rejected";
    const wrapper = ({ children }: { children: ReactNode }) => (
      <PolisProvider baseUrl={BASE_URL} fetch={polis.fetch}>
        {children}
      </PolisProvider>
    );
    const { result } = renderHook(() => useMyMembershipRequests(), { wrapper });
    await waitFor(() => expect(result.current.data).toHaveLength(1));
    expect(result.current.data[0]).toMatchObject({
      status: "rejected",
      public_organization_data: { name: "Acme Corp", slug: "acme" },
    });
  });
});
