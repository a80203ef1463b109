/** The browser scenario: each step acts as a person would and checks what they see. */
import { join } from "node:path";

import type { Page } from "playwright-core";

import type { Stack } from "../scripts/stack.js";
import { seriousViolations, type Person } from "./browser.js";

interface Context {
  appOrigin: string;
  stack: Stack;
  alice: Person;
  bob: Person;
  carol: Person;
  screenshotsDir: string;
}

const BOB_ID = "8c1f2a0b-5d4e-4f6a-b7c8-9d0e1f2a3b4c";
const ALICE_ID = "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11";
const CAROL_ID = "8a2791bb-9a45-4c0a-bf0e-174b32143e96";

export async function scenario({ appOrigin, stack, alice, bob, carol, screenshotsDir }: Context) {
  let shots = 0;
  /** Saves the screen and fails on serious or critical accessibility violations. */
  const screen = async (page: Page, name: string) => {
    shots += 1;
    const file = join(screenshotsDir, `${String(shots).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const violations = await seriousViolations(page);
    if (violations.length > 0) {
      const lines = violations.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(", ")}`);
      throw new Error(`axe-core on ${name}:\n    ${lines.join("\n    ")}`);
    }
  };
  const A = alice.page;
  const B = bob.page;
  const C = carol.page;
  const alert = (page: Page, text: string) => page.getByRole("alert").filter({ hasText: text });
  const status = (page: Page, text: string) => page.getByRole("status").filter({ hasText: text });
  const openSwitcher = async (page: Page) => {
    await page.locator(".polis-switcher-trigger").click();
    await page.locator(".polis-switcher-panel").waitFor();
  };

  const steps: [string, () => Promise<void>][] = [
    [
      "Alice signs in (the Kratos session cookie) and is asked to choose an organization",
      async () => {
        await A.goto(appOrigin);
        await A.getByRole("heading", { name: "Sign in" }).waitFor();
        await screen(A, "sign-in");
        await A.getByRole("button", { name: /Sign in as Alice Ng/ }).click();
        await A.getByText("You are not a member of any organization yet.").waitFor();
        await screen(A, "alice-choose-organization");
      },
    ],
    [
      "Alice creates Acme Corp, which becomes her active organization",
      async () => {
        await A.getByRole("button", { name: "Create organization" }).click();
        await A.getByLabel("Name").fill("Acme Corp");
        await A.getByRole("button", { name: "Create organization" }).click();
        await A.getByRole("heading", { name: "Acme Corp", level: 1 }).waitFor();
        await A.getByRole("button", { name: "Acme Corp, switch organization" }).waitFor();
        await screen(A, "alice-dashboard");
      },
    ],
    [
      "a taken slug is refused inline (409 slug_taken); Alice then creates Globex from the switcher",
      async () => {
        await openSwitcher(A);
        await A.locator(".polis-switcher-panel").getByRole("button", { name: "Create organization" }).click();
        await A.getByLabel("Name").fill("Acme Corp");
        await A.getByLabel("Slug (optional)").fill("acme-corp");
        await A.getByRole("button", { name: "Create organization" }).click();
        await A.locator(".polis-field-error", { hasText: "This slug is taken. Choose another." }).waitFor();
        if ((await A.getByLabel("Slug (optional)").getAttribute("aria-invalid")) !== "true") {
          throw new Error("the slug field is not marked invalid");
        }
        await screen(A, "slug-taken");
        await A.getByLabel("Name").fill("Globex");
        await A.getByLabel("Slug (optional)").fill("globex");
        await A.getByRole("button", { name: "Create organization" }).click();
        await A.getByRole("button", { name: "Globex, switch organization" }).waitFor();
      },
    ],
    [
      "Alice switches from Globex to Acme Corp",
      async () => {
        await openSwitcher(A);
        await A.locator(".polis-switcher-panel").getByRole("button", { name: /^Globex/ }).waitFor();
        await screen(A, "alice-switcher");
        await A.locator(".polis-switcher-panel").getByRole("button", { name: /^Acme Corp/ }).click();
        await A.getByRole("heading", { name: "Acme Corp", level: 1 }).waitFor();
      },
    ],
    [
      "Alice invites bob@example.com from the profile's Invitations tab",
      async () => {
        await openSwitcher(A);
        await A.locator(".polis-switcher-panel").getByRole("button", { name: "Manage organization" }).click();
        await A.getByRole("tab", { name: "Invitations" }).click();
        await A.getByLabel("E-mail addresses").fill("bob@example.com");
        await A.getByRole("button", { name: "Send invitations" }).click();
        await status(A, "Invitation sent to bob@example.com.").waitFor();
        await A.getByRole("row").filter({ hasText: "bob@example.com" }).filter({ hasText: "Pending" }).waitFor();
        await screen(A, "alice-invitation-sent");
      },
    ],
    [
      "Bob sees the invitation in the switcher and accepts it",
      async () => {
        await B.goto(appOrigin);
        await B.getByRole("button", { name: /Sign in as Bob Stone/ }).click();
        await B.getByRole("heading", { name: "Choose an organization" }).waitFor();
        await openSwitcher(B);
        const invitations = B.locator(".polis-switcher-panel").getByRole("region", { name: "Invitations" });
        await invitations.getByText("Acme Corp").waitFor();
        await screen(B, "bob-switcher-invitation");
        await invitations.getByRole("button", { name: "Accept the invitation to Acme Corp" }).click();
        await B.locator(".polis-switcher-panel").getByRole("button", { name: /^Acme Corp/ }).waitFor();
        await invitations.waitFor({ state: "detached" });
        await screen(B, "bob-accepted");
        await B.locator(".polis-switcher-panel").getByRole("button", { name: /^Acme Corp/ }).click();
        await B.getByText("Your role: Member.").waitFor();
        await screen(B, "bob-dashboard");
      },
    ],
    [
      "Alice switches orgs, then changes Bob's role to Billing",
      async () => {
        await openSwitcher(A);
        await A.locator(".polis-switcher-panel").getByRole("button", { name: /^Globex/ }).click();
        await A.getByRole("heading", { name: "Globex", level: 1 }).waitFor();
        await openSwitcher(A);
        await A.locator(".polis-switcher-panel").getByRole("button", { name: /^Acme Corp/ }).click();
        await A.getByRole("heading", { name: "Acme Corp", level: 1 }).waitFor();
        // The dashboard's own button this time.
        await A.getByRole("main").getByRole("button", { name: "Manage organization" }).click();
        await A.getByRole("tab", { name: "Members", selected: true }).waitFor();
        await A.getByLabel("Role of Bob Stone").selectOption("org:billing");
        await A.getByRole("button", { name: "Save role" }).click();
        await status(A, "Bob Stone is now Billing.").waitFor();
        await screen(A, "alice-role-changed");
      },
    ],
    [
      "Alice tries to leave as the last admin and is told why she cannot",
      async () => {
        await A.getByRole("button", { name: "Leave organization" }).click();
        await A.getByRole("group", { name: "Leave organization" })
          .getByRole("button", { name: "Leave organization" })
          .click();
        await alert(A, "You are the last member who can manage members.").waitFor();
        await screen(A, "alice-last-admin");
      },
    ],
    [
      "the invitation reads Accepted, and the settings show the org",
      async () => {
        await A.getByRole("tab", { name: "Invitations" }).click();
        await A.getByLabel("Status", { exact: true }).selectOption("");
        await A.getByRole("row").filter({ hasText: "bob@example.com" }).filter({ hasText: "Accepted" }).waitFor();
        await screen(A, "alice-invitations");
        await A.getByRole("tab", { name: "Settings" }).click();
        await A.getByLabel("Slug", { exact: true }).waitFor();
        if ((await A.getByLabel("Slug", { exact: true }).inputValue()) !== "acme-corp") {
          throw new Error("the settings do not show the slug acme-corp");
        }
        await screen(A, "alice-settings");
      },
    ],
    [
      "Polis agrees: Bob holds org:billing, Alice is still the admin",
      async () => {
        const response = await fetch(`${stack.polisUrl}/orgs/acme-corp/members?page_size=10`, {
          headers: { Authorization: `Bearer ${stack.apiKey}` },
        });
        const body = (await response.json()) as { data: { identity_id: string; role: string }[] };
        const roles = Object.fromEntries(body.data.map((m) => [m.identity_id, m.role]));
        if (roles[BOB_ID] !== "org:billing" || roles[ALICE_ID] !== "org:admin" || body.data.length !== 2) {
          throw new Error(`unexpected members: ${JSON.stringify(roles)}`);
        }
      },
    ],
    [
      "Alice adds example.com, verified at once by her own address there, to suggest Acme Corp",
      async () => {
        const domains = A.getByRole("region", { name: "Verified domains" });
        await domains.getByText("No domains yet.").waitFor();
        await domains.getByLabel("Domain", { exact: true }).fill("example.com");
        await domains.getByLabel("Enrollment mode").selectOption("automatic_suggestion");
        await domains.getByRole("button", { name: "Add domain" }).click();
        await status(A, "example.com was added and is verified.").waitFor();
        const item = domains.getByRole("listitem", { name: "example.com" });
        await item.getByText("Enrollment mode: Automatic suggestions").waitFor();
        await item.getByText("Verified", { exact: true }).waitFor();
        await screen(A, "alice-domain-verified");
      },
    ],
    [
      "Alice adds acme.org; its verification opens, Polis says it sends no e-mail, and she removes it",
      async () => {
        const domains = A.getByRole("region", { name: "Verified domains" });
        await domains.getByLabel("Domain", { exact: true }).fill("acme.org");
        await domains.getByRole("button", { name: "Add domain" }).click();
        const item = domains.getByRole("listitem", { name: "acme.org" });
        const panel = item.getByRole("group", { name: "Verify acme.org" });
        await panel.getByLabel("E-mail address at acme.org").fill("alice@acme.org");
        await panel.getByRole("button", { name: "Send code" }).click();
        // This stack has no POLIS_SMTP_URL: 409 email_not_configured, told from its code.
        await panel.getByRole("alert").filter({ hasText: "This server does not send e-mail." }).waitFor();
        await item.getByText("Unverified", { exact: true }).waitFor();
        await screen(A, "alice-domain-verification");
        await item.getByRole("button", { name: "Remove acme.org" }).click();
        await item.getByRole("group", { name: "Remove acme.org" }).getByRole("button", { name: "Remove" }).click();
        await status(A, "acme.org was removed.").waitFor();
        await item.waitFor({ state: "detached" });
      },
    ],
    [
      "Carol, at example.com, sees Acme Corp suggested and asks to join",
      async () => {
        await C.goto(appOrigin);
        await C.getByRole("button", { name: /Sign in as Carol Diaz/ }).click();
        const suggested = C.getByRole("region", { name: "Suggested for you" });
        await suggested.getByText("Acme Corp").waitFor();
        await screen(C, "carol-suggestion");
        await suggested.getByRole("button", { name: "Request to join Acme Corp" }).click();
        await suggested.getByRole("button", { name: "Requested to join Acme Corp" }).waitFor();
        await status(C, "You asked to join Acme Corp.").waitFor();
        await screen(C, "carol-requested");
      },
    ],
    [
      "Alice accepts Carol's request from the Requests tab",
      async () => {
        await A.getByRole("tab", { name: "Requests" }).click();
        const row = A.getByRole("row").filter({ hasText: "Carol Diaz" });
        await row.getByText("carol@example.com").waitFor();
        await screen(A, "alice-requests");
        await row.getByRole("button", { name: "Accept the request from Carol Diaz" }).click();
        await status(A, "Carol Diaz is now a member.").waitFor();
        await A.getByText("No requests to join.").waitFor();
      },
    ],
    [
      "Carol now finds Acme Corp among her organizations and opens it",
      async () => {
        await C.reload();
        await C.getByRole("heading", { name: "Choose an organization" }).waitFor();
        await C.getByRole("button", { name: /^Acme Corp/ }).click();
        await C.getByText("Your role: Member.").waitFor();
        if ((await C.getByRole("region", { name: "Suggested for you" }).count()) !== 0) {
          throw new Error("Acme Corp is still suggested to its new member");
        }
        const response = await fetch(`${stack.polisUrl}/orgs/acme-corp/members/${CAROL_ID}`, {
          headers: { Authorization: `Bearer ${stack.apiKey}` },
        });
        const member = (await response.json()) as { role?: string };
        if (response.status !== 200 || member.role !== "org:member") {
          throw new Error(`Carol is not a member of Acme Corp: ${response.status} ${JSON.stringify(member)}`);
        }
      },
    ],
  ];

  let passed = 0;
  let failed = 0;
  for (const [index, [name, run]] of steps.entries()) {
    const started = Date.now();
    try {
      await run();
      passed += 1;
      console.log(`ok ${index + 1} - ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed += 1;
      console.log(`not ok ${index + 1} - ${name}\n    ${error instanceof Error ? error.message : String(error)}`);
      await A.screenshot({ path: join(screenshotsDir, "failure-alice.png"), fullPage: true }).catch(() => undefined);
      await B.screenshot({ path: join(screenshotsDir, "failure-bob.png"), fullPage: true }).catch(() => undefined);
      await C.screenshot({ path: join(screenshotsDir, "failure-carol.png"), fullPage: true }).catch(() => undefined);
      // Every later step builds on this one.
      failed += steps.length - index - 1;
      break;
    }
  }
  return { passed, failed };
}
