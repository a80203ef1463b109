/**
 * Authorization in a backend: verify Polis's signed org claims locally (no call to
 * Polis), or ask Polis several questions at once with `checkPermissions`.
 *
 * ```ts
 * const claims = await verifyOrgToken(token, {
 *   jwksUrl: "https://polis.example.com/.well-known/jwks.json",
 *   issuer: "https://polis.example.com",
 * });
 * if (claims.has({ permission: "org:invoices:create" })) …
 * ```
 */

import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";

import type { components } from "./schema.js";
import type { PolisClient } from "./index.js";

type Schemas = components["schemas"];
export type PermissionCheck = Schemas["CheckItem"];
export type PermissionCheckResult = Schemas["CheckResult"];

/** The claims of a token from `POST /me/token` (Clerk's names for the org ones). */
export interface OrgClaims {
  iss: string;
  /** The Kratos identity id. */
  sub: string;
  /** The Kratos session id; absent when the token was asked for with an OAuth2 access token. */
  sid?: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  /** Present when the token is about an org (the one asked for, or the active org). */
  org_id?: string;
  org_slug?: string;
  org_role?: string;
  org_permissions?: string[];
}

/** What `has` can ask, as Clerk's `auth().has()` does. */
export type HasCheck = { permission: string; role?: never } | { role: string; permission?: never };

export interface VerifiedOrgToken extends OrgClaims {
  /** Whether the token's org grants `permission`, or the caller holds `role` there. */
  has(check: HasCheck): boolean;
}

export interface VerifyOrgTokenOptions {
  /** `https://<polis>/.well-known/jwks.json`; fetched once and cached (refetched on an unknown key). */
  jwksUrl: string | URL;
  /** Polis's `POLIS_PUBLIC_URL`, as the token's `iss` says it. */
  issuer: string;
  /** Seconds (or a jose duration like "5s") of clock skew to allow; none by default. */
  clockTolerance?: number | string;
  /** Verify as of this moment instead of now. */
  currentDate?: Date;
}

// One remote key set per URL, so every verification shares its cache and cooldown. Kept as
// long as Polis lets caches keep it (60 s); an unknown `kid` refetches it at most every 5 s,
// so a key rotated in `--immediately` is accepted within seconds.
const keySets = new Map<string, JWTVerifyGetKey>();

function keySet(url: string | URL): JWTVerifyGetKey {
  const key = String(url);
  let set = keySets.get(key);
  if (!set) {
    set = createRemoteJWKSet(new URL(key), { cacheMaxAge: 60_000, cooldownDuration: 5_000 });
    keySets.set(key, set);
  }
  return set;
}

/**
 * Verifies a token from `POST /me/token` against Polis's published keys (ES256 only) and
 * its issuer, expiry and not-before, and returns its claims with a Clerk-like `has()`.
 * Throws jose's errors when it does not verify: `err.code` is e.g. `ERR_JWT_EXPIRED`,
 * `ERR_JWKS_NO_MATCHING_KEY` or `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`.
 */
export async function verifyOrgToken(token: string, options: VerifyOrgTokenOptions): Promise<VerifiedOrgToken> {
  const { payload } = await jwtVerify<OrgClaims>(token, keySet(options.jwksUrl), {
    issuer: options.issuer,
    algorithms: ["ES256"],
    requiredClaims: ["sub", "iat", "nbf", "exp", "jti"],
    ...(options.clockTolerance !== undefined ? { clockTolerance: options.clockTolerance } : {}),
    ...(options.currentDate !== undefined ? { currentDate: options.currentDate } : {}),
  });
  const claims = payload as OrgClaims;
  return { ...claims, has: (check) => hasClaim(claims, check) };
}

/** Clerk's `has()` over org claims: false when the token is about no org. */
export function hasClaim(claims: OrgClaims, check: HasCheck): boolean {
  if (claims.org_id === undefined) return false;
  if (check.permission !== undefined) return (claims.org_permissions ?? []).includes(check.permission);
  return claims.org_role === check.role;
}

/** A whole `POST /authz/check` request that Polis refused (e.g. more than 100 checks). */
export class PolisProblemError extends Error {
  constructor(
    readonly problem: Schemas["Problem"] | undefined,
    readonly status: number,
  ) {
    super(problem ? `${problem.code}: ${problem.detail}` : `Polis answered HTTP ${status}`);
    this.name = "PolisProblemError";
  }
}

/**
 * Asks Polis up to 100 questions in one request (one database round trip): results come
 * back in order, each with `allowed`, the `role`, the `permissions` and, for a check that
 * could not be answered, its own `error` problem. Identities may ask only about themselves;
 * API keys name `identity_id`.
 */
export async function checkPermissions(
  client: PolisClient,
  checks: PermissionCheck[],
): Promise<PermissionCheckResult[]> {
  const { data, error, response } = await client.POST("/authz/check", { body: { checks } });
  if (!data) throw new PolisProblemError(error, response.status);
  return data.results;
}
