/**
 * Starts what the browser test and the example app need: the Kratos double (seeded with
 * sessions whose cookies are known) and Polis, built from this checkout with cargo.
 * Every process is stopped by `stop()`, and on exit or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const reactDir = fileURLToPath(new URL("..", import.meta.url));
export const repoDir = fileURLToPath(new URL("../../..", import.meta.url));

export interface StackOptions {
  polisPort: number;
  kratosPublicPort: number;
  kratosAdminPort: number;
  /** `postgres://…` or `sqlite://…`. */
  databaseUrl: string;
  /** The browser origins allowed to call Polis with the cookie (CORS and CSRF). */
  allowedOrigins: string[];
  /** The Kratos double's seed file. */
  seedFile: string;
  /** Where the services' logs go. */
  logDir: string;
}

export interface Stack {
  polisUrl: string;
  /** An admin API key, for setting up what the UI cannot (custom roles). */
  apiKey: string;
  logs: string[];
  stop: () => Promise<void>;
}

export function say(message: string): void {
  console.log(`polis-react: ${message}`);
}

/** Builds the Polis binary and the Kratos double (incremental; quiet unless it fails). */
export function buildPolis(): { polis: string; kratosDouble: string } {
  say("building polis and the Kratos double (cargo build)");
  const built = spawnSync(
    "cargo",
    ["build", "--locked", "--quiet", "--bin", "polis", "--example", "kratos-double"],
    { cwd: repoDir, stdio: "inherit" },
  );
  if (built.status !== 0) throw new Error("cargo build failed");
  const target = process.env.CARGO_TARGET_DIR ?? join(repoDir, "target");
  return { polis: join(target, "debug", "polis"), kratosDouble: join(target, "debug", "examples", "kratos-double") };
}

/** Drops and creates a PostgreSQL database with psql (trust auth on 127.0.0.1:5432). */
export function freshPostgresDatabase(server: string, name: string): string {
  const psql = spawnSync(
    "psql",
    [`${server}/postgres`, "-v", "ON_ERROR_STOP=1", "-q", "-c", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, "-c", `CREATE DATABASE ${name}`],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, PGOPTIONS: "-c client_min_messages=warning" } },
  );
  if (psql.status !== 0) throw new Error(`could not create the database ${name} (is PostgreSQL running on ${server}?)`);
  return `${server}/${name}`;
}

/** Fails when something already listens on `port`, so a test never talks to a stranger. */
export async function assertPortFree(port: number): Promise<void> {
  const inUse = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
  if (inUse) throw new Error(`port ${port} is already in use`);
}

export async function startStack(options: StackOptions): Promise<Stack> {
  for (const port of [options.polisPort, options.kratosPublicPort, options.kratosAdminPort]) {
    await assertPortFree(port);
  }
  const binaries = buildPolis();
  mkdirSync(options.logDir, { recursive: true });
  const polisUrl = `http://127.0.0.1:${options.polisPort}`;
  const kratosPublic = `http://127.0.0.1:${options.kratosPublicPort}`;
  const env = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    POLIS_LISTEN_ADDR: `127.0.0.1:${options.polisPort}`,
    KRATOS_PUBLIC_URL: kratosPublic,
    KRATOS_ADMIN_URL: `http://127.0.0.1:${options.kratosAdminPort}`,
    POLIS_CORS_ALLOWED_ORIGINS: options.allowedOrigins.join(","),
    POLIS_LOG_FORMAT: "text",
    // No metrics listener: its default port may be taken by another Polis on this machine.
    POLIS_METRICS_LISTEN_ADDR: "",
  };
  const polisLog = join(options.logDir, "polis.log");
  const kratosLog = join(options.logDir, "kratos-double.log");

  // Migrates the database and prints a new admin key, once, on stdout.
  const keyRun = spawnSync(binaries.polis, ["api-keys", "create", "--name", "react-ui", "--scope", "admin"], {
    env,
    encoding: "utf8",
  });
  if (keyRun.status !== 0) throw new Error(`polis api-keys create failed: ${keyRun.stderr}`);
  const apiKey = keyRun.stdout.trim();

  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    children.length = 0;
  };
  const onExit = () => children.forEach((child) => child.kill("SIGTERM"));
  process.once("exit", onExit);

  try {
    children.push(
      startLogged(
        binaries.kratosDouble,
        [
          "--identities",
          options.seedFile,
          "--public",
          `127.0.0.1:${options.kratosPublicPort}`,
          "--admin",
          `127.0.0.1:${options.kratosAdminPort}`,
        ],
        env,
        kratosLog,
      ),
    );
    await waitReady("the Kratos double", `${kratosPublic}/health/ready`, children[0] as ChildProcess);
    children.push(startLogged(binaries.polis, ["serve"], env, polisLog));
    await waitReady("polis", `${polisUrl}/health/ready`, children[1] as ChildProcess);
  } catch (error) {
    await stop();
    throw error;
  }
  return { polisUrl, apiKey, logs: [kratosLog, polisLog], stop };
}

function startLogged(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

/** Bounded wait: ready within 30 s, or the process died, or give up. */
async function waitReady(name: string, url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} was not ready at ${url} after 30 s`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Creates a custom role with the admin key (the role catalog is instance-wide). */
export async function ensureRole(
  stack: Stack,
  role: { key: string; name: string; description: string; permissions: string[] },
): Promise<void> {
  const response = await fetch(`${stack.polisUrl}/roles`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(role),
  });
  if (!response.ok && response.status !== 409) {
    throw new Error(`creating the role ${role.key} failed: ${response.status} ${await response.text()}`);
  }
}
