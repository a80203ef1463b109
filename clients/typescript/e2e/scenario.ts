/**
 * End-to-end scenario: the generated client against a running Polis and Kratos double.
 * `e2e/run.sh` starts both and runs this with POLIS_URL and POLIS_E2E_API_KEY set.
 *
 * Steps share state (the org they create), so the first failure stops the run and the
 * remaining steps are reported as skipped.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import {
  createPolisClient,
  isProblem,
  type ErrorCode,
  type Membership,
  type Org,
  type PolisClient,
  type Problem,
} from "../src/index.js";
import { authzSteps } from "./authz.js";

const ALICE = "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11";
const BOB = "8c1f2a0b-5d4e-4f6a-b7c8-9d0e1f2a3b4c";
const CAROL = "8a2791bb-9a45-4c0a-bf0e-174b32143e96";
const DAVE = "8cea92c9-b0ca-4fc0-a683-0aea210f55f0";
const ERIN = "b123ba36-e045-4e8a-879c-6d1362f38665";
const MANAGE_MEMBERS = "org:sys_memberships:manage";

const baseUrl = requiredEnv("POLIS_URL");
const apiKey = requiredEnv("POLIS_E2E_API_KEY");
const polisBin = requiredEnv("POLIS_BIN");

const alice = createPolisClient({
  baseUrl,
  credentials: { type: "sessionToken", token: "alice-session-token" },
});
const bob = createPolisClient({
  baseUrl,
  credentials: { type: "sessionToken", token: "bob-session-token", via: "x-session-token" },
});
const admin = createPolisClient({ baseUrl, credentials: { type: "apiKey", key: apiKey } });
// In Node there is no cookie jar, so a cookie client is an anonymous one.
const anonymous = createPolisClient({ baseUrl, credentials: { type: "cookie" } });

/** What a failed call returns, as every operation's `error` is typed. */
interface Failed {
  error?: Problem;
  response: Response;
}

