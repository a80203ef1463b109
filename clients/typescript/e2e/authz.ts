/**
 * End-to-end steps for authorization in a backend: org tokens verified with jose against
 * the live JWKS (including a rotated key and an expired token), the active org, and batch
 * checks. `e2e/run.sh` starts Polis with POLIS_TOKEN_TTL=3 and passes POLIS_BIN, the
 * binary that rotates keys against the same database.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

import { checkPermissions, PolisProblemError, verifyOrgToken, type Org, type PolisClient } from "../src/index.js";

export interface AuthzContext {
  baseUrl: string;
  polisBin: string;
  alice: PolisClient;
  bob: PolisClient;
  admin: PolisClient;
  currentOrg: () => Org;
  ids: { alice: string; bob: string };
}

type Step = [string, () => Promise<void>];

const MANAGE_MEMBERS = "org:sys_memberships:manage";

export function authzSteps(ctx: AuthzContext): Step[] {
  const verify = (token: string) =>
    verifyOrgToken(token, { jwksUrl: `${ctx.baseUrl}/.well-known/jwks.json`, issuer: ctx.baseUrl });
  const tokenOf = async (client: PolisClient, org?: string) => {
    const { data, error } = await client.POST("/me/token", { body: org === undefined ? {} : { org } });
    assert.ok(data, `no token: ${JSON.stringify(error)}`);
    return data;
  };
  const kidOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()).kid;
  const rotate = (...args: string[]) =>
    execFileSync(ctx.polisBin, ["keys", "rotate", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const publishedKids = async () => {
    const response = await fetch(`${ctx.baseUrl}/.well-known/jwks.json`);
    assert.equal(response.headers.get("cache-control"), "public, max-age=60");
    const jwks = (await response.json()) as { keys: Array<{ kid: string }> };
    return jwks.keys.map((k) => k.kid);
  };

  return [
    [
      "alice's org token verifies with jose against the JWKS, and has() reads it",
      async () => {
        const org = ctx.currentOrg();
        const { token, expires_at } = await tokenOf(ctx.alice, org.slug);
        const claims = await verify(token);
        assert.equal(claims.sub, ctx.ids.alice);
        assert.equal(claims.org_id, org.id);
        assert.equal(claims.org_slug, org.slug);
        assert.equal(claims.org_role, "org:admin");
        assert.equal(new Date(expires_at).getTime() / 1000, claims.exp);
        assert.ok(claims.has({ permission: MANAGE_MEMBERS }));
        assert.ok(claims.has({ role: "org:admin" }));
        assert.ok(!claims.has({ role: "org:member" }));
        const bobs = await verify((await tokenOf(ctx.bob, org.id)).token);
        assert.ok(!bobs.has({ permission: MANAGE_MEMBERS }), "bob is a plain member");
      },
    ],
    [
      "checkPermissions answers a batch in order, with a problem per bad item",
      async () => {
        const org = ctx.currentOrg();
        const [manage, member, unknown, malformed] = await checkPermissions(ctx.bob, [
          { org: org.slug, permission: MANAGE_MEMBERS },
          { org: org.id, role: "org:member" },
          { org: "no-such-org" },
          { org: org.id, permission: "manage" },
        ]);
        assert.equal(manage?.allowed, false);
        assert.equal(manage?.role, "org:member");
        assert.equal(member?.allowed, true);
        assert.equal(unknown?.error?.code, "org_not_found");
        assert.equal(malformed?.error?.code, "validation_failed");
        const [asked] = await checkPermissions(ctx.admin, [{ org: org.id, identity_id: ctx.ids.alice, permission: MANAGE_MEMBERS }]);
        assert.equal(asked?.allowed, true);
        await assert.rejects(checkPermissions(ctx.bob, []), (err: unknown) => {
          assert.ok(err instanceof PolisProblemError);
          assert.equal(err.problem?.code, "validation_failed");
          return true;
        });
      },
    ],
    [
      "bob's active org is kept by Polis and goes into his tokens",
      async () => {
        const org = ctx.currentOrg();
        const none = await ctx.bob.GET("/me/active-org");
        assert.equal(none.data?.org, null);
        const set = await ctx.bob.PUT("/me/active-org", { body: { org: org.slug } });
        assert.equal(set.data?.org?.id, org.id);
        const claims = await verify((await tokenOf(ctx.bob)).token);
        assert.equal(claims.org_id, org.id);
        const cleared = await ctx.bob.DELETE("/me/active-org");
        assert.equal(cleared.response.status, 204);
        assert.equal((await ctx.bob.GET("/me/active-org")).data?.org, null);
      },
    ],
    [
      "an expired token is refused (POLIS_TOKEN_TTL=3)",
      async () => {
        const { token, expires_at } = await tokenOf(ctx.alice);
        await verify(token);
        await sleep(new Date(expires_at).getTime() - Date.now() + 1100);
        await assert.rejects(verify(token), (err: unknown) => {
          assert.equal((err as { code?: string }).code, "ERR_JWT_EXPIRED");
          return true;
        });
      },
    ],
    [
      "after `polis keys rotate` the next key is published first and old tokens stay valid",
      async () => {
        const before = await tokenOf(ctx.alice);
        const oldKid = kidOf(before.token);
        const next = rotate();
        assert.deepEqual(await publishedKids(), [next, oldKid], "published before it signs");
        assert.equal(kidOf((await tokenOf(ctx.alice)).token), oldKid, "the old key signs until then");
        await verify(before.token);
        // A compromised key: the newest signs at once, everywhere within seconds.
        const newest = rotate("--immediately");
        let after = await tokenOf(ctx.alice);
        for (let tries = 0; kidOf(after.token) !== newest && tries < 40; tries += 1) {
          await sleep(250);
          after = await tokenOf(ctx.alice);
        }
        assert.equal(kidOf(after.token), newest);
        const claims = await verify(after.token);
        assert.equal(claims.sub, ctx.ids.alice);
        await verify(before.token);
        assert.ok((await publishedKids()).includes(oldKid), "until its tokens expire");
      },
    ],
  ];
}
