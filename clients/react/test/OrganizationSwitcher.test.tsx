import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { OrganizationSwitcher } from "../src/index.js";
import { BASE_URL, rememberActiveOrg, renderWithPolis } from "./render.js";
import { ALICE, BOB, FakePolis } from "./fakePolis.js";

function twoOrgs() {
  const polis = new FakePolis();
  const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, "org:admin"]]);
  const globex = polis.addOrg("Globex", "globex", [[ALICE, "org:member"]]);
  return { polis, acme, globex };
}

describe("<OrganizationSwitcher />", () => {
  it("shows the active org and the caller's other orgs with their roles", async () => {
    const { polis, acme } = twoOrgs();
    rememberActiveOrg(acme.id);
    renderWithPolis(<OrganizationSwitcher />, { polis });
    const user = userEvent.setup();

    const trigger = await screen.findByRole("button", { name: "Acme Corp, switch organization" });
    expect(trigger).toHaveAttribute("aria-expanded", "false");
    await user.click(trigger);
    expect(trigger).toHaveAttribute("aria-expanded", "true");

    const list = screen.getByRole("list", { name: "Your organizations" });
    const acmeItem = within(list).getByRole("button", { name: /^Acme Corp/ });
    expect(acmeItem).toHaveAttribute("aria-current", "true");
    expect(acmeItem).toHaveTextContent("Admin");
    expect(within(list).getByRole("button", { name: /^Globex/ })).toHaveTextContent("Member");
    expect(within(list).getByRole("button", { name: /Personal account/ })).not.toHaveAttribute("aria-current");
  });

  it("switches orgs, remembers the choice, and returns focus to the trigger", async () => {
    const { polis, acme, globex } = twoOrgs();
    rememberActiveOrg(acme.id);
    const onSwitch = vi.fn();
    renderWithPolis(<OrganizationSwitcher onSwitch={onSwitch} />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Acme Corp, switch organization" }));
    await user.click(screen.getByRole("button", { name: /^Globex/ }));

    const trigger = await screen.findByRole("button", { name: "Globex, switch organization" });
    expect(trigger).toHaveFocus();
    expect(onSwitch).toHaveBeenCalledWith(expect.objectContaining({ id: globex.id, name: "Globex" }));
    expect(window.localStorage.getItem(`polis.activeOrg:${BASE_URL}`)).toBe(globex.id);
    // No /me/active-org on this server: the first answer was route_not_found, so no PUT follows.
    expect(polis.calls("GET", "/me/active-org")).toHaveLength(1);
    expect(polis.calls("PUT", "/me/active-org")).toHaveLength(0);
  });

  it("opens and closes from the keyboard", async () => {
    const { polis } = twoOrgs();
    renderWithPolis(<OrganizationSwitcher />, { polis });
    const user = userEvent.setup();

    const trigger = await screen.findByRole("button", { name: "Personal account, switch organization" });
    await waitFor(() => expect(trigger).toHaveTextContent("Personal account"));
    trigger.focus();
    await user.keyboard("{Enter}");
    expect(trigger).toHaveAttribute("aria-expanded", "true");
    await user.tab();
    expect(within(screen.getByRole("list", { name: "Your organizations" })).getByRole("button", { name: /Personal account/ })).toHaveFocus();
    await user.keyboard("{Escape}");
    expect(trigger).toHaveAttribute("aria-expanded", "false");
    expect(trigger).toHaveFocus();
  });

  it("lets an invitee accept from the switcher, and the org then shows in the list", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, "org:admin"]]);
    const globex = polis.addOrg("Globex", "globex", [[ALICE, "org:admin"]]);
    polis.invite(acme, "bob@example.com", "org:member");
    polis.invite(globex, "bob@example.com", "org:admin");
    polis.me = BOB;
    renderWithPolis(<OrganizationSwitcher />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Personal account, switch organization" }));
    const invitations = await screen.findByRole("region", { name: "Invitations" });
    expect(within(invitations).getByText("Invited as Member")).toBeInTheDocument();
    await user.click(within(invitations).getByRole("button", { name: "Accept the invitation to Acme Corp" }));
    await user.click(within(invitations).getByRole("button", { name: "Decline the invitation to Globex" }));

    const list = screen.getByRole("list", { name: "Your organizations" });
    expect(await within(list).findByRole("button", { name: /^Acme Corp/ })).toBeInTheDocument();
    expect(within(list).queryByRole("button", { name: /^Globex/ })).not.toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole("region", { name: "Invitations" })).not.toBeInTheDocument());
    expect(polis.invitations.map((i) => i.status)).toEqual(["accepted", "declined"]);
  });

  it("creates an org from the switcher and makes it active", async () => {
    const polis = new FakePolis();
    renderWithPolis(<OrganizationSwitcher />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Personal account, switch organization" }));
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    await user.type(screen.getByLabelText("Name"), "Initech");
    await user.click(screen.getByRole("button", { name: "Create organization" }));

    expect(await screen.findByRole("button", { name: "Initech, switch organization" })).toHaveFocus();
  });

  it("offers Manage only when the app handles it, and can hide the personal account", async () => {
    const { polis, acme } = twoOrgs();
    rememberActiveOrg(acme.id);
    const onManage = vi.fn();
    renderWithPolis(<OrganizationSwitcher onManage={onManage} hidePersonal hideCreate />, { polis });
    const user = userEvent.setup();

    await user.click(await screen.findByRole("button", { name: "Acme Corp, switch organization" }));
    expect(screen.queryByRole("button", { name: /Personal account/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Create organization" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Manage organization" }));
    expect(onManage).toHaveBeenCalledWith(expect.objectContaining({ id: acme.id }));
  });
});
