import { useState, type FormEvent } from "react";

import { toPolisError, type PolisErrorCode } from "../errors.js";
import { isAwaitingCode, triesLeft, type useDomains } from "../hooks/useDomains.js";
import { format, type PolisLocalization } from "../localization.js";
import { useLocalization } from "../provider.js";
import type { Domain } from "../types.js";
import { ErrorNotice, Field } from "./ui.js";

type Domains = ReturnType<typeof useDomains>;

// Loose on purpose: the server judges the address; this only catches what plainly is not one.
const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * Verifying a domain by e-mail: an address at the domain gets a 6-digit code, which is
 * entered here. Shows the tries left and, from their problem codes, why a code or an
 * address was refused; a burned or expired code leads back to sending a new one.
 */
export function DomainVerification({
  domain,
  domains,
  onClose,
  onVerified,
}: {
  domain: Domain;
  domains: Domains;
  onClose: () => void;
  onVerified: (message: string) => void;
}) {
  const l = useLocalization();
  const [askingNew, setAskingNew] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const awaiting = isAwaitingCode(domain) && !askingNew;
  // Why there is no code to enter, unless a failure already said so.
  const status = domain.verification.status;
  const why = failure ? null : status === "failed" ? l.domains.failed : status === "expired" ? l.domains.expired : null;
  const overrides: Partial<Record<PolisErrorCode, string>> = {
    rate_limited: l.domains.sendTooSoon,
    verification_code_expired: l.domains.expired,
    // The server says how many tries are left; failing that (an older Polis), the domain
    // was refreshed before the failure arrived, so its count includes this try.
    verification_code_invalid: wrongCodeMessage(l, remainingAttempts(failure) ?? triesLeft(domain)),
  };

  return (
    <div className="polis-domain-verify" role="group" aria-label={format(l.domains.verifyTitle, { name: domain.name })}>
      {why ? <p className="polis-muted">{why}</p> : null}
      {awaiting ? (
        <CodeForm
          domain={domain}
          domains={domains}
          failure={failure}
          setFailure={setFailure}
          overrides={overrides}
          onNewCode={() => {
            setFailure(null);
            setAskingNew(true);
          }}
          onClose={onClose}
          onVerified={() => onVerified(format(l.domains.verified, { name: domain.name }))}
        />
      ) : (
        <EmailForm
          domain={domain}
          domains={domains}
          failure={failure}
          setFailure={setFailure}
          overrides={overrides}
          onSent={() => setAskingNew(false)}
          onClose={onClose}
        />
      )}
    </div>
  );
}

interface StepProps {
  domain: Domain;
  domains: Domains;
  failure: unknown;
  setFailure: (error: unknown) => void;
  /** Messages for the codes whose default text does not fit verifying. */
  overrides: Partial<Record<PolisErrorCode, string>>;
  onClose: () => void;
}

function EmailForm({
  domain,
  domains,
  failure,
  setFailure,
  overrides,
  onSent,
  onClose,
}: StepProps & { onSent: () => void }) {
  const l = useLocalization();
  const [email, setEmail] = useState(domain.affiliation_email_address ?? "");
  const [inputError, setInputError] = useState<string | null>(null);
  const error = failure ? toPolisError(failure) : null;
  const fieldFailure =
    error?.code === "domain_address_mismatch" ? l.errors.domain_address_mismatch : error?.fieldMessage("email");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const address = email.trim();
    if (!LOOKS_LIKE_EMAIL.test(address)) return setInputError(l.domains.emailInvalid);
    setInputError(null);
    try {
      await domains.sendCode.mutateAsync({ id: domain.id, email: address, locale: l.locale });
      onSent();
    } catch (caught) {
      setFailure(caught);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <Field
        label={format(l.domains.email, { name: domain.name })}
        hint={format(l.domains.emailHint, { name: domain.name })}
        error={inputError ?? fieldFailure}
      >
        {(props) => (
          <input
            {...props}
            className="polis-input"
            type="email"
            name="email"
            autoComplete="email"
            spellCheck={false}
            placeholder={`name@${domain.name}`}
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        )}
      </Field>
      <Problem failure={failure} fieldFailure={fieldFailure} overrides={overrides} />
      <div className="polis-actions">
        <button type="button" className="polis-button" onClick={onClose}>
          {l.common.cancel}
        </button>
        <button type="submit" className="polis-button polis-button--primary" disabled={domains.sendCode.isPending}>
          {domains.sendCode.isPending ? l.domains.sendingCode : l.domains.sendCode}
        </button>
      </div>
    </form>
  );
}

function CodeForm({
  domain,
  domains,
  failure,
  setFailure,
  overrides,
  onNewCode,
  onClose,
  onVerified,
}: StepProps & { onNewCode: () => void; onVerified: () => void }) {
  const l = useLocalization();
  const [code, setCode] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);
  const error = failure ? toPolisError(failure) : null;
  const left = triesLeft(domain);
  const fieldFailure = error?.code === "verification_code_invalid" ? overrides.verification_code_invalid : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const entered = code.replace(/\s+/g, "");
    if (entered === "") return setInputError(l.domains.codeRequired);
    setInputError(null);
    try {
      await domains.verify.mutateAsync({ id: domain.id, code: entered });
      onVerified();
    } catch (caught) {
      setCode("");
      setFailure(caught);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <p role="status">{format(l.domains.codeSentTo, { email: domain.affiliation_email_address ?? "" })}</p>
      <Field
        label={l.domains.code}
        hint={`${l.domains.codeHint} ${triesText(l, left)}`}
        error={inputError ?? fieldFailure}
      >
        {(props) => (
          <input
            {...props}
            className="polis-input polis-input--code"
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={6}
            value={code}
            onChange={(event) => setCode(event.target.value)}
          />
        )}
      </Field>
      <Problem
        failure={failure}
        fieldFailure={fieldFailure}
        overrides={{ ...overrides, rate_limited: l.domains.tryTooSoon }}
      />
      <div className="polis-actions">
        <button type="button" className="polis-button polis-button--link" onClick={onNewCode}>
          {l.domains.newCode}
        </button>
        <button type="button" className="polis-button" onClick={onClose}>
          {l.common.cancel}
        </button>
        <button type="submit" className="polis-button polis-button--primary" disabled={domains.verify.isPending}>
          {domains.verify.isPending ? l.domains.verifying : l.domains.submitCode}
        </button>
      </div>
    </form>
  );
}

/**
 * A failure: announced at once; its text shown at the field when it is about the field,
 * above the buttons otherwise.
 */
function Problem({
  failure,
  fieldFailure,
  overrides,
}: {
  failure: unknown;
  fieldFailure: string | null | undefined;
  overrides: Partial<Record<PolisErrorCode, string>>;
}) {
  if (!failure) return null;
  if (!fieldFailure) return <ErrorNotice error={failure} overrides={overrides} />;
  return (
    <p className="polis-visually-hidden" role="alert" data-code={toPolisError(failure).code}>
      {fieldFailure}
    </p>
  );
}

function triesText(l: PolisLocalization, left: number): string {
  return left === 1 ? l.domains.triesLeftOne : format(l.domains.triesLeft, { count: left });
}

function wrongCodeMessage(l: PolisLocalization, left: number): string {
  return left > 0 ? `${l.domains.wrongCode} ${triesText(l, left)}` : l.domains.wrongCodeLast;
}

/** The tries left that a `verification_code_invalid` failure reported, if it did. */
function remainingAttempts(failure: unknown): number | undefined {
  return failure ? toPolisError(failure).problem?.remaining_attempts : undefined;
}
