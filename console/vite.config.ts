import { defineConfig } from "vite";

// The console is served by the gongyou binary at /console/ (api/src/console.rs embeds dist/).
// `npm run dev` serves it from Vite and sends /api to a running Gongyou (GONGYOU_URL).
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Committed and embedded: no source maps, stable names for the entry's chunks.
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // GONGYOU_NO_HMR=1: no reloads while a Playwright run drives the dev server.
    hmr: process.env.GONGYOU_NO_HMR ? false : undefined,
    proxy: { "/api": process.env.GONGYOU_URL ?? "http://127.0.0.1:8080" },
  },
});
