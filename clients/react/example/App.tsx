import {
  OrganizationList,
  OrganizationProfile,
  OrganizationSwitcher,
  PolisProvider,
  useActiveOrg,
  useOrganization,
  useRoles,
} from "@polis/react";
import { useState } from "react";

import { PEOPLE, signedInPerson, signIn, signOut, type Person } from "./people.js";

// Polis on the same host as this page (see people.ts), on the port start.ts gave it.
const POLIS_URL = `${window.location.protocol}//${window.location.hostname}:${import.meta.env.VITE_POLIS_PORT ?? "8180"}`;

export function App() {
  const person = signedInPerson();
  if (!person) return <SignIn />;
  return (
    <PolisProvider baseUrl={POLIS_URL}>
      <Shell person={person} />
    </PolisProvider>
  );
}

function SignIn() {
  return (
    <main className="app-main">
      <section className="polis polis-card app-narrow" aria-labelledby="sign-in-title">
        <h1 className="polis-title" id="sign-in-title">
          Sign in
        </h1>
        <p className="polis-muted">
          The Kratos double knows these people. Signing in sets their <code>ory_kratos_session</code> cookie, as a
          Kratos login would.
        </p>
        <ul className="app-people">
          {PEOPLE.map((person) => (
            <li key={person.cookie}>
              <button type="button" className="polis-button polis-button--block" onClick={() => signIn(person)}>
                Sign in as {person.name} ({person.email})
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

function Shell({ person }: { person: Person }) {
  const [page, setPage] = useState<"home" | "profile">("home");
  const active = useActiveOrg();
  const home = () => setPage("home");
  return (
    <>
      <header className="app-header">
        <span className="app-brand">Notes</span>
        <OrganizationSwitcher onManage={() => setPage("profile")} onSwitch={home} />
        <span className="app-spacer" />
        <span className="app-user">{person.name}</span>
        <button type="button" className="polis-button polis-button--small" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main className="app-main">
        {!active.isLoaded ? null : !active.organization ? (
          <OrganizationList onSelect={home} />
        ) : page === "profile" ? (
          <OrganizationProfile onLeft={home} onDeleted={home} invitationRedirectUrl={`${window.location.origin}/`} />
        ) : (
          <Dashboard onManage={() => setPage("profile")} />
        )}
      </main>
    </>
  );
}

/** What an app does with the hooks: show the org, and decide from `has()`. */
function Dashboard({ onManage }: { onManage: () => void }) {
  const { organization, membership, has } = useOrganization();
  const { roleName } = useRoles();
  if (!organization || !membership) return null;
  const checks = [
    { label: "Manage members", allowed: has({ permission: "org:sys_memberships:manage" }) },
    { label: "Edit the organization", allowed: has({ permission: "org:sys_profile:manage" }) },
    { label: "Delete the organization", allowed: has({ permission: "org:sys_profile:delete" }) },
    { label: "Is an admin", allowed: has({ role: "org:admin" }) },
  ];
  return (
    <section className="polis polis-card app-narrow" aria-labelledby="dashboard-title">
      <h1 className="polis-title" id="dashboard-title">
        {organization.name}
      </h1>
      <p className="polis-muted">
        Your role: {roleName(membership.role)}. Members: {organization.members_count}.
      </p>
      <h2 className="polis-subtitle">What you may do here</h2>
      <ul className="app-checks">
        {checks.map((check) => (
          <li key={check.label}>
            <span aria-hidden="true">{check.allowed ? "✓" : "✗"}</span> {check.label}:{" "}
            <strong>{check.allowed ? "yes" : "no"}</strong>
          </li>
        ))}
      </ul>
      <button type="button" className="polis-button polis-button--primary" onClick={onManage}>
        Manage organization
      </button>
    </section>
  );
}
