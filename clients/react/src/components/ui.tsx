import { useId, type ReactNode } from "react";

import { toPolisError, type PolisErrorCode } from "../errors.js";
import { format, type PolisLocalization } from "../localization.js";
import { useLocalization } from "../provider.js";

/**
 * The localized message for an error, chosen by its code (never its status); for
 * `rate_limited`, with how long the server asked to wait when it said so.
 */
export function describeError(
  error: unknown,
  localization: PolisLocalization,
  overrides: Partial<Record<PolisErrorCode, string>> = {},
): string {
  const { code, retryAfterSeconds } = toPolisError(error);
  const message = overrides[code] ?? localization.errors[code] ?? localization.errors.unknown;
  if (code !== "rate_limited" || retryAfterSeconds === undefined) return message;
  const when = relativeTime(retryAfterSeconds, localization.locale);
  return `${message} ${format(localization.common.retryWhen, { when })}`;
}

/** "in 42 seconds", "in 5 minutes", "in 3 hours" (rounded up) in `locale`. */
export function relativeTime(seconds: number, locale: string): string {
  let formatter: Intl.RelativeTimeFormat;
  try {
    formatter = new Intl.RelativeTimeFormat(locale, { numeric: "always" });
  } catch {
    formatter = new Intl.RelativeTimeFormat("en", { numeric: "always" });
  }
  const wait = Math.max(1, Math.ceil(seconds));
  if (wait < 60) return formatter.format(wait, "second");
  if (wait < 3600) return formatter.format(Math.ceil(wait / 60), "minute");
  return formatter.format(Math.ceil(wait / 3600), "hour");
}

/** An error announced to screen readers as it appears. */
export function ErrorNotice({
  error,
  overrides,
}: {
  error: unknown;
  overrides?: Partial<Record<PolisErrorCode, string>>;
}) {
  const localization = useLocalization();
  if (!error) return null;
  const code = toPolisError(error).code;
  return (
    <div className="polis-notice polis-notice--error" role="alert" data-code={code}>
      {describeError(error, localization, overrides)}
    </div>
  );
}

/** A success message, read out politely. */
export function StatusNotice({ children }: { children: ReactNode }) {
  return (
    <div className="polis-notice polis-notice--success" role="status">
      {children}
    </div>
  );
}

export function Loading() {
  const localization = useLocalization();
  return (
    <p className="polis-loading" role="status">
      {localization.common.loading}
    </p>
  );
}

/** A square with the image, or the initials of `name` when there is none. */
export function Avatar({ name, imageUrl }: { name: string; imageUrl?: string | null | undefined }) {
  if (imageUrl) return <img className="polis-avatar" src={imageUrl} alt="" />;
  const initials = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? "")
    .join("");
  // Drawn by CSS from the attribute, so the initials are not part of any control's visible
  // text (a button's accessible name must contain what it shows).
  return <span className="polis-avatar polis-avatar--initials" data-initials={initials || "?"} aria-hidden="true" />;
}

/** A labelled input whose error and hint are tied to it for assistive technology. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string | undefined;
  error?: string | null | undefined;
  children: (props: {
    id: string;
    "aria-invalid": boolean;
    "aria-describedby": string | undefined;
  }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="polis-field">
      <label className="polis-label" htmlFor={id}>
        {label}
      </label>
      {children({ id, "aria-invalid": Boolean(error), "aria-describedby": describedBy })}
      {hint ? (
        <p className="polis-hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="polis-field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** What a paged list hook offers the pager (`useMembers`, `useInvitations`, …). */
export interface PagedList {
  page: number;
  hasPreviousPage: boolean;
  hasNextPage: boolean;
  fetchPrevious: () => void;
  fetchNext: () => void;
}

/** Previous / next over a keyset-paged list. */
export function Pager({ pages }: { pages: PagedList }) {
  const localization = useLocalization();
  if (!pages.hasPreviousPage && !pages.hasNextPage) return null;
  return (
    <nav className="polis-pager" aria-label={localization.common.pagination}>
      <button type="button" className="polis-button" onClick={pages.fetchPrevious} disabled={!pages.hasPreviousPage}>
        {localization.common.previous}
      </button>
      <span className="polis-pager-page">{format(localization.common.page, { page: pages.page })}</span>
      <button type="button" className="polis-button" onClick={pages.fetchNext} disabled={!pages.hasNextPage}>
        {localization.common.next}
      </button>
    </nav>
  );
}

/** The toolbar's filter of a list by status; "" stands for every status. */
export function StatusFilter<S extends string>({
  label,
  statuses,
  names,
  allLabel,
  value,
  onChange,
}: {
  label: string;
  statuses: readonly S[];
  names: Record<S, string>;
  allLabel: string;
  value: S | "";
  onChange: (value: S | "") => void;
}) {
  const id = useId();
  return (
    <div className="polis-toolbar">
      <div className="polis-field polis-field--inline">
        <label className="polis-label" htmlFor={id}>
          {label}
        </label>
        <select id={id} className="polis-input" value={value} onChange={(event) => onChange(event.target.value as S | "")}>
          {statuses.map((s) => (
            <option key={s} value={s}>
              {names[s]}
            </option>
          ))}
          <option value="">{allLabel}</option>
        </select>
      </div>
    </div>
  );
}

export function cx(...names: (string | false | null | undefined)[]): string {
  return names.filter(Boolean).join(" ");
}
