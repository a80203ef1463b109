import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { CreateOrganization, OrganizationList, OrganizationProfile } from "../src/index.js";
import { rememberActiveOrg, renderWithPolis } from "./render.js";
import { ALICE, BOB, FakePolis, json, problem } from "./fakePolis.js";

describe("errors are shown from their code", () => {
  it.each([
    [problem(401, "unauthenticated"), "You are signed out. Sign in again to continue."],
    [problem(403, "origin_not_allowed"), "This site is not allowed to make changes."],
    [problem(503, "identity_provider_unavailable"), "Sign-in is unavailable right now."],
    [problem(500, "internal_error"), "Something went wrong on the server."],
    [problem(409, "some_future_code"), "Something went wrong."],
    [json(502, "<html>Bad gateway</html>"), "The server gave an answer that could not be read."],
  ])("%j", async (reply, message) => {
    const polis = new FakePolis().on("POST", "/orgs", () => reply);
    renderWithPolis(<CreateOrganization />, { polis });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Name"), "Acme");
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent(message);
    expect(alert.textContent).not.toMatch(/\b(401|403|409|500|502|503)\b/);
  });

  it("calls an unreachable server a network error", async () => {
    const polis = new FakePolis().on("POST", "/orgs", () => {
      // What fetch does when the server is down or CORS refuses the request.
      throw new TypeError("Failed to fetch");
    });
    renderWithPolis(<CreateOrganization />, { polis });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Name"), "Acme");
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not reach the server. Check your connection and try again.");
    expect(alert).toHaveAttribute("data-code", "network_error");
  });

  it.each([
    ["90", "en", "Too many requests. Wait a moment and try again. Try again in 2 minutes."],
    ["7200", "en", "Try again in 2 hours."],
    ["5", "de", "Versuch es in 5 Sekunden wieder."],
  ])("says how long to wait after rate_limited with Retry-After %s (%s)", async (seconds, locale, message) => {
    const polis = new FakePolis().on("POST", "/orgs", () => ({
      ...problem(429, "rate_limited"),
      headers: { "Retry-After": seconds },
    }));
    renderWithPolis(<CreateOrganization />, {
      polis,
      localization: locale === "de" ? { locale, common: { retryWhen: "Versuch es {when} wieder." } } : {},
    });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Name"), "Acme");
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(message);
  });

  it("lets every text be replaced", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme", "acme", [[ALICE, "org:admin"], [BOB, "org:member"]]);
    rememberActiveOrg(acme.id);
    polis.on("DELETE", "/orgs/:org/members/:id", () => problem(409, "last_admin"));
    renderWithPolis(<OrganizationProfile />, {
      polis,
      localization: {
        profile: { membersTab: "Mitglieder" },
        members: { leave: "Organisation verlassen", lastAdminOnLeave: "Du bist der letzte Admin." },
      },
    });
    const user = userEvent.setup();

    expect(await screen.findByRole("tab", { name: "Mitglieder" })).toBeInTheDocument();
    expect(screen.getByRole("tab", { name: "Invitations" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Organisation verlassen" }));
    await user.click(screen.getAllByRole("button", { name: "Organisation verlassen" }).at(-1) as HTMLElement);
    expect(await screen.findByRole("alert")).toHaveTextContent("Du bist der letzte Admin.");
  });
});

describe("<OrganizationList />", () => {
  it("offers the caller's orgs and invitations, and activates the chosen org", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme Corp", "acme", [[ALICE, "org:admin"]]);
    const globex = polis.addOrg("Globex", "globex", [[BOB, "org:admin"]]);
    polis.invite(globex, "alice@example.com");
    const onSelect = vi.fn();
    renderWithPolis(<OrganizationList onSelect={onSelect} />, { polis });
    const user = userEvent.setup();

    expect(await screen.findByRole("heading", { name: "Choose an organization" })).toBeInTheDocument();
    await user.click(await screen.findByRole("button", { name: "Accept the invitation to Globex" }));
    expect(await screen.findByRole("button", { name: /^Globex/ })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: /^Acme Corp/ }));
    expect(onSelect).toHaveBeenCalledWith(expect.objectContaining({ id: acme.id }));
  });

  it("says when there is nothing to choose and offers to create one", async () => {
    renderWithPolis(<OrganizationList />);
    const user = userEvent.setup();
    expect(await screen.findByText("You are not a member of any organization yet.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    expect(screen.getByRole("form", { name: "Create organization" })).toBeInTheDocument();
  });
});