/** Asserts a problem response and returns its typed body. */
function expectProblem(result: Failed, status: number, code: ErrorCode): Problem {
  const { error, response } = result;
  assert.equal(response.status, status, `expected HTTP ${status}, got ${response.status}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.ok(isProblem(error, code), `expected problem ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(error.type, `urn:polis:problem:${code}`);
  return error;
}

/** Unwraps a successful call, failing with the problem it carried otherwise. */
function ok<T, E>(result: { data?: T; error?: E; response: Response }, status: number): T {
  assert.equal(
    result.response.status,
    status,
    `expected HTTP ${status}, got ${result.response.status}: ${JSON.stringify(result.error)}`,
  );
  assert.ok(result.data !== undefined, "a success without a body");
  return result.data;
}

const run = randomBytes(4).toString("hex");
let org: Org | undefined;

function currentOrg(): Org {
  assert.ok(org, "no org was created");
  return org;
}

async function addMember(client: PolisClient, identity_id: string, role?: string) {
  return client.POST("/orgs/{org}/members", {
    params: { path: { org: currentOrg().slug } },
    body: role === undefined ? { identity_id } : { identity_id, role },
  });
}

async function setRole(client: PolisClient, identity_id: string, role: string) {
  return client.PATCH("/orgs/{org}/members/{identity_id}", {
    params: { path: { org: currentOrg().id, identity_id } },
    body: { role },
  });
}

const steps: Array<[string, () => Promise<void>]> = [
  [
    "the service is ready and says its version",
    async () => {
      const ready = ok(await anonymous.GET("/health/ready"), 200);
      assert.equal(ready.status, "ok");
      const version = ok(await anonymous.GET("/version"), 200);
      assert.match(version.version, /^\d+\.\d+\.\d+/);
    },
  ],
  [
    "a call without credentials gets 401 unauthenticated",
    async () => {
      expectProblem(await anonymous.GET("/orgs"), 401, "unauthenticated");
    },
  ],
  [
    "alice creates an org and is its first admin",
    async () => {
      const created = ok(
        await alice.POST("/orgs", {
          body: { name: `E2E ${run}`, slug: `e2e-${run}`, public_metadata: { plan: "trial" } },
        }),
        201,
      );
      assert.equal(created.slug, `e2e-${run}`);
      assert.equal(created.members_count, 1);
      assert.equal(created.created_by, ALICE);
      assert.deepEqual(created.public_metadata, { plan: "trial" });
      assert.equal(created.image_url, null);
      assert.equal("private_metadata" in created, false, "private metadata shown to an identity");
      org = created;
    },
  ],
  [
    "an invalid org is refused with 422 naming the field",
    async () => {
      const problem = expectProblem(await alice.POST("/orgs", { body: { name: " " } }), 422, "validation_failed");
      const fields = (problem.errors ?? []).map((e) => e.field);
      assert.deepEqual(fields, ["name"]);
    },
  ],
  [
    "alice adds four members; bob twice is 409 already_member",
    async () => {
      const added: Membership = ok(await addMember(alice, BOB), 201);
      assert.equal(added.role, "org:member", "the default role");
      assert.equal(added.identity_id, BOB);
      for (const identity of [CAROL, DAVE, ERIN]) {
        assert.equal(ok(await addMember(alice, identity, "org:member"), 201).identity_id, identity);
      }
      expectProblem(await addMember(alice, BOB), 409, "already_member");
    },
  ],
  [
    "alice pages through the members two at a time",
    async () => {
      const seen: string[] = [];
      const pageSizes: number[] = [];
      let token: string | null | undefined;
      do {
        const page = ok(
          await alice.GET("/orgs/{org}/members", {
            params: {
              path: { org: currentOrg().slug },
              query: { page_size: 2, ...(token ? { page_token: token } : {}) },
            },
          }),
          200,
        );
        pageSizes.push(page.data.length);
        seen.push(...page.data.map((m) => m.identity_id));
        token = page.next_page_token;
        assert.ok(pageSizes.length <= 10, "pagination does not end");
      } while (token);
      assert.deepEqual(pageSizes, [2, 2, 1]);
      const everyone = [ALICE, BOB, CAROL, DAVE, ERIN].sort();
      assert.deepEqual(seen, everyone, "each member once, ordered by identity id");
    },
  ],
  [
    "bob, a plain member, may not delete the org (403 forbidden)",
    async () => {
      const result = await bob.DELETE("/orgs/{org}", { params: { path: { org: currentOrg().slug } } });
      expectProblem(result, 403, "forbidden");
    },
  ],
  [
    "alice makes bob an admin, and bob steps back down",
    async () => {
      const promoted = ok(await setRole(alice, BOB, "org:admin"), 200);
      assert.equal(promoted.role, "org:admin");
      assert.ok(promoted.permissions.includes(MANAGE_MEMBERS));
      const demoted = ok(await setRole(bob, BOB, "org:member"), 200);
      assert.equal(demoted.role, "org:member");
      assert.ok(!demoted.permissions.includes(MANAGE_MEMBERS));
    },
  ],
  [
    "alice, the last admin, can neither step down nor leave (409 last_admin)",
    async () => {
      const problem = expectProblem(await setRole(alice, ALICE, "org:member"), 409, "last_admin");
      assert.equal(problem.title, "Conflict");
      assert.ok(problem.detail.length > 0);
      const leaving = await alice.DELETE("/orgs/{org}/members/{identity_id}", {
        params: { path: { org: currentOrg().slug, identity_id: ALICE } },
      });
      expectProblem(leaving, 409, "last_admin");
      const still = ok(
        await alice.GET("/orgs/{org}/members/{identity_id}", {
          params: { path: { org: currentOrg().slug, identity_id: ALICE } },
        }),
        200,
      );
      assert.equal(still.role, "org:admin");
    },
  ],
  [
    "an admin API key finds the org among all orgs, private metadata included",
    async () => {
      const page = ok(await admin.GET("/orgs", { params: { query: { query: run } } }), 200);
      const found = page.data.find((o) => o.id === currentOrg().id);
      assert.ok(found, "the org is not listed for the admin key");
      assert.equal(found.members_count, 5);
      assert.deepEqual(found.private_metadata, {});
    },
  ],
  ...authzSteps({ baseUrl, polisBin, alice, bob, admin, currentOrg, ids: { alice: ALICE, bob: BOB } }),
  [
    "alice deletes the org; afterwards it is 404 org_not_found",
    async () => {
      const deleted = await alice.DELETE("/orgs/{org}", { params: { path: { org: currentOrg().id } } });
      assert.equal(deleted.response.status, 204);
      const gone = await alice.GET("/orgs/{org}", { params: { path: { org: currentOrg().id } } });
      expectProblem(gone, 404, "org_not_found");
    },
  ],
  [
    "credentials go where they should",
    async () => {
      const sent: Request[] = [];
      const recorder = async (request: Request) => {
        sent.push(request);
        return new Response("{}", { headers: { "content-type": "application/json" } });
      };
      const clients = [
        createPolisClient({ baseUrl, credentials: { type: "cookie" }, fetch: recorder }),
        createPolisClient({ baseUrl, credentials: { type: "sessionToken", token: "t1" }, fetch: recorder }),
        createPolisClient({
          baseUrl,
          credentials: { type: "sessionToken", token: "t2", via: "x-session-token" },
          fetch: recorder,
        }),
        createPolisClient({ baseUrl, credentials: { type: "apiKey", key: "polis_k_s" }, fetch: recorder }),
      ];
      for (const client of clients) await client.GET("/roles");
      const [cookie, bearer, header, key] = sent;
      assert.ok(cookie && bearer && header && key);
      assert.equal(cookie.credentials, "include");
      assert.equal(cookie.headers.get("authorization"), null);
      assert.equal(bearer.credentials, "omit");
      assert.equal(bearer.headers.get("authorization"), "Bearer t1");
      assert.equal(header.headers.get("x-session-token"), "t2");
      assert.equal(header.headers.get("authorization"), null);
      assert.equal(key.headers.get("authorization"), "Bearer polis_k_s");
      assert.throws(() => createPolisClient({ baseUrl, credentials: { type: "apiKey", key: "secret" } }), TypeError);
    },
  ],
];

// Compile-time checks: `tsc --noEmit` fails if the generated types lose their precision.
function typeChecks(problem: Problem, polis: PolisClient) {
  // @ts-expect-error `code` is the ErrorCode union, not any string.
  const code: "no_such_code" = problem.code;
  // @ts-expect-error only documented paths can be called.
  void polis.GET("/no/such/path");
  // @ts-expect-error a member's role is a required string.
  void polis.PATCH("/orgs/{org}/members/{identity_id}", { params: { path: { org: "o", identity_id: "i" } }, body: {} });
  return code;
}
void typeChecks;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`e2e: ${name} is not set (run e2e/run.sh)`);
    process.exit(2);
  }
  return value;
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, body] of steps) {
  if (failed > 0) {
    skipped += 1;
    console.log(`skip ${name}`);
    continue;
  }
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}`);
    console.log(`     ${err instanceof Error ? err.message : String(err)}`.replaceAll("\n", "\n     "));
  }
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed > 0 ? 1 : 0;
