import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { OrganizationProfile } from "../src/index.js";
import { FAKE_CODE } from "./fakeJoining.js";
import { ALICE, BOB, FakePolis, problem } from "./fakePolis.js";
import { rememberActiveOrg, renderWithPolis } from "./render.js";

function acmeAs(myRole: string) {
  const polis = new FakePolis();
  const acme = polis.addOrg("Acme Corp", "acme", [
    [ALICE, myRole],
    [BOB, "org:admin"],
  ]);
  rememberActiveOrg(acme.id);
  return { polis, acme };
}

const domainsRegion = () => screen.findByRole("region", { name: "Verified domains" });
const item = async (name: string) => within(await domainsRegion()).findByRole("listitem", { name });

describe("<OrganizationProfile /> verified domains: who sees what", () => {
  it("shows an admin each domain's status and enrollment mode, with the controls", async () => {
    const { polis, acme } = acmeAs("org:admin");
    polis.joining.addDomain(acme, "acme.com", { verified: true, mode: "automatic_suggestion" });
    polis.joining.addDomain(acme, "acme.io");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });

    const verified = await item("acme.com");
    expect(within(verified).getByText("Verified")).toBeInTheDocument();
    expect(verified).toHaveTextContent("Enrollment mode: Automatic suggestions");
    // A verified domain needs no verifying.
    expect(within(verified).queryByRole("button", { name: "Verify acme.com" })).not.toBeInTheDocument();
    expect(within(verified).getByRole("button", { name: "Remove acme.com" })).toBeInTheDocument();
    const unverified = await item("acme.io");
    expect(within(unverified).getByText("Unverified")).toBeInTheDocument();
    expect(unverified).toHaveTextContent("Enrollment mode: No automatic enrollment");
    expect(within(unverified).getByRole("button", { name: "Verify acme.io" })).toHaveAttribute("aria-expanded", "false");
    expect(screen.getByRole("button", { name: "Add domain" })).toBeInTheDocument();
  });

  it("shows a role that may only read domains the list without any control", async () => {
    const { polis, acme } = acmeAs("org:auditor");
    polis.joining.addDomain(acme, "acme.io");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });

    const region = await domainsRegion();
    expect(await within(region).findByRole("listitem", { name: "acme.io" })).toBeInTheDocument();
    expect(within(region).getByText("Only admins can add, verify or change domains.")).toBeInTheDocument();
    expect(within(region).queryByRole("button")).not.toBeInTheDocument();
    expect(screen.queryByLabelText("Domain")).not.toBeInTheDocument();
    // Nor the profile form or deletion, which need other permissions.
    expect(screen.queryByLabelText("Slug")).not.toBeInTheDocument();
    expect(screen.getAllByRole("tab").map((t) => t.textContent)).toEqual(["Members", "Settings"]);
  });

  it("shows nothing about domains to a member without a domains permission, and never asks for them", async () => {
    const { polis, acme } = acmeAs("org:manager");
    polis.joining.addDomain(acme, "acme.io");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });

    expect(await screen.findByLabelText("Slug")).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Verified domains" })).not.toBeInTheDocument();
    expect(polis.requests.some((r) => r.path.endsWith("/domains"))).toBe(false);
  });
});

