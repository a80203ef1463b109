import { useId, useState } from "react";

import { useMySuggestions } from "../hooks/useMySuggestions.js";
import { format } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { Suggestion } from "../types.js";
import { Avatar, ErrorNotice, StatusNotice } from "./ui.js";

/**
 * The orgs a verified domain suggests to the caller, each with "Request to join", which
 * then reads "Requested" until a manager answers (Clerk's suggestions in the switcher and
 * the organization list). Nothing when there are none.
 */
export function SuggestionsForMe({ headingLevel = 2, title }: { headingLevel?: 2 | 3; title?: string }) {
  const l = useLocalization();
  const suggestions = useMySuggestions();
  const headingId = useId();
  const [asking, setAsking] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  if (suggestions.data.length === 0 && !suggestions.error && !failure) return null;
  const Heading = headingLevel === 2 ? "h2" : "h3";

  const ask = async (suggestion: Suggestion) => {
    if (suggestion.status !== "pending" || asking !== null) return;
    setFailure(null);
    setNotice(null);
    setAsking(suggestion.id);
    try {
      await suggestions.accept.mutateAsync(suggestion.id);
      setNotice(format(l.suggestions.requestSent, { name: suggestion.public_organization_data.name }));
    } catch (error) {
      setFailure(error);
    } finally {
      setAsking(null);
    }
  };

  return (
    <section className="polis-suggestions-for-me" aria-labelledby={headingId}>
      <Heading className="polis-switcher-heading" id={headingId}>
        {title ?? l.switcher.suggestions}
      </Heading>
      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      <ErrorNotice error={suggestions.error ?? failure} />
      <ul className="polis-switcher-list">
        {suggestions.data.map((suggestion) => {
          const org = suggestion.public_organization_data;
          const requested = suggestion.status === "accepted";
          return (
            <li key={suggestion.id} className="polis-invitation-row">
              <Avatar name={org.name} imageUrl={org.image_url} />
              <span className="polis-switcher-item-text">
                <span>{org.name}</span>
                <span className="polis-muted">{l.suggestions.why}</span>
              </span>
              <span className="polis-row-actions">
                {/* One button in both states, so focus stays on it once the request is made. */}
                <button
                  type="button"
                  className={`polis-button polis-button--small${requested ? "" : " polis-button--primary"}`}
                  aria-label={format(requested ? l.suggestions.requestedLabel : l.suggestions.requestLabel, { name: org.name })}
                  aria-disabled={requested || asking !== null ? "true" : undefined}
                  onClick={() => ask(suggestion)}
                >
                  {requested ? l.suggestions.requested : l.suggestions.request}
                </button>
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
