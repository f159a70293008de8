// `mako sources webhook NAME`, run as a user runs it.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
const home = mkdtempSync(join(tmpdir(), "mako-hookcli-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function mako(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) =>
    execFile(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home } }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe("mako sources webhook", () => {
  it("prints the URL to register, the events, whether the secret is set and the last event; refuses a connector without webhooks", async () => {
    const m = await Mako.open({ home });
    try {
      await m.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_x" } });
      await m.sources.add({ name: "crm", connector: "close", config: { api_key: "k", webhook_signature_key: "0a".repeat(32) } });
      await m.sources.add({ name: "demo", connector: "sample", config: {} });
      await m.store.inbox.add({ source: "crm", eventId: "ev_1", eventType: "lead.updated", entity: "leads", objectId: "lead_1", version: 1, deleted: false, record: { id: "lead_1" } });
    } finally {
      await m.close();
    }

    const shop = await mako(["sources", "webhook", "shop"]);
    expect(shop.code, shop.stderr).toBe(0);
    expect(shop.stdout).toContain("  http://127.0.0.1:3000/hooks/shop\n");
    expect(shop.stdout).toContain("register https://YOUR-PUBLIC-HOST/hooks/shop instead");
    expect(shop.stdout).toMatch(/customer\.created, customer\.updated, customer\.deleted/);
    expect(shop.stdout).toContain("Signing secret (webhook_secret): NOT SET");
    expect(shop.stdout).toContain("Last verified event: none yet");
    expect(shop.stdout).not.toContain("sk_test_x");

    const crm = await mako(["sources", "webhook", "crm", "--host", "0.0.0.0", "--port", "8080"]);
    expect(crm.code, crm.stderr).toBe(0);
    expect(crm.stdout).toContain("  http://localhost:8080/hooks/crm\n");
    expect(crm.stdout).toContain("lead.created, lead.updated, lead.deleted");
    expect(crm.stdout).toContain("Signing secret (webhook_signature_key): set");
    expect(crm.stdout).toMatch(/Last verified event: \d{4}-\d\d-\d\dT[\d:.]+Z \(1 waiting to be applied\)/);
    expect(crm.stdout).not.toContain("0a0a0a");

    const demo = await mako(["sources", "webhook", "demo"]);
    expect(demo.code).toBe(1);
    expect(demo.stderr).toBe('error: source "demo" (sample) takes no webhooks: the sample connector has no webhook support\n');
    const missing = await mako(["sources", "webhook", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: no source named "nope" (see: npx mako sources list)\n');
  });
});
