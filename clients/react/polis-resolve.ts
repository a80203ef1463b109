import { fileURLToPath } from "node:url";

/**
 * How Vite and Vitest find `@polis/client`: from its TypeScript source in
 * `clients/typescript/src`, so nothing has to be built there first. `openapi-fetch` and
 * `jose` (org token checks), which that source imports, are then taken from this package's
 * own node_modules.
 */
export const polisResolve = {
  alias: {
    "@polis/client": fileURLToPath(new URL("../typescript/src/index.ts", import.meta.url)),
    "@polis/react/styles.css": fileURLToPath(new URL("./src/styles.css", import.meta.url)),
    "@polis/react": fileURLToPath(new URL("./src/index.ts", import.meta.url)),
  },
  dedupe: ["openapi-fetch", "jose", "react", "react-dom", "@tanstack/react-query"],
};
