/**
 * A typed client for the Polis API.
 *
 * Every path, parameter, body and response type comes from `./schema.ts`, which
 * `npm run generate` writes from `openapi/openapi.json`; requests go through
 * openapi-fetch. This file only adds how a caller proves who it is.
 *
 * ```ts
 * const polis = createPolisClient({
 *   baseUrl: "https://polis.example.com",
 *   credentials: { type: "sessionToken", token },
 * });
 * const { data, error } = await polis.POST("/orgs", { body: { name: "Acme" } });
 * if (error) console.log(error.code); // a typed ErrorCode, e.g. "slug_taken"
 * ```
 */

import createClient, { type Client, type ClientOptions } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export {
  checkPermissions,
  hasClaim,
  PolisProblemError,
  verifyOrgToken,
  type HasCheck,
  type OrgClaims,
  type PermissionCheck,
  type PermissionCheckResult,
  type VerifiedOrgToken,
  type VerifyOrgTokenOptions,
} from "./authz.js";

type Schemas = components["schemas"];

/** An RFC 9457 problem document: every error body Polis sends. */
export type Problem = Schemas["Problem"];
/** The stable machine codes of problems; branch on these, never on `detail`. */
export type ErrorCode = Schemas["ErrorCode"];
export type FieldError = Schemas["FieldError"];
export type Org = Schemas["OrgResponse"];
export type Membership = Schemas["MembershipResponse"];
export type MyMembership = Schemas["MyMembershipResponse"];
export type Role = Schemas["RoleResponse"];
/** An org a verified domain suggests to the caller (`GET /me/suggestions`). */
export type Suggestion = Schemas["SuggestionResponse"];
/** A request to join an org, made by accepting a suggestion. */
export type MembershipRequest = Schemas["MembershipRequestResponse"];
/** A verified domain of an organization (`/orgs/{org}/domains`). */
export type Domain = Schemas["DomainResponse"];
export type EnrollmentMode = Schemas["EnrollmentMode"];

/** The prefix of every Polis API key. */
export const API_KEY_PREFIX = "polis_";

/** How the client proves who is calling. */
export type PolisCredentials =
  /**
   * A browser app: the Kratos session cookie is sent with every request
   * (`credentials: "include"`). Polis must list the app's origin in
   * `POLIS_CORS_ALLOWED_ORIGINS`, or its writes are refused with `origin_not_allowed`.
   */
  | { type: "cookie" }
  /**
   * A Kratos session token (native apps, or a server acting for a signed-in user),
   * sent as `Authorization: Bearer <token>` (the default) or as `X-Session-Token`.
   */
  | { type: "sessionToken"; token: string; via?: "bearer" | "x-session-token" }
  /** A Polis API key (`polis_…`) for services and admin tools. */
  | { type: "apiKey"; key: string };

export interface PolisClientOptions {
  /** Where Polis is served, e.g. `https://polis.example.com` (no trailing path needed). */
  baseUrl: string;
  credentials: PolisCredentials;
  /** A `fetch` to use instead of the global one. */
  fetch?: ClientOptions["fetch"];
}

export type PolisClient = Client<paths>;

/** A client whose every request carries `credentials`. */
export function createPolisClient({ baseUrl, credentials, fetch }: PolisClientOptions): PolisClient {
  return createClient<paths>({
    baseUrl,
    // Only cookie sessions need the browser's cookies; token callers keep them out,
    // so a stray cookie never decides who is calling.
    credentials: credentials.type === "cookie" ? "include" : "omit",
    headers: authHeaders(credentials),
    ...(fetch ? { fetch } : {}),
  });
}

/** The request headers that carry `credentials` (none for cookies: the browser sends those). */
export function authHeaders(credentials: PolisCredentials): Record<string, string> {
  switch (credentials.type) {
    case "cookie":
      return {};
    case "sessionToken": {
      const token = nonEmpty(credentials.token, "session token");
      if (token.startsWith(API_KEY_PREFIX)) {
        throw new TypeError("this looks like a Polis API key; pass it as { type: \"apiKey\" }");
      }
      return credentials.via === "x-session-token"
        ? { "X-Session-Token": token }
        : { Authorization: `Bearer ${token}` };
    }
    case "apiKey": {
      const key = nonEmpty(credentials.key, "API key");
      // Polis reads any other bearer token as a Kratos session token, so a mistyped key
      // would come back as a puzzling 401 from Kratos; say so here instead.
      if (!key.startsWith(API_KEY_PREFIX)) {
        throw new TypeError(`a Polis API key starts with "${API_KEY_PREFIX}"`);
      }
      return { Authorization: `Bearer ${key}` };
    }
  }
}

/**
 * Whether `error` is a problem document, and with `code`, that one:
 * `if (isProblem(error, "last_admin")) …`.
 */
export function isProblem<C extends ErrorCode>(
  error: unknown,
  code?: C,
): error is Problem & { code: C } {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as Partial<Problem>;
  return (
    typeof candidate.code === "string" &&
    typeof candidate.status === "number" &&
    (code === undefined || candidate.code === code)
  );
}

function nonEmpty(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === "") throw new TypeError(`the ${what} is empty`);
  return trimmed;
}
