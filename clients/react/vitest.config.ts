import { defineConfig } from "vitest/config";

import { polisResolve } from "./polis-resolve.js";

export default defineConfig({
  resolve: polisResolve,
  esbuild: { jsx: "automatic" },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["test/**/*.test.{ts,tsx}"],
    setupFiles: ["test/setup.ts"],
  },
});
