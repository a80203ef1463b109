import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";

import { PolisProvider, useActiveOrg, useOrganization, useOrganizationList } from "../src/index.js";
import { BASE_URL, rememberActiveOrg } from "./render.js";
import { ALICE, BOB, FakePolis, json, problem } from "./fakePolis.js";

function wrapperFor(polis: FakePolis, storage?: Storage | null) {
  return ({ children }: { children: ReactNode }) => (
    <PolisProvider baseUrl={BASE_URL} fetch={polis.fetch} {...(storage !== undefined ? { activeOrgStorage: storage } : {})}>
      {children}
    </PolisProvider>
  );
}

// TanStack Query tells its observers on a timer, so a render after a change is awaited with
// waitFor rather than expected right after act().
describe("useActiveOrg", () => {
  it("keeps the active org in local storage while the server has no /me/active-org", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme", "acme", [[ALICE, "org:admin"]]);
    const { result } = renderHook(() => useActiveOrg(), { wrapper: wrapperFor(polis) });

    await waitFor(() => expect(result.current.isLoaded).toBe(true));
    expect(result.current.source).toBe("local");
    expect(result.current.activeOrgId).toBeNull();
    await act(() => result.current.setActive("acme"));
    await waitFor(() => expect(result.current.activeOrgId).toBe(acme.id));
    expect(result.current.organization?.name).toBe("Acme");
    expect(window.localStorage.getItem(`polis.activeOrg:${BASE_URL}`)).toBe(acme.id);
    await act(() => result.current.setActive(null));
    await waitFor(() => expect(result.current.activeOrgId).toBeNull());
    expect(window.localStorage.getItem(`polis.activeOrg:${BASE_URL}`)).toBeNull();
  });

  it("uses GET/PUT/DELETE /me/active-org once the server has them", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme", "acme", [[ALICE, "org:admin"]]);
    const globex = polis.addOrg("Globex", "globex", [[ALICE, "org:admin"]]);
    let serverActive: string | null = acme.id;
    polis
      .on("GET", "/me/active-org", () => json(200, { org: serverActive ? { id: serverActive } : null }))
      .on("PUT", "/me/active-org", (r) => {
        serverActive = (r.body as { org: string }).org;
        return json(200, { org: { id: serverActive } });
      })
      .on("DELETE", "/me/active-org", () => {
        serverActive = null;
        return { status: 204 };
      });
    const { result } = renderHook(() => useActiveOrg(), { wrapper: wrapperFor(polis) });

    await waitFor(() => expect(result.current.activeOrgId).toBe(acme.id));
    expect(result.current.source).toBe("server");
    await act(() => result.current.setActive(globex));
    expect(polis.calls("PUT", "/me/active-org")[0]?.body).toEqual({ org: globex.id });
    await waitFor(() => expect(result.current.activeOrgId).toBe(globex.id));
    await act(() => result.current.setActive(null));
    expect(polis.calls("DELETE", "/me/active-org")).toHaveLength(1);
    await waitFor(() => expect(result.current.activeOrgId).toBeNull());
    expect(window.localStorage.length).toBe(0);
  });

  it("ignores a remembered org the caller no longer belongs to", async () => {
    const polis = new FakePolis();
    const other = polis.addOrg("Other", "other", [[BOB, "org:admin"]]);
    rememberActiveOrg(other.id);
    const { result } = renderHook(() => useActiveOrg(), { wrapper: wrapperFor(polis) });
    await waitFor(() => expect(result.current.isLoaded).toBe(true));
    expect(result.current.activeOrgId).toBeNull();
  });

  it("works in memory when there is no storage", async () => {
    const polis = new FakePolis();
    const acme = polis.addOrg("Acme", "acme", [[ALICE, "org:admin"]]);
    const { result } = renderHook(() => useActiveOrg(), { wrapper: wrapperFor(polis, null) });
    await waitFor(() => expect(result.current.isLoaded).toBe(true));
    await act(() => result.current.setActive(acme));
    await waitFor(() => expect(result.current.activeOrgId).toBe(acme.id));
    expect(window.localStorage.length).toBe(0);
  });
});

describe("useOrganization", () => {
  it("answers has() from the caller's membership", async () => {
    const polis = new FakePolis();
    polis.addOrg("Acme", "acme", [
      [ALICE, "org:member"],
      [BOB, "org:admin"],
    ]);
    const { result } = renderHook(() => useOrganization("acme"), { wrapper: wrapperFor(polis) });

    await waitFor(() => expect(result.current.isLoaded).toBe(true));
    expect(result.current.organization?.slug).toBe("acme");
    expect(result.current.membership?.role).toBe("org:member");
    expect(result.current.has({ role: "org:member" })).toBe(true);
    expect(result.current.has({ role: "org:admin" })).toBe(false);
    expect(result.current.has({ permission: "org:sys_memberships:read" })).toBe(true);
    expect(result.current.has({ permission: "org:sys_memberships:manage" })).toBe(false);
  });

  it("reports the problem code of a failed load", async () => {
    const polis = new FakePolis().on("GET", "/orgs/:org", () => problem(503, "identity_provider_unavailable"));
    const { result } = renderHook(() => useOrganization("acme"), { wrapper: wrapperFor(polis) });
    await waitFor(() => expect(result.current.error).not.toBeNull(), { timeout: 5000 });
    expect(result.current.error?.code).toBe("identity_provider_unavailable");
    expect(result.current.has({ permission: "org:sys_memberships:read" })).toBe(false);
  });
});

describe("useOrganizationList", () => {
  it("pages through the caller's memberships", async () => {
    const polis = new FakePolis();
    for (let i = 1; i <= 5; i++) polis.addOrg(`Org ${i}`, `org-${i}`, [[ALICE, "org:member"]]);
    const { result } = renderHook(() => useOrganizationList({ pageSize: 2 }), { wrapper: wrapperFor(polis) });

    await waitFor(() => expect(result.current.memberships.data).toHaveLength(2));
    expect(result.current.memberships.hasNextPage).toBe(true);
    await act(() => result.current.memberships.fetchNext());
    await act(() => result.current.memberships.fetchNext());
    await waitFor(() => expect(result.current.memberships.data).toHaveLength(5));
    expect(result.current.memberships.hasNextPage).toBe(false);
    expect(result.current.memberships.data.map((m) => m.org.slug)).toEqual(["org-1", "org-2", "org-3", "org-4", "org-5"]);
  });
});
