import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { OrganizationProfile } from "../src/index.js";
import { rememberActiveOrg, renderWithPolis } from "./render.js";
import { ALICE, BOB, CAROL, FakePolis, problem } from "./fakePolis.js";

function acmeWith(myRole: string, others: [string, string][] = [[BOB, "org:member"]]) {
  const polis = new FakePolis();
  const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, myRole], ...others]);
  rememberActiveOrg(acme.id);
  return { polis, acme };
}

const tabNames = () => screen.getAllByRole("tab").map((tab) => tab.textContent);

describe("<OrganizationProfile /> permissions", () => {
  it("gives an admin every tab and member control", async () => {
    const { polis } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile />, { polis });

    expect(await screen.findByRole("heading", { name: "Acme Corp" })).toBeInTheDocument();
    expect(screen.getByText(/2 members · Your role: Admin/)).toBeInTheDocument();
    expect(tabNames()).toEqual(["Members", "Invitations", "Requests", "Settings"]);
    const bobRow = (await screen.findByText("Bob Stone")).closest("tr") as HTMLElement;
    expect(within(bobRow).getByLabelText("Role of Bob Stone")).toHaveValue("org:member");
    expect(within(bobRow).getByRole("button", { name: "Remove Bob Stone" })).toBeInTheDocument();
    // No one removes themselves from the table; they leave.
    const aliceRow = screen.getByText("Alice Ng").closest("tr") as HTMLElement;
    expect(within(aliceRow).queryByRole("button", { name: /Remove/ })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Leave organization" })).toBeInTheDocument();
  });

  it("shows a plain member the list only, with no controls they may not use", async () => {
    const { polis } = acmeWith("org:member", [[BOB, "org:admin"]]);
    renderWithPolis(<OrganizationProfile />, { polis });

    expect(await screen.findByText("Bob Stone")).toBeInTheDocument();
    expect(tabNames()).toEqual(["Members"]);
    expect(screen.queryByRole("combobox", { name: /Role of/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Remove/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("columnheader", { name: "Actions" })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Leave organization" })).toBeInTheDocument();
    expect(polis.requests.some((r) => r.path.endsWith("/invitations"))).toBe(false);
  });

  it("hides deletion from a role that may edit the profile but not delete the org", async () => {
    const { polis } = acmeWith("org:manager", [[BOB, "org:admin"]]);
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });

    expect(await screen.findByLabelText("Slug")).toHaveValue("acme");
    expect(screen.queryByRole("button", { name: "Delete organization" })).not.toBeInTheDocument();
  });

  it("moves between tabs with the arrow keys", async () => {
    const { polis } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile />, { polis });
    const user = userEvent.setup();

    const members = await screen.findByRole("tab", { name: "Members" });
    expect(members).toHaveAttribute("aria-selected", "true");
    members.focus();
    await user.keyboard("{ArrowRight}");
    expect(screen.getByRole("tab", { name: "Invitations" })).toHaveFocus();
    expect(screen.getByRole("tabpanel", { name: "Invitations" })).toBeInTheDocument();
    await user.keyboard("{End}");
    expect(screen.getByRole("tab", { name: "Settings" })).toHaveAttribute("aria-selected", "true");
    await user.keyboard("{ArrowRight}");
    expect(screen.getByRole("tab", { name: "Members" })).toHaveFocus();
  });

  it("says so when no org is active", async () => {
    renderWithPolis(<OrganizationProfile />);
    expect(await screen.findByText("No organization is selected.")).toBeInTheDocument();
  });

  it("shows org_not_found from its code for an org the caller cannot see", async () => {
    renderWithPolis(<OrganizationProfile org="someone-elses" />);
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "This organization does not exist, or you are not a member.",
    );
  });
});

