import type { Membership } from "../types.js";

/**
 * A member's display name from their Kratos traits: `name` (a string, or Kratos's
 * `{first, last}`), then first and last name, username, e-mail, and the id as a last resort.
 */
export function memberName(member: Pick<Membership, "identity" | "identity_id">): string {
  const traits = (member.identity?.traits ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === "string" ? value.trim() : "");
  const name = traits.name;
  if (typeof name === "string" && name.trim()) return name.trim();
  if (typeof name === "object" && name !== null) {
    const parts = name as Record<string, unknown>;
    const full = [text(parts.first), text(parts.last)].filter(Boolean).join(" ");
    if (full) return full;
  }
  const full = [text(traits.first_name), text(traits.last_name)].filter(Boolean).join(" ");
  return full || text(traits.username) || text(traits.email) || member.identity_id;
}

export function memberEmail(member: Pick<Membership, "identity">): string | null {
  const email = (member.identity?.traits as Record<string, unknown> | undefined)?.email;
  return typeof email === "string" ? email : null;
}

export function memberPicture(member: Pick<Membership, "identity">): string | null {
  const picture = (member.identity?.traits as Record<string, unknown> | undefined)?.picture;
  return typeof picture === "string" && /^https?:\/\//.test(picture) ? picture : null;
}

/** A date in the user's locale, without the time. */
export function shortDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** A requester's name from the public data Polis keeps: first and last name, e-mail, then the id. */
export function requesterName(user: {
  user_id: string;
  first_name: string | null;
  last_name: string | null;
  identifier: string | null;
}): string {
  const full = [user.first_name?.trim(), user.last_name?.trim()].filter(Boolean).join(" ");
  return full || user.identifier?.trim() || user.user_id;
}
