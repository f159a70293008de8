#!/usr/bin/env node
// Runs the compiled CLI (api/dist/cli, built by `npm install` and `npm test`) when it was
// built from the sources as they are now, and the TypeScript sources through tsx otherwise:
// a stale build is never what runs. MAKO_FROM_SOURCE=1 forces the sources.
import { buildIsCurrent } from "./buildIsCurrent.js";

const dist = new URL("../dist/cli/", import.meta.url);

if (process.env.MAKO_FROM_SOURCE !== "1" && buildIsCurrent(dist, new URL("../", import.meta.url))) {
  await import(new URL("main.js", dist).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