describe("<OrganizationProfile /> verified domains: adding and verifying", () => {
  it("adds a domain, sends a code to an address there, counts a wrong code and verifies with the right one", async () => {
    const { polis, acme } = acmeAs("org:admin");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    expect(await within(await domainsRegion()).findByText("No domains yet.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Domain"), "Acme.com");
    await user.selectOptions(screen.getByLabelText("Enrollment mode"), "automatic_invitation");
    await user.click(screen.getByRole("button", { name: "Add domain" }));

    expect(polis.calls("POST", `/orgs/${acme.id}/domains`)[0]?.body).toEqual({
      name: "Acme.com",
      enrollment_mode: "automatic_invitation",
    });
    expect(await screen.findByText("acme.com was added. Verify it with a code sent to an address there.")).toBeInTheDocument();
    // Verifying is the next step, opened by itself.
    const domain = await item("acme.com");
    expect(within(domain).getByRole("button", { name: "Verify acme.com" })).toHaveAttribute("aria-expanded", "true");
    const panel = within(domain).getByRole("group", { name: "Verify acme.com" });

    // An address at another domain is refused, at the field.
    await user.type(within(panel).getByLabelText("E-mail address at acme.com"), "ada@eu.acme.com");
    await user.click(within(panel).getByRole("button", { name: "Send code" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("Use an e-mail address at the domain itself.");
    expect(within(panel).getByLabelText("E-mail address at acme.com")).toHaveAttribute("aria-invalid", "true");

    const email = within(panel).getByLabelText("E-mail address at acme.com");
    await user.clear(email);
    await user.type(email, "ada@acme.com");
    await user.click(within(panel).getByRole("button", { name: "Send code" }));
    expect(await within(panel).findByText("A code was sent to ada@acme.com. It is valid for 10 minutes.")).toBeInTheDocument();
    const sent = polis.calls("POST", `/orgs/${acme.id}/domains/${polis.joining.domains[0]?.id}/verification`);
    expect(sent.map((call) => call.body)).toEqual([
      { email: "ada@eu.acme.com", locale: "en" },
      { email: "ada@acme.com", locale: "en" },
    ]);
    const code = within(panel).getByLabelText("Verification code");
    expect(code).toHaveAccessibleDescription("The 6 digits from the e-mail. 5 tries left.");
    await user.type(code, "000000");
    await user.click(within(panel).getByRole("button", { name: "Verify" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("That code is not right. 4 tries left.");
    expect(within(panel).getByLabelText("Verification code")).toHaveAttribute("aria-invalid", "true");

    await user.type(within(panel).getByLabelText("Verification code"), FAKE_CODE);
    await user.click(within(panel).getByRole("button", { name: "Verify" }));
    expect(await screen.findByText("acme.com is verified.")).toBeInTheDocument();
    const after = await item("acme.com");
    expect(within(after).getByText("Verified")).toBeInTheDocument();
    expect(within(after).queryByRole("group", { name: "Verify acme.com" })).not.toBeInTheDocument();
    expect(within(after).queryByRole("button", { name: "Verify acme.com" })).not.toBeInTheDocument();
  });

  it("adds a domain at the caller's own verified address as verified at once", async () => {
    const { polis } = acmeAs("org:admin");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.type(await screen.findByLabelText("Domain"), "example.com");
    await user.click(screen.getByRole("button", { name: "Add domain" }));
    expect(await screen.findByRole("status")).toHaveTextContent("example.com was added and is verified.");
    expect(within(await item("example.com")).getByText("Verified")).toBeInTheDocument();
    expect(screen.getByLabelText("Domain")).toHaveValue("");
  });

  it("tells why a name was refused at the field: a mail provider, a duplicate, not a name", async () => {
    const { polis, acme } = acmeAs("org:admin");
    polis.joining.addDomain(acme, "acme.com");
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();
    const name = await screen.findByLabelText("Domain");

    await user.click(screen.getByRole("button", { name: "Add domain" }));
    expect(name).toHaveAccessibleDescription(/Enter a domain name\./);
    expect(polis.calls("POST", `/orgs/${acme.id}/domains`)).toHaveLength(0);

    for (const [typed, message] of [
      ["gmail.com", "Common e-mail providers cannot be an organization's domain."],
      ["acme.com", "The organization already has this domain."],
      ["localhost", "is not a domain name"],
    ] as const) {
      await user.clear(name);
      await user.type(name, typed);
      await user.click(screen.getByRole("button", { name: "Add domain" }));
      expect(await screen.findByRole("alert")).toHaveTextContent(message);
      expect(name).toHaveAccessibleDescription(new RegExp(message.replace(/[.']/g, ".")));
    }
  });

  it("burns the code after five wrong tries and goes back to sending a new one", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com");
    Object.assign(domain, { code: FAKE_CODE, affiliation_email_address: "ada@acme.com" });
    Object.assign(domain.verification, {
      strategy: "email_code",
      attempts: 3,
      expires_at: new Date(Date.now() + 600_000).toISOString(),
    });
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Verify acme.com" }));
    const panel = screen.getByRole("group", { name: "Verify acme.com" });
    expect(within(panel).getByLabelText("Verification code")).toHaveAccessibleDescription(/2 tries left\./);
    await user.type(within(panel).getByLabelText("Verification code"), "111111");
    await user.click(within(panel).getByRole("button", { name: "Verify" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("That code is not right. 1 try left.");

    await user.type(within(panel).getByLabelText("Verification code"), "222222");
    await user.click(within(panel).getByRole("button", { name: "Verify" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent(
      "That code is not right, and no tries are left. Send a new code.",
    );
    expect(within(panel).queryByLabelText("Verification code")).not.toBeInTheDocument();
    expect(within(panel).getByLabelText("E-mail address at acme.com")).toHaveValue("ada@acme.com");
    expect(within(await item("acme.com")).getByText("Verification failed")).toBeInTheDocument();

    await user.click(within(panel).getByRole("button", { name: "Send code" }));
    expect(await within(panel).findByLabelText("Verification code")).toHaveAccessibleDescription(/5 tries left\./);
  });

  it("says an expired code expired, and sending a new code brings the code field back", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com");
    Object.assign(domain, { code: FAKE_CODE, affiliation_email_address: "ada@acme.com" });
    Object.assign(domain.verification, { strategy: "email_code", expires_at: "2026-01-01T00:00:00Z" });
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    const row = await item("acme.com");
    expect(within(row).getByText("Code expired")).toBeInTheDocument();
    await user.click(within(row).getByRole("button", { name: "Verify acme.com" }));
    const panel = screen.getByRole("group", { name: "Verify acme.com" });
    expect(within(panel).getByText("The code expired. Send a new code.")).toBeInTheDocument();
    await user.click(within(panel).getByRole("button", { name: "Send code" }));
    expect(await within(panel).findByLabelText("Verification code")).toBeInTheDocument();
  });

  it("shows rate_limited on sending with how long the server asked to wait", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com");
    polis.on("POST", `/orgs/${acme.id}/domains/:id/verification`, () => ({
      ...problem(429, "rate_limited"),
      headers: { "Retry-After": "42" },
    }));
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Verify acme.com" }));
    await user.type(screen.getByLabelText("E-mail address at acme.com"), "ada@acme.com");
    await user.click(screen.getByRole("button", { name: "Send code" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent(
      "No new code can be sent for this domain yet. Try again in 42 seconds.",
    );
    expect(alert).toHaveAttribute("data-code", "rate_limited");
    expect(domain.code).toBeNull();
  });

  it("tells a day's spent tries apart from a code sent too soon", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com");
    Object.assign(domain, { code: FAKE_CODE, affiliation_email_address: "ada@acme.com" });
    Object.assign(domain.verification, { strategy: "email_code", expires_at: new Date(Date.now() + 600_000).toISOString() });
    polis.on("POST", `/orgs/${acme.id}/domains/:id/verification/attempt`, () => ({
      ...problem(429, "rate_limited"),
      headers: { "Retry-After": "3600" },
    }));
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Verify acme.com" }));
    await user.type(screen.getByLabelText("Verification code"), FAKE_CODE);
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "No more codes can be tried for this domain yet. Try again in 1 hour.",
    );
    expect(domain.verified).toBe(false);
  });

  it("can ask for a new code while one is pending", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com");
    Object.assign(domain, { code: FAKE_CODE, affiliation_email_address: "ada@acme.com" });
    Object.assign(domain.verification, { strategy: "email_code", expires_at: new Date(Date.now() + 600_000).toISOString() });
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Verify acme.com" }));
    await user.click(screen.getByRole("button", { name: "Send a new code" }));
    const email = screen.getByLabelText("E-mail address at acme.com");
    await user.clear(email);
    await user.type(email, "bo@acme.com");
    await user.click(screen.getByRole("button", { name: "Send code" }));
    expect(await screen.findByText("A code was sent to bo@acme.com. It is valid for 10 minutes.")).toBeInTheDocument();
  });
});

describe("<OrganizationProfile /> verified domains: enrollment mode and removal", () => {
  it("changes the enrollment mode and withdraws what the domain made when asked", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com", { verified: true, mode: "automatic_suggestion" });
    const suggestion = polis.joining.suggest(acme, "0f0e0d0c-0000-4000-8000-000000000001", domain);
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    const row = await item("acme.com");
    expect(row).toHaveTextContent("Pending invitations: 0, suggestions: 1");
    await user.click(within(row).getByRole("button", { name: "Enrollment mode of acme.com" }));
    const form = within(row).getByRole("form", { name: "Enrollment mode of acme.com" });
    expect(within(form).getByRole("radio", { name: "Automatic suggestions" })).toBeChecked();
    await user.click(within(form).getByRole("radio", { name: "No automatic enrollment" }));
    expect(within(form).getByRole("radio", { name: "No automatic enrollment" })).toHaveAccessibleDescription(
      "People join only when invited.",
    );
    await user.click(within(form).getByRole("checkbox", { name: /Also withdraw the pending invitations and suggestions/ }));
    await user.click(within(form).getByRole("button", { name: "Save enrollment mode" }));

    expect(await screen.findByRole("status")).toHaveTextContent("acme.com: No automatic enrollment.");
    expect(polis.calls("PATCH", `/orgs/${acme.id}/domains/${domain.id}`)[0]?.body).toEqual({
      enrollment_mode: "manual_invitation",
      delete_pending: true,
    });
    expect(suggestion.status).toBe("withdrawn");
    await waitFor(async () => expect(await item("acme.com")).toHaveTextContent("Enrollment mode: No automatic enrollment"));
    expect(await item("acme.com")).not.toHaveTextContent("Pending invitations");
  });

  it("changes the mode without withdrawing anything unless asked", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com", { verified: true });
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Enrollment mode of acme.com" }));
    await user.click(screen.getByRole("radio", { name: "Automatic invitations" }));
    await user.click(screen.getByRole("button", { name: "Save enrollment mode" }));
    await screen.findByRole("status");
    expect(polis.calls("PATCH", `/orgs/${acme.id}/domains/${domain.id}`)[0]?.body).toEqual({
      enrollment_mode: "automatic_invitation",
    });
  });

  it("removes a domain after confirmation, and shows a refusal from its code", async () => {
    const { polis, acme } = acmeAs("org:admin");
    const domain = polis.joining.addDomain(acme, "acme.com", { verified: true });
    polis.on("DELETE", `/orgs/${acme.id}/domains/:id`, () => problem(403, "forbidden"), { once: true });
    renderWithPolis(<OrganizationProfile defaultTab="settings" />, { polis });
    const user = userEvent.setup();

    await user.click(within(await item("acme.com")).getByRole("button", { name: "Remove acme.com" }));
    const confirm = screen.getByRole("group", { name: "Remove acme.com" });
    expect(confirm).toHaveTextContent("The pending invitations and suggestions it made are withdrawn.");
    await user.click(within(confirm).getByRole("button", { name: "Remove" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent("You do not have permission to do that.");

    await user.click(within(confirm).getByRole("button", { name: "Remove" }));
    expect(await screen.findByRole("status")).toHaveTextContent("acme.com was removed.");
    expect(await within(await domainsRegion()).findByText("No domains yet.")).toBeInTheDocument();
    expect(polis.joining.domains.some((d) => d.id === domain.id)).toBe(false);
  });
});
