/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The port Polis listens on, on this page's host (start.ts sets it). */
  readonly VITE_POLIS_PORT?: string;
}
