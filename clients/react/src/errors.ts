import { isProblem, type ErrorCode, type FieldError, type Problem } from "@polis/client";

/**
 * What went wrong, by code: the server's problem codes plus two for failures that never
 * reached a problem document (the network, or a body that is not one).
 */
export type PolisErrorCode = ErrorCode | "network_error" | "unexpected_response";

/** A failed Polis call. Show it from `code`; `detail` is the server's English text. */
export class PolisError extends Error {
  readonly code: PolisErrorCode;
  /** Invalid fields, for `validation_failed` (`[i].email_address` for bulk invitations). */
  readonly fieldErrors: FieldError[];
  readonly problem: Problem | undefined;
  /** For `rate_limited`: the seconds the server's `Retry-After` asked to wait, when it gave them. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: PolisErrorCode, message: string, problem?: Problem, retryAfterSeconds?: number) {
    super(message);
    this.name = "PolisError";
    this.code = code;
    this.problem = problem;
    this.fieldErrors = problem?.errors ?? [];
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The first message the server gave for `field`, if it named that field. */
  fieldMessage(field: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === field)?.message;
  }
}

export function isPolisError(error: unknown, code?: PolisErrorCode): error is PolisError {
  return error instanceof PolisError && (code === undefined || error.code === code);
}

/** A server older than the route answers `route_not_found` (or, for a known path, `method_not_allowed`). */
export function isMissingRoute(error: unknown): boolean {
  return isPolisError(error, "route_not_found") || isPolisError(error, "method_not_allowed");
}

/** Turns whatever a call threw or returned as its error into a PolisError. */
export function toPolisError(error: unknown): PolisError {
  if (error instanceof PolisError) return error;
  if (isProblem(error)) return new PolisError(error.code, error.detail, error);
  // fetch rejects with a TypeError when the server cannot be reached or CORS refuses
  // the request; the browser hides which, so both read as "cannot reach Polis".
  if (error instanceof TypeError) return new PolisError("network_error", error.message);
  const text = typeof error === "string" ? error.slice(0, 200) : "not a problem document";
  return new PolisError("unexpected_response", text);
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Awaits an openapi-fetch call and returns its data, or throws a PolisError. A response
 * with no body (204) gives `undefined`.
 */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (error) {
    throw toPolisError(error);
  }
  if (result.error !== undefined || !result.response.ok) {
    const error = toPolisError(result.error);
    const wait = retryAfter(result.response.headers.get("Retry-After"));
    throw wait === undefined ? error : new PolisError(error.code, error.message, error.problem, wait);
  }
  return result.data as T;
}

/** `Retry-After` in seconds: Polis sends a number of seconds; an HTTP date is read too. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
