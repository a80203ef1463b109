/**
 * `npm run example`: builds and starts Polis (SQLite in example/.polis/) and the Kratos
 * double, then serves the example app with Vite. Ctrl-C stops everything.
 *
 * Ports: POLIS_PORT (8180), KRATOS_PUBLIC_PORT (4533), KRATOS_ADMIN_PORT (4534), APP_PORT (5173).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { createServer } from "vite";

import { ensureRole, reactDir, say, startStack } from "../scripts/stack.js";

const polisPort = Number(process.env.POLIS_PORT ?? 8180);
const appPort = Number(process.env.APP_PORT ?? 5173);
const dataDir = join(reactDir, "example", ".polis");
mkdirSync(dataDir, { recursive: true });

const stack = await startStack({
  polisPort,
  kratosPublicPort: Number(process.env.KRATOS_PUBLIC_PORT ?? 4533),
  kratosAdminPort: Number(process.env.KRATOS_ADMIN_PORT ?? 4534),
  databaseUrl: `sqlite://${join(dataDir, "polis.db")}`,
  // The page may be opened by either name; each is an origin of its own.
  allowedOrigins: [`http://127.0.0.1:${appPort}`, `http://localhost:${appPort}`],
  seedFile: join(reactDir, "example", "seed.json"),
  logDir: dataDir,
});
await ensureRole(stack, {
  key: "org:billing",
  name: "Billing",
  description: "Sees members and manages invoices",
  permissions: ["org:sys_memberships:read", "org:invoices:manage"],
});

process.env.VITE_POLIS_PORT = String(polisPort);
const vite = await createServer({
  configFile: join(reactDir, "example", "vite.config.ts"),
  server: { port: appPort },
});
await vite.listen();

say(`Polis:   ${stack.polisUrl} (logs and the SQLite database in example/.polis/)`);
say(`Example: http://127.0.0.1:${appPort}/  — sign in as Alice, Bob or Carol`);
say("Ctrl-C stops Polis, the Kratos double and the app.");

const shutdown = async () => {
  await vite.close();
  await stack.stop();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
