/**
 * `npm run e2e`: the organization UI in a real browser against a live Polis.
 *
 * Starts Polis on a fresh PostgreSQL database and the Kratos double (cookie sessions, CORS
 * limited to the app's origin, as in production), builds the example app and serves it, then
 * plays the scenario in Debian's Chromium: Alice creates orgs, invites Bob, switches orgs,
 * changes Bob's role and fails to leave as the last admin; Bob accepts from the switcher.
 * Alice then adds her domain in suggestion mode (and tries to verify, then removes, another);
 * Carol, at that domain, asks to join from the suggestion, and Alice accepts the request.
 * Each screen is saved to e2e/screenshots/ and checked with axe-core (no serious or critical
 * violations). Ports: POLIS_E2E_PORT (18180), KRATOS_E2E_PUBLIC_PORT (14533),
 * KRATOS_E2E_ADMIN_PORT (14534), APP_E2E_PORT (15173); database POLIS_REACT_E2E_DB.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

import { build, preview, type PreviewServer } from "vite";

import {
  assertPortFree,
  ensureRole,
  freshPostgresDatabase,
  reactDir,
  say,
  startStack,
  type Stack,
} from "../scripts/stack.js";
import { CHROMIUM, openBrowser, type Person } from "./browser.js";
import { scenario } from "./scenario.js";

const polisPort = Number(process.env.POLIS_E2E_PORT ?? 18180);
const appPort = Number(process.env.APP_E2E_PORT ?? 15173);
const appOrigin = `http://127.0.0.1:${appPort}`;
const outputDir = join(reactDir, "e2e", ".output");
const screenshotsDir = join(reactDir, "e2e", "screenshots");

if (!existsSync(CHROMIUM)) {
  console.error(`e2e: no Chromium at ${CHROMIUM}; install Debian's package: apt-get install -y chromium`);
  process.exit(1);
}

let stack: Stack | undefined;
let server: PreviewServer | undefined;
const people: Person[] = [];
let failed = false;
try {
  rmSync(screenshotsDir, { recursive: true, force: true });
  rmSync(join(outputDir, "logs"), { recursive: true, force: true });
  mkdirSync(screenshotsDir, { recursive: true });
  await assertPortFree(appPort);
  const databaseUrl = freshPostgresDatabase(
    process.env.POLIS_E2E_PG ?? "postgres://postgres@127.0.0.1:5432",
    process.env.POLIS_REACT_E2E_DB ?? "polis_react_e2e",
  );
  stack = await startStack({
    polisPort,
    kratosPublicPort: Number(process.env.KRATOS_E2E_PUBLIC_PORT ?? 14533),
    kratosAdminPort: Number(process.env.KRATOS_E2E_ADMIN_PORT ?? 14534),
    databaseUrl,
    allowedOrigins: [appOrigin],
    seedFile: join(reactDir, "example", "seed.json"),
    logDir: join(outputDir, "logs"),
  });
  await ensureRole(stack, {
    key: "org:billing",
    name: "Billing",
    description: "Sees members and manages invoices",
    permissions: ["org:sys_memberships:read", "org:invoices:manage"],
  });

  say("building the example app");
  process.env.VITE_POLIS_PORT = String(polisPort);
  const configFile = join(reactDir, "example", "vite.config.ts");
  await build({ configFile, logLevel: "warn" });
  server = await preview({ configFile, preview: { port: appPort }, logLevel: "warn" });
  say(`app at ${appOrigin}, Polis at ${stack.polisUrl}; browser ${CHROMIUM}`);

  const alice = await openBrowser();
  people.push(alice);
  const bob = await openBrowser();
  people.push(bob);
  const carol = await openBrowser();
  people.push(carol);
  const result = await scenario({ appOrigin, stack, alice, bob, carol, screenshotsDir });
  failed = result.failed > 0;
  const errors = people.flatMap((p) => p.pageErrors);
  if (errors.length > 0) {
    failed = true;
    console.error(`e2e: uncaught errors on the page:\n  ${errors.join("\n  ")}`);
  }
  say(`screenshots in ${screenshotsDir}`);
  console.log(`e2e: ${result.passed} passed, ${result.failed} failed`);
} catch (error) {
  failed = true;
  console.error("e2e: could not run the scenario:", error);
} finally {
  await Promise.all(people.map((p) => p.close().catch(() => undefined)));
  await server?.close();
  await stack?.stop();
  if (failed && stack) {
    for (const log of stack.logs) {
      const lines = readFileSync(log, "utf8").trimEnd().split("\n").slice(-30);
      console.error(`---- last lines of ${log}\n${lines.join("\n")}`);
    }
  }
}
process.exit(failed ? 1 : 0);
