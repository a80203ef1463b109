import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { CreateOrganization } from "../src/index.js";
import { BASE_URL, renderWithPolis } from "./render.js";
import { ALICE, FakePolis, problem } from "./fakePolis.js";

describe("<CreateOrganization />", () => {
  it("creates the org, makes it active and reports it", async () => {
    const onCreated = vi.fn();
    const { polis } = renderWithPolis(<CreateOrganization onCreated={onCreated} />);
    const user = userEvent.setup();

    await user.type(screen.getByLabelText("Name"), "Acme Corp");
    expect(screen.getByLabelText("Slug (optional)")).toHaveAttribute("placeholder", "acme-corp");
    await user.click(screen.getByRole("button", { name: "Create organization" }));

    await waitFor(() => expect(onCreated).toHaveBeenCalledOnce());
    expect(polis.calls("POST", "/orgs")[0]?.body).toEqual({ name: "Acme Corp" });
    const created = onCreated.mock.calls[0]?.[0];
    expect(created).toMatchObject({ name: "Acme Corp", slug: "acme-corp" });
    expect(window.localStorage.getItem(`polis.activeOrg:${BASE_URL}`)).toBe(created.id);
  });

  it("checks the slug before sending anything", async () => {
    const { polis } = renderWithPolis(<CreateOrganization />);
    const user = userEvent.setup();

    await user.type(screen.getByLabelText("Name"), "Acme");
    const slug = screen.getByLabelText("Slug (optional)");
    await user.type(slug, "Acme_Corp");
    expect(slug).toHaveAttribute("aria-invalid", "true");
    expect(slug).toHaveAccessibleDescription(/Use only lowercase letters, digits and hyphens/);

    await user.clear(slug);
    await user.type(slug, "0190b7a2-7c1e-7d2b-9a57-0c2f5f0b8e11");
    expect(slug).toHaveAccessibleDescription(/cannot look like an id/);

    await user.click(screen.getByRole("button", { name: "Create organization" }));
    expect(polis.calls("POST", "/orgs")).toHaveLength(0);
  });

  it("shows 409 slug_taken at the slug field, and clears it on edit", async () => {
    const polis = new FakePolis();
    polis.addOrg("Acme", "acme", [[ALICE, "org:admin"]]);
    renderWithPolis(<CreateOrganization />, { polis });
    const user = userEvent.setup();

    await user.type(screen.getByLabelText("Name"), "Acme again");
    const slug = screen.getByLabelText("Slug (optional)");
    await user.type(slug, "acme");
    await user.click(screen.getByRole("button", { name: "Create organization" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("This slug is taken. Choose another.");
    expect(slug).toHaveAttribute("aria-invalid", "true");
    expect(slug).toHaveAccessibleDescription(/This slug is taken/);

    await user.type(slug, "-2");
    expect(slug).toHaveAttribute("aria-invalid", "false");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("requires a name and shows the server's field errors", async () => {
    const polis = new FakePolis().on("POST", "/orgs", () =>
      problem(422, "validation_failed", { errors: [{ field: "name", message: "must not contain control characters" }] }),
    );
    renderWithPolis(<CreateOrganization />, { polis });
    const user = userEvent.setup();

    await user.click(screen.getByRole("button", { name: "Create organization" }));
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("Enter a name.");
    expect(polis.calls("POST", "/orgs")).toHaveLength(0);

    await user.type(screen.getByLabelText("Name"), "Bad");
    await user.click(screen.getByRole("button", { name: "Create organization" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Some fields are not valid.");
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("must not contain control characters");
  });
});
