import { render } from "@testing-library/react";
import type { ReactElement } from "react";

import { PolisProvider, type DeepPartial, type PolisLocalization } from "../src/index.js";
import { FakePolis } from "./fakePolis.js";

export const BASE_URL = "http://polis.test";

/** Renders `ui` inside a PolisProvider that talks to `polis` (a fresh cache each time). */
export function renderWithPolis(
  ui: ReactElement,
  { polis = new FakePolis(), localization }: { polis?: FakePolis; localization?: DeepPartial<PolisLocalization> } = {},
) {
  const result = render(
    <PolisProvider baseUrl={BASE_URL} fetch={polis.fetch} {...(localization ? { localization } : {})}>
      {ui}
    </PolisProvider>,
  );
  return { ...result, polis };
}

/** Makes `orgId` the active org as a previous visit would have left it. */
export function rememberActiveOrg(orgId: string) {
  window.localStorage.setItem(`polis.activeOrg:${BASE_URL}`, orgId);
}
