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
    proxy: { "/api": process.env.GONGYOU_URL ?? "http://127.0.0.1:8080" },
  },
});