describe("<OrganizationProfile /> members", () => {
  it("searches, filters by role and pages with the server's page tokens", async () => {
    const { polis } = acmeWith("org:admin", [
      [BOB, "org:member"],
      [CAROL, "org:member"],
    ]);
    renderWithPolis(<OrganizationProfile pageSize={2} />, { polis });
    const user = userEvent.setup();

    expect(await screen.findByText("Bob Stone")).toBeInTheDocument();
    expect(screen.queryByText("Carol Diaz")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByText("Carol Diaz")).toBeInTheDocument();
    expect(screen.getByText("Page 2")).toBeInTheDocument();
    const lastList = polis.calls("GET", `/orgs/${polis.orgs[0]?.id}/members`).at(-1);
    expect(lastList?.query.get("page_token")).toBe("2");
    await user.click(screen.getByRole("button", { name: "Previous" }));
    expect(await screen.findByText("Bob Stone")).toBeInTheDocument();

    await user.type(screen.getByRole("searchbox", { name: "Search members" }), "diaz");
    await waitFor(() => expect(screen.queryByText("Bob Stone")).not.toBeInTheDocument());
    expect(screen.getByText("Carol Diaz")).toBeInTheDocument();
    expect(polis.requests.at(-1)?.query.get("query")).toBe("diaz");

    await user.clear(screen.getByRole("searchbox", { name: "Search members" }));
    await user.selectOptions(screen.getByRole("combobox", { name: "Role" }), "org:admin");
    expect(await screen.findByText("Alice Ng")).toBeInTheDocument();
    expect(screen.queryByText("Carol Diaz")).not.toBeInTheDocument();
    expect(screen.queryByText("Bob Stone")).not.toBeInTheDocument();

    await user.type(screen.getByRole("searchbox", { name: "Search members" }), "nobody");
    expect(await screen.findByText("No members match.")).toBeInTheDocument();
  });

  it("changes a role only when saved, and updates the table", async () => {
    const { polis, acme } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile />, { polis });
    const user = userEvent.setup();

    const select = await screen.findByRole("combobox", { name: "Role of Bob Stone" });
    await user.selectOptions(select, "org:admin");
    expect(polis.calls("PATCH", `/orgs/${acme.id}/members/${BOB}`)).toHaveLength(0);
    await user.click(screen.getByRole("button", { name: "Save role" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Bob Stone is now Admin.");
    expect(polis.calls("PATCH", `/orgs/${acme.id}/members/${BOB}`)[0]?.body).toEqual({ role: "org:admin" });
    expect(screen.getByRole("combobox", { name: "Role of Bob Stone" })).toHaveValue("org:admin");
    expect(screen.queryByRole("button", { name: "Save role" })).not.toBeInTheDocument();
  });

  it("explains last_admin when the only admin demotes themselves", async () => {
    const { polis } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile />, { polis });
    const user = userEvent.setup();

    await user.selectOptions(await screen.findByRole("combobox", { name: "Role of Alice Ng" }), "org:member");
    await user.click(screen.getByRole("button", { name: "Save role" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("This is the last member who can manage members. Make another member an admin first.");
    expect(alert).toHaveAttribute("data-code", "last_admin");
    expect(screen.getByRole("combobox", { name: "Role of Alice Ng" })).toHaveValue("org:admin");
  });

  it("removes a member after confirmation", async () => {
    const { polis } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Remove Bob Stone" }));
    const confirm = screen.getByRole("group", { name: "Remove Bob Stone" });
    await user.click(within(confirm).getByRole("button", { name: "Remove" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Bob Stone was removed.");
    await waitFor(() => expect(screen.queryByText("Bob Stone")).not.toBeInTheDocument());
    expect(screen.getByText(/1 member ·/)).toBeInTheDocument();
  });

  it("refuses to let the last admin leave and says why", async () => {
    const { polis } = acmeWith("org:admin");
    const onLeft = vi.fn();
    renderWithPolis(<OrganizationProfile onLeft={onLeft} />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Leave organization" }));
    await user.click(within(screen.getByRole("group", { name: "Leave organization" })).getByRole("button", { name: "Leave organization" }));

    expect(await screen.findByRole("alert")).toHaveTextContent(
      "You are the last member who can manage members. Make another member an admin before you leave, or delete the organization.",
    );
    expect(onLeft).not.toHaveBeenCalled();
  });

  it("lets a member leave", async () => {
    const { polis } = acmeWith("org:member", [[BOB, "org:admin"]]);
    const onLeft = vi.fn();
    renderWithPolis(<OrganizationProfile onLeft={onLeft} />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Leave organization" }));
    await user.click(within(screen.getByRole("group", { name: "Leave organization" })).getByRole("button", { name: "Leave organization" }));

    await waitFor(() => expect(onLeft).toHaveBeenCalledOnce());
    expect(polis.memberships.some((m) => m.identity_id === ALICE)).toBe(false);
  });

  it("shows a refused change from its code, never its status", async () => {
    const { polis, acme } = acmeWith("org:admin");
    polis.on("PATCH", `/orgs/${acme.id}/members/:id`, () => problem(403, "forbidden"));
    renderWithPolis(<OrganizationProfile />, { polis });
    const user = userEvent.setup();

    await user.selectOptions(await screen.findByRole("combobox", { name: "Role of Bob Stone" }), "org:admin");
    await user.click(screen.getByRole("button", { name: "Save role" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("You do not have permission to do that.");
    expect(alert.textContent).not.toMatch(/403/);
  });
});

describe("<OrganizationProfile /> invitations", () => {
  it("invites several addresses at once with a role, then lists them as pending", async () => {
    const { polis, acme } = acmeWith("org:admin");
    const onInvited = vi.fn();
    renderWithPolis(<OrganizationProfile defaultTab="invitations" onInvited={onInvited} />, { polis });
    const user = userEvent.setup();

    expect(await screen.findByText("No invitations.")).toBeInTheDocument();
    await user.type(await screen.findByLabelText("E-mail addresses"), "dave@example.com, erin@example.com");
    await user.selectOptions(screen.getByLabelText("Role"), "org:admin");
    await user.click(screen.getByRole("button", { name: "Send invitations" }));

    expect(await screen.findByRole("status")).toHaveTextContent(
      "Invitation sent to dave@example.com, erin@example.com.",
    );
    expect(polis.calls("POST", `/orgs/${acme.id}/invitations/bulk`)[0]?.body).toEqual([
      { email_address: "dave@example.com", role: "org:admin" },
      { email_address: "erin@example.com", role: "org:admin" },
    ]);
    expect(onInvited.mock.calls[0]?.[0]).toHaveLength(2);
    const row = (await screen.findByText("dave@example.com")).closest("tr") as HTMLElement;
    expect(within(row).getByText("Pending")).toBeInTheDocument();
    expect(within(row).getByText("Admin")).toBeInTheDocument();
  });

  it("sends one address through the single endpoint with the default role", async () => {
    const { polis, acme } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile defaultTab="invitations" />, { polis });
    const user = userEvent.setup();

    await user.type(await screen.findByLabelText("E-mail addresses"), "dave@example.com");
    await waitFor(() => expect(screen.getByLabelText("Role")).toHaveValue("org:member"));
    await user.click(screen.getByRole("button", { name: "Send invitations" }));
    await screen.findByRole("status");
    expect(polis.calls("POST", `/orgs/${acme.id}/invitations`)[0]?.body).toEqual({
      email_address: "dave@example.com",
      role: "org:member",
    });
  });

  it("catches what is plainly not an address before sending", async () => {
    const { polis } = acmeWith("org:admin");
    renderWithPolis(<OrganizationProfile defaultTab="invitations" />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Send invitations" }));
    expect(screen.getByLabelText("E-mail addresses")).toHaveAccessibleDescription(/Enter at least one e-mail address/);
    await user.type(screen.getByLabelText("E-mail addresses"), "dave@example.com nope");
    await user.click(screen.getByRole("button", { name: "Send invitations" }));
    expect(screen.getByLabelText("E-mail addresses")).toHaveAccessibleDescription(/nope is not an e-mail address/);
    expect(polis.requests.some((r) => r.method === "POST")).toBe(false);
  });

  it("names the address a bulk validation error is about, and shows invitation_exists", async () => {
    const { polis, acme } = acmeWith("org:admin");
    polis.on(
      "POST",
      `/orgs/${acme.id}/invitations/bulk`,
      () => problem(422, "validation_failed", { errors: [{ field: "[1].email_address", message: "is not a valid e-mail address" }] }),
      { once: true },
    );
    polis.invite(acme, "dave@example.com");
    renderWithPolis(<OrganizationProfile defaultTab="invitations" />, { polis });
    const user = userEvent.setup();

    await user.type(await screen.findByLabelText("E-mail addresses"), "erin@example.com bad@example");
    await user.click(screen.getByRole("button", { name: "Send invitations" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Some fields are not valid.");
    expect(screen.getByText("bad@example")).toBeInTheDocument();
    expect(screen.getByText(/is not a valid e-mail address/)).toBeInTheDocument();

    await user.clear(screen.getByLabelText("E-mail addresses"));
    await user.type(screen.getByLabelText("E-mail addresses"), "dave@example.com");
    await user.click(screen.getByRole("button", { name: "Send invitations" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This address already has a pending invitation.");
  });

  it("revokes a pending invitation and filters by status", async () => {
    const { polis, acme } = acmeWith("org:admin");
    polis.invite(acme, "dave@example.com");
    renderWithPolis(<OrganizationProfile defaultTab="invitations" />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Revoke the invitation to dave@example.com" }));
    expect(await screen.findByRole("status")).toHaveTextContent("The invitation to dave@example.com was revoked.");
    expect(await screen.findByText("No invitations.")).toBeInTheDocument();

    await user.selectOptions(screen.getByRole("combobox", { name: "Status" }), "");
    const row = (await screen.findByText("dave@example.com")).closest("tr") as HTMLElement;
    expect(within(row).getByText("Revoked")).toBeInTheDocument();
    expect(within(row).queryByRole("button")).not.toBeInTheDocument();
  });
});

describe("<OrganizationProfile /> settings", () => {
  it("saves only what changed, and shows slug_taken at the slug", async () => {
    const { polis, acme } = acmeWith("org:admin");
    polis.addOrg("Taken", "taken", [[BOB, "org:admin"]]);
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    const slug = await screen.findByLabelText("Slug");
    await user.clear(slug);
    await user.type(slug, "taken");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This slug is taken. Choose another.");
    expect(slug).toHaveAccessibleDescription(/This slug is taken/);

    await user.clear(slug);
    await user.type(slug, "acme-corp");
    await user.clear(screen.getByLabelText("Name"));
    await user.type(screen.getByLabelText("Name"), "Acme Corporation");
    await user.type(screen.getByLabelText("Image URL"), "https://img.example.com/acme.png");
    await user.click(screen.getByRole("button", { name: "Save" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Saved.");
    expect(polis.calls("PATCH", `/orgs/${acme.id}`).at(-1)?.body).toEqual({
      name: "Acme Corporation",
      slug: "acme-corp",
      image_url: "https://img.example.com/acme.png",
    });
    expect(await screen.findByRole("heading", { name: "Acme Corporation" })).toBeInTheDocument();
  });

  it("deletes only after the slug is typed", async () => {
    const { polis } = acmeWith("org:admin");
    const onDeleted = vi.fn();
    renderWithPolis(<OrganizationProfile defaultTab="settings" onDeleted={onDeleted} />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Delete organization" }));
    const confirmButton = screen.getByRole("button", { name: "Delete permanently" });
    expect(confirmButton).toBeDisabled();
    await user.type(screen.getByLabelText("Type acme to confirm"), "acme");
    await user.click(confirmButton);

    await waitFor(() => expect(onDeleted).toHaveBeenCalledOnce());
    expect(polis.orgs).toHaveLength(0);
  });
});
