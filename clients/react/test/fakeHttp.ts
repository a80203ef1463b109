/** The request/reply plumbing of the fake Polis API (see fakePolis.ts). */

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Headers;
}
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type Handler = (request: FakeRequest, params: Record<string, string>) => Reply | Promise<Reply>;
export type Route = [method: string, pattern: string, handler: Handler];

export const json = (status: number, body: unknown): Reply => ({ status, body });
export const problem = (status: number, code: string, extra: object = {}): Reply => ({
  status,
  body: { type: `urn:polis:problem:${code}`, title: "Problem", status, detail: `${code} (test)`, code, ...extra },
});

/** One page of `rows` as Polis pages them; the token is the next row's index. */
export function page<T>(rows: T[], query: URLSearchParams) {
  const size = Number(query.get("page_size") ?? 50);
  const start = Number(query.get("page_token") ?? 0);
  const end = start + size;
  return { data: rows.slice(start, end), next_page_token: end < rows.length ? String(end) : null };
}

export function compile(pattern: string): { regex: RegExp; keys: string[] } {
  const keys: string[] = [];
  const source = pattern.replace(/:(\w+)/g, (_all, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  return { regex: new RegExp(`^${source}$`), keys };
}

export function params(keys: string[], match: RegExpExecArray): Record<string, string> {
  return Object.fromEntries(keys.map((key, i) => [key, decodeURIComponent(match[i + 1] ?? "")]));
}
