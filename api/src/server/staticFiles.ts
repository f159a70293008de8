import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type { Context } from "hono";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves the built UI: a file under `dir` when one matches the path, otherwise index.html
 * (the UI routes with the History API). Hashed assets are cached for a year; index.html never.
 */
export async function serveUi(c: Context, dir: string): Promise<Response> {
  let path: string;
  try {
    path = decodeURIComponent(new URL(c.req.url).pathname);
  } catch {
    return c.json({ error: "malformed percent-encoding in the URL path" }, 400);
  }
  const requested = normalize(path).replace(/^([/\\])+/, "");
  const file = join(dir, requested);
  // normalize() resolved any "..": a path that leaves `dir` is not ours to serve.
  if (file.startsWith(dir + sep) && (await isFile(file))) {
    const body = await readFile(file);
    const immutable = requested.startsWith("assets/");
    return c.body(body, 200, {
      "content-type": contentTypes[extname(file)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
  }
  const index = join(dir, "index.html");
  if (!(await isFile(index))) {
    return c.text("The web UI is not built. Run `npx vite build app` (or `npm start`, which builds it).", 503);
  }
  return c.body(await readFile(index), 200, { "content-type": contentTypes[".html"], "cache-control": "no-cache" });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
