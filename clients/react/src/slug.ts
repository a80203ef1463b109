/** The server's slug rules (`src/domain/org.rs`), checked before a request is sent. */

export const SLUG_MAX_LENGTH = 64;

export type SlugProblem = "empty" | "too_long" | "invalid_characters" | "uuid_shaped";

// The two UUID spellings that can pass the character rule: simple and hyphenated.
const UUID_SHAPED = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Why `slug` would be refused, or `null` when the server accepts it. */
export function checkSlug(slug: string): SlugProblem | null {
  if (slug.length === 0) return "empty";
  if (slug.length > SLUG_MAX_LENGTH) return "too_long";
  if (!/^[a-z0-9-]+$/.test(slug)) return "invalid_characters";
  // A slug must never be mistaken for an org id in `/orgs/{org}`.
  if (UUID_SHAPED.test(slug)) return "uuid_shaped";
  return null;
}

/**
 * The slug the server derives from `name` when none is given: lowercase ASCII letters and
 * digits, every other run of characters one `-`. Shown as a hint; the server adds a suffix
 * when the derived slug is taken.
 */
export function slugFromName(name: string): string {
  let slug = "";
  for (const c of name.toLowerCase()) {
    if (/^[a-z0-9]$/.test(c)) slug += c;
    else if (slug !== "" && !slug.endsWith("-")) slug += "-";
    if (slug.length >= SLUG_MAX_LENGTH) break;
  }
  slug = slug.replace(/-+$/, "");
  return checkSlug(slug) === null ? slug : "org";
}
