import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

// `vite dev` proxies the API to a running `mako serve`, so the UI can be developed live.
export default defineConfig({
  root,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/api": process.env.MAKO_API_URL ?? "http://127.0.0.1:3000" } },
});
