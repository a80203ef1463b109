import { fileURLToPath } from "node:url";

import { defineConfig } from "vite";

import { polisResolve } from "../polis-resolve.js";

// The port comes from start.ts (or e2e/run.ts); the app reaches Polis on its own host.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  resolve: polisResolve,
  esbuild: { jsx: "automatic" },
  server: {
    host: "127.0.0.1",
    strictPort: true,
    // The dev server also serves ../src and the TypeScript client's source in ../../typescript.
    fs: { allow: [fileURLToPath(new URL("../..", import.meta.url))] },
  },
  preview: { host: "127.0.0.1", strictPort: true },
  build: {
    outDir: "../e2e/.output/app",
    emptyOutDir: true,
    rollupOptions: {
      // TanStack Query marks its modules "use client" for server components; a plain
      // client bundle ignores that, as it should.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
