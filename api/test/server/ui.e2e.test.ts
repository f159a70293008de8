import { serve, type ServerType } from "@hono/node-server";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createHmac } from "node:crypto";
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startStripeFake, type StripeFake } from "../../../bench/fakes/stripe";
import { Mako } from "../../src/Mako";
import { InProcessLauncher, Scheduler } from "../../src/schedules";
import { createServer, ensureUiBuilt, startServer, type StartedServer } from "../../src/server";

const CHROMIUM = "/usr/bin/chromium";
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const shots = join(repoRoot, "test-results", "screenshots");

let home: string;
let mako: Mako;
let server: StartedServer;
let browser: BrowserContext;
/** Console errors and uncaught exceptions of every page: the test fails on any. */
const consoleErrors: string[] = [];
/** While true, the browser's own "Failed to load resource … 400" line is expected (a rejected form). */
let expectingBadRequest = false;
/** While true, the "… 401" line of a request made before the token was given is expected. */
let expectingUnauthorized = false;
/** While set, the browser's line for a response of this status is expected (a failed test, a removed source). */
let expectingStatus: number | undefined;

function watch(page: Page): Page {
  page.on("console", (msg: ConsoleMessage) => {
    if (msg.type() !== "error") return;
    if (expectingBadRequest && /status of 400/.test(msg.text())) return;
    if (expectingUnauthorized && /status of 401/.test(msg.text())) return;
    if (expectingStatus && msg.text().includes(`status of ${expectingStatus}`)) return;
    consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => consoleErrors.push(`${page.url()}: uncaught ${err.message}`));
  // The app asks with its own dialog: a native alert/confirm/prompt is a failure.
  page.on("dialog", (dialog) => {
    consoleErrors.push(`${page.url()}: native ${dialog.type()} dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return page;
}

/** Nothing in these elements is cut off: no content wider than its box. */
async function expectNotClipped(page: Page, selector: string): Promise<void> {
  const clipped = await page.evaluate((sel) => {
    return Array.from(document.querySelectorAll<HTMLElement>(sel))
      .filter((el) => {
        const style = getComputedStyle(el);
        const inner = el.getBoundingClientRect().right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
        const overflowing = Array.from(el.querySelectorAll<HTMLElement>("*")).some((child) => child.getBoundingClientRect().right > inner + 0.5);
        return el.scrollWidth > el.clientWidth || overflowing;
      })
      .map((el) => el.textContent?.trim());
  }, selector);
  expect(clipped, `clipped: ${selector}`).toEqual([]);
}

/** The text of the live progress table's Retries cell of an entity. */
const retriesCell = (page: Page, entity: string) => page.locator(`.progress-table tr[data-entity="${entity}"] [data-testid="retries"]`);

async function shot(page: Page, name: string): Promise<void> {
  // Scrolled, the sticky top bar would be drawn mid-page in a full-page capture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** No element may push the page wider than the viewport (phone widths). */
async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scroll, `page is ${scroll}px wide in a ${width}px viewport`).toBeLessThanOrEqual(width);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the UI tests need Debian's chromium (apt-get install -y chromium)`);
  }
  // Always rebuild: a stale app/dist would test yesterday's UI.
  await ensureUiBuilt({ force: true });
  mkdirSync(shots, { recursive: true });
  home = mkdtempSync(join(tmpdir(), "mako-ui-"));
  mako = await Mako.open({ home: join(home, "mako") });
  server = await startServer({ mako, port: 0, log: () => {} });
  browser = await chromium.launchPersistentContext(join(home, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await mako?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("web UI in Chromium", () => {
  // Each test answers for its own pages' errors, so one failure does not fail the rest.
  beforeEach(() => {
    consoleErrors.length = 0;
  });

  it("adds a sample source through the form, tests it, syncs it live, previews rows (1280px)", async () => {
    const page = watch(browser.pages()[0] ?? (await browser.newPage()));
    await page.setViewportSize({ width: 1280, height: 860 });

    await page.goto(server.url);
    await page.getByRole("heading", { name: "No sources yet" }).waitFor();
    await shot(page, "01-sources-empty");

    // Catalog: icons and search.
    await page.getByRole("link", { name: "Browse connectors" }).click();
    const card = page.locator('[data-connector="sample"]');
    await card.waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>("img.connector-icon")).every((i) => i.complete && i.naturalWidth > 0));
    await page.getByLabel("Search connectors").fill("zzz-nothing");
    await page.getByText("No connector matches").waitFor();
    await page.getByLabel("Search connectors").fill("purchases");
    await card.waitFor();
    await shot(page, "02-catalog");

    // The form is generated from the schema: defaults filled in, descriptions shown.
    await card.click();
    await page.getByRole("heading", { name: "Add a Sample source" }).waitFor();
    expect(await page.getByLabel("Count").inputValue()).toBe("1000");
    await page.getByText("Number of users to generate").waitFor();
    expect(await page.locator('input[name="entity"]:checked').count()).toBe(3);

    // Invalid input: one caught in the browser, one only the API knows about.
    await page.getByLabel("Name").fill("Bad Name");
    await page.getByLabel("Count").fill("-5");
    await page.getByRole("button", { name: "Save and sync" }).click();
    await page.locator('[data-field="count"] .error-text').getByText("Count must be at least 0").waitFor();
    expect(await page.getByLabel("Count").getAttribute("aria-invalid")).toBe("true");

    await page.getByLabel("Count").fill("5000");
    await page.getByLabel("Page delay ms").fill("300");
    expectingBadRequest = true;
    await page.getByRole("button", { name: "Save and sync" }).click();
    const nameError = page.locator('[data-field="name"] .error-text');
    await nameError.getByText(/invalid source name "Bad Name"/).waitFor();
    expectingBadRequest = false;
    expect(await page.locator('[data-field="count"] .error-text').count()).toBe(0);
    await shot(page, "03-add-source-errors");

    await page.getByLabel("Name").fill("shop");
    expect(await nameError.count()).toBe(0);
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByTestId("test-result").getByText("Sample source ready: 5000 users, seed 1").waitFor();
    await shot(page, "04-add-source");

    // Save and sync: the source page follows the run live.
    await page.getByRole("button", { name: "Save and sync" }).click();
    await page.waitForURL(`${server.url}/sources/shop`);
    await page.getByRole("table", { name: "Live progress" }).waitFor();
    const usersRow = page.locator('.progress-table tr[data-entity="users"]');
    // Live: an entity is seen part-way (users and purchases are 5 pages of 1000 at 300 ms each).
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll(".progress-table tr[data-entity]")).some((row) => {
        const records = Number(row.querySelector('[data-testid="records"]')?.textContent?.split("/")[0].replace(/\D/g, ""));
        return row.getAttribute("data-status") === "running" && records > 0 && records < 5000;
      }),
    );
    await shot(page, "05-sync-live");
    const summary = page.getByTestId("run-summary");
    await summary.getByText("Sync finished: 10,500 records").waitFor({ timeout: 30_000 });
    expect(await usersRow.getAttribute("data-status")).toBe("succeeded");
    expect(await usersRow.getByTestId("records").textContent()).toContain("5,000");

    // Preview of each synced entity.
    const preview = page.getByTestId("preview-table");
    await preview.locator("tbody tr").first().waitFor();
    expect(await preview.locator("tbody tr").count()).toBe(25);
    await page.getByRole("tab", { name: /purchases/ }).click();
    await page.getByText("Table shop__purchases").waitFor();
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("26–50 of 5,000").waitFor();

    // Run history: the run, its per-entity figures and its log.
    const history = page.getByRole("table", { name: "Run history" });
    await history.getByText("Succeeded").waitFor();
    await history.getByRole("button", { name: "Details" }).click();
    await page.getByRole("table", { name: "Entities of this run" }).waitFor();
    // A clean run may have logged nothing; its log panel says so.
    await page.locator(".run-details").getByRole("log").or(page.locator(".run-details").getByText("No log lines.")).waitFor();
    await shot(page, "06-source-synced");

    // Keyboard: Sync now is reachable with Tab alone.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.textContent === "Sync now");
    }
    expect(reached, "Sync now is reachable with the keyboard").toBe(true);
    await page.keyboard.press("Enter");
    // The second run shows up in the history and finishes there.
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('table[aria-label="Run history"] tbody tr[data-run]');
      return rows.length === 2 && rows[0].querySelector('[data-status="succeeded"]') !== null;
    }, undefined, { timeout: 30_000 });
    await page.getByTestId("run-summary").getByText(/Sync finished/).waitFor();

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sources" }).click();
    await page.getByRole("list", { name: "Sources" }).getByText("shop").waitFor();
    await shot(page, "07-sources");

    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it("works at phone width (390px)", async () => {
    const page = watch(await browser.newPage());
    await page.setViewportSize({ width: 390, height: 844 });

    await page.goto(`${server.url}/connectors`);
    await page.locator('[data-connector="sample"]').waitFor();
    await expectNoHorizontalScroll(page);
    await shot(page, "08-catalog-phone");

    await page.goto(`${server.url}/connectors/sample/new`);
    await page.getByLabel("Count").waitFor();
    await expectNoHorizontalScroll(page);
    await shot(page, "09-add-source-phone");

    await page.goto(`${server.url}/sources/shop`);
    await page.getByTestId("preview-table").locator("tbody tr").first().waitFor();
    await page.getByRole("table", { name: "Run history" }).getByText("Succeeded").first().waitFor();
    await expectNoHorizontalScroll(page);
    await shot(page, "10-source-phone");

    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByTestId("run-summary").getByText(/Sync finished/).waitFor({ timeout: 30_000 });
    await shot(page, "11-source-phone-synced");

    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it("asks for the API token when the server requires one; edits settings; cancels a sync", async () => {
    // The same UI behind a token, as `mako serve --host 0.0.0.0` runs it (bound to loopback here).
    const guarded = createServer(mako, { token: "ui-test-token" });
    const http: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: guarded.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const page = watch(await browser.newPage());
      await page.setViewportSize({ width: 1280, height: 860 });
      expectingUnauthorized = true;
      await page.goto(`${url}/sources/shop`);
      await page.getByRole("heading", { name: "API token required" }).waitFor();
      await shot(page, "12-token-prompt");
      await page.getByLabel("Token").fill("ui-test-token");
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByRole("heading", { name: "shop" }).waitFor();
      // The page's other first requests may answer 401 after the prompt showed: expected until here.
      expectingUnauthorized = false;

      // Settings: the form comes back filled with the stored config.
      await page.getByRole("button", { name: "Settings" }).click();
      const settings = page.getByRole("form", { name: "Source settings" });
      expect(await settings.getByLabel("Count").inputValue()).toBe("5000");
      await settings.getByLabel("Page delay ms").fill("700");
      await settings.getByRole("button", { name: "Save settings" }).click();
      await settings.waitFor({ state: "detached" });

      // A slow full refresh, cancelled: it stops at a chunk boundary and says so.
      await page.getByLabel("Full refresh").check();
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.locator('.progress-table tr[data-entity="users"][data-status="running"]').waitFor();
      await page.getByRole("button", { name: "Cancel sync" }).click();
      await page.getByTestId("run-summary").getByText("Sync cancelled").waitFor({ timeout: 30_000 });
      await page.getByRole("table", { name: "Run history" }).getByText("Cancelled", { exact: true }).waitFor();
      await page.getByRole("button", { name: "Sync now" }).waitFor();
      await shot(page, "13-sync-cancelled");
      const [latest] = await mako.runs.list({ source: "shop", limit: 1 });
      expect(latest).toMatchObject({ status: "cancelled", fullRefresh: true });
      expect((await mako.sources.get("shop")).config).toMatchObject({ page_delay_ms: 700 });

      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      guarded.close();
      (http as unknown as { closeAllConnections(): void }).closeAllConnections();
      http.close();
    }
  }, 90_000);

  it("Save tests the connection and offers Save anyway; the chosen entities stick; full refresh is for one sync (1280px)", async () => {
    const stripe = await startStripeFake({ seed: 11, counts: { customers: 6, products: 4, prices: 4, subscriptions: 3, invoices: 3, charges: 5, payment_intents: 3, refunds: 2 } });
    try {
      const page = watch(await browser.newPage());
      await page.setViewportSize({ width: 1280, height: 860 });
      await page.goto(`${server.url}/connectors/stripe/new`);
      await page.getByRole("heading", { name: "Add a Stripe source" }).waitFor();
      expect(await page.getByLabel("Name").inputValue()).toBe("stripe");
      // Ten entities, the longest "balance_transactions": none is cut off.
      expect(await page.locator('input[name="entity"]').count()).toBe(10);
      await expectNotClipped(page, ".entity-option");

      // No entity with "Start a sync right after saving" ticked: the message names that checkbox.
      await page.getByRole("button", { name: "Select none" }).click();
      await page.getByRole("button", { name: "Save and sync" }).click();
      const syncNowLabel = "Start a sync right after saving";
      await page.getByText(`Pick at least one entity to sync, or untick “${syncNowLabel}”.`).waitFor();
      expect(await page.getByLabel(syncNowLabel).isChecked()).toBe(true);
      await page.getByRole("button", { name: "Select all" }).click();

      // A wrong key: Save tests first, says why it failed, and stores nothing.
      await page.locator('[data-field="api_key"] input').fill("sk_test_wrong_key_1");
      await page.getByLabel("Base URL").fill(stripe.url);
      await page.getByRole("checkbox", { name: /^prices/ }).uncheck();
      await page.getByRole("checkbox", { name: /^events/ }).uncheck();
      expectingStatus = 422;
      await page.getByRole("button", { name: "Save and sync" }).click();
      const failed = page.getByTestId("save-test-failed");
      await failed.getByText(/The connection test failed:.*API key rejected/).waitFor();
      expectingStatus = undefined;
      expect((await mako.sources.list()).map((s) => s.name)).not.toContain("stripe");
      await shot(page, "14-save-test-failed");

      // Save anyway: stored as given, with the entity selection; its sync fails on the key.
      await failed.getByRole("button", { name: "Save anyway" }).click();
      await page.waitForURL(`${server.url}/sources/stripe`);
      const chosen = ["customers", "products", "subscriptions", "invoices", "charges", "payment_intents", "refunds", "balance_transactions"];
      expect((await mako.sources.get("stripe")).entities).toEqual(chosen);
      await page.getByTestId("run-summary").getByText(/Sync failed: .*API key rejected/).waitFor({ timeout: 30_000 });
      const liveEntities = () => page.locator(".progress-table tr[data-entity]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-entity")));
      expect(await liveEntities()).toEqual(chosen);
      // The source page shows the saved selection, also after a reload.
      await page.reload();
      await page.getByRole("heading", { name: "stripe" }).waitFor();
      expect(await page.locator('input[name="entity"]:checked').evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value))).toEqual(chosen);

      // Fix the key in the settings; the next sync reads the saved entities only.
      await page.getByRole("button", { name: "Settings" }).click();
      const settings = page.getByRole("form", { name: "Source settings" });
      await settings.locator('[data-field="api_key"] input').fill(stripe.apiKey);
      await settings.getByRole("button", { name: "Save settings" }).click();
      await settings.waitFor({ state: "detached" });
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.getByTestId("run-summary").getByText(/Sync finished/).waitFor({ timeout: 30_000 });
      expect(await liveEntities()).toEqual(chosen);
      await expectNotClipped(page, ".progress-table th, .entity-option, .tabs");
      await shot(page, "15-stripe-synced");

      // Unticking on the source page saves at once; a full refresh applies to one sync only.
      await page.getByRole("checkbox", { name: /^refunds/ }).uncheck();
      await page.getByTestId("selection-note").getByText("Saved: a sync reads customers, products, subscriptions, invoices, charges, payment_intents and balance_transactions.").waitFor();
      expect((await mako.sources.get("stripe")).entities).toEqual(chosen.filter((e) => e !== "refunds"));
      const fullRefresh = page.getByLabel("Full refresh");
      await fullRefresh.check();
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.locator(".run-state").getByText("Full refresh").waitFor();
      expect(await fullRefresh.isChecked()).toBe(false);
      await page.getByTestId("run-summary").getByText(/Sync finished/).waitFor({ timeout: 30_000 });
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Run history"] tbody tr[data-run]').length === 4);
      await page.getByTestId("run-summary").getByText(/Sync finished/).waitFor({ timeout: 30_000 });
      const runs = await mako.runs.list({ source: "stripe" });
      expect(runs.map((r) => [r.status, r.fullRefresh])).toEqual([
        ["succeeded", false],
        ["succeeded", true],
        ["succeeded", false],
        ["failed", false],
      ]);
      expect(runs[0].entities.map((e) => e.entity)).not.toContain("refunds");

      // Run times: the date, the time and how long ago.
      const started = await page.locator('table[aria-label="Run history"] tbody tr[data-run] time').first().textContent();
      expect(started).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d · (just now|\d+ min ago)$/);

      // The add form's default name is one that is free: the first save works.
      await page.goto(`${server.url}/connectors/stripe/new`);
      await page.getByRole("heading", { name: "Add a Stripe source" }).waitFor();
      expect(await page.getByLabel("Name").inputValue()).toBe("stripe_2");
      await page.locator('[data-field="api_key"] input').fill(stripe.apiKey);
      await page.getByLabel("Base URL").fill(stripe.url);
      await page.getByLabel(syncNowLabel).uncheck();
      await page.getByRole("button", { name: "Save source" }).click();
      await page.waitForURL(`${server.url}/sources/stripe_2`);
      expect((await mako.sources.get("stripe_2")).entities).toBeNull();

      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      await stripe.close();
    }
  }, 150_000);

  it("follows a sync through a reload, refreshes the preview as chunks commit, fits a phone, keeps retries of a failed run", async () => {
    await mako.sources.add({ name: "slow", connector: "sample", config: { count: 4000, page_delay_ms: 150 }, settings: { batchSize: 100, maxIterations: 2 } });
    const page = watch(await browser.newPage());
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(`${server.url}/sources/slow`);
    await page.getByText("Nothing synced yet").waitFor();
    await page.getByRole("button", { name: "Sync now" }).click();

    // The preview's row count follows the commits while users are still being read.
    const usersTab = page.getByRole("tab", { name: /^users/ });
    const tabCount = async () => Number((await usersTab.locator(".count").textContent())?.replace(/\D/g, ""));
    const usersRunning = page.locator('.progress-table tr[data-entity="users"][data-status="running"]');
    await usersTab.waitFor({ timeout: 30_000 });
    const first = await tabCount();
    expect(await usersRunning.count(), "users still running when the preview first shows rows").toBe(1);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(4000);
    await page.waitForFunction(
      (seen) => {
        const count = Number(document.querySelector('[role="tab"][id="tab-users"] .count')?.textContent?.replace(/\D/g, ""));
        const running = document.querySelector('.progress-table tr[data-entity="users"][data-status="running"]') !== null;
        return running && count > seen && count < 4000;
      },
      first,
      { timeout: 30_000 },
    );

    // A reload mid-run brings back the status, the progress and the log so far.
    await page.getByText(/^Live log \(\d+\)$/).waitFor();
    const logLines = Number((await page.getByText(/^Live log \(\d+\)$/).textContent())!.replace(/\D/g, ""));
    await page.reload();
    await page.getByRole("heading", { name: "slow" }).waitFor();
    await page.locator('.run-state [data-status="running"]').waitFor();
    await page.getByRole("button", { name: "Cancel sync" }).waitFor();
    await page.waitForFunction(() => Number(document.querySelector('.progress-table tr[data-entity="users"] [data-testid="records"]')?.textContent?.split("/")[0].replace(/\D/g, "")) > 0);
    await page.waitForFunction((n) => Number(document.querySelector(".live-log summary")?.textContent?.replace(/\D/g, "")) >= n, logLines);

    // At phone width each entity keeps its bar and its status, inside the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const rows = await page.locator(".progress-table tr[data-entity]").evaluateAll((trs) =>
      trs.map((tr) => {
        const bar = tr.querySelector(".bar")!.getBoundingClientRect();
        const status = tr.querySelector(".cell-status .badge")!.getBoundingClientRect();
        return { entity: tr.getAttribute("data-entity"), bar: bar.width, statusRight: status.right, statusWidth: status.width };
      }),
    );
    expect(rows.map((r) => r.entity)).toEqual(["users", "products", "purchases"]);
    for (const r of rows) {
      expect(r.bar, `${r.entity} bar`).toBeGreaterThan(250);
      expect(r.statusWidth, `${r.entity} status`).toBeGreaterThan(40);
      expect(r.statusRight, `${r.entity} status`).toBeLessThanOrEqual(390);
    }
    await expectNoHorizontalScroll(page);
    await shot(page, "16-sync-live-phone");

    await page.getByTestId("run-summary").getByText("Sync finished: 8,400 records").waitFor({ timeout: 60_000 });
    // The preview ends on the committed total, not an earlier count.
    await page.waitForFunction(() => document.querySelector('[role="tab"][id="tab-users"] .count')?.textContent === "4,000");
    await page.getByText("1–25 of 4,000").waitFor();
    // Run details fit the phone: the page never scrolls sideways.
    await page.getByRole("table", { name: "Run history" }).getByRole("button", { name: "Details" }).first().click();
    await page.getByRole("table", { name: "Entities of this run" }).waitFor();
    await expectNoHorizontalScroll(page);
    await expectNotClipped(page, ".runs-table");
    await shot(page, "17-run-details-phone");
    await page.setViewportSize({ width: 1280, height: 860 });

    // Stripe down (503 on every request): the run fails, and each entity's retries stay shown.
    const stripe = await startStripeFake({ seed: 3 });
    try {
      stripe.injectFault({ status: 503, body: { error: { type: "api_error", message: "Stripe is down" } }, times: 1000 });
      await mako.sources.add({
        name: "down",
        connector: "stripe",
        config: { api_key: stripe.apiKey, base_url: stripe.url },
        settings: { maxRetries: 2 },
        entities: ["customers", "balance_transactions"],
      });
      await page.goto(`${server.url}/sources/down`);
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.getByTestId("run-summary").getByText(/^Sync failed: /).waitFor({ timeout: 30_000 });
      for (const entity of ["customers", "balance_transactions"]) expect(await retriesCell(page, entity).textContent(), entity).toBe("2");
      const history = page.getByRole("table", { name: "Run history" });
      await history.getByRole("button", { name: "Details" }).click();
      const details = page.getByRole("table", { name: "Entities of this run" });
      await details.waitFor();
      expect(await details.getByTestId("retries").allTextContents()).toEqual(["2", "2"]);
      await expectNotClipped(page, ".progress-table th");
      await shot(page, "18-failed-run-retries");
    } finally {
      await stripe.close();
    }

    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 150_000);

  it("removes a source through the app's own dialog, asking what becomes of its data; adding the name again asks too", async () => {
    const page = watch(await browser.newPage());
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/sources/slow`);
    await page.getByRole("heading", { name: "slow" }).waitFor();
    const leftBehind = async () => {
      const { tables, checkpoints } = await mako.defaultDestination.namespaceContents("slow");
      return tables.length + checkpoints.length;
    };
    expect(await leftBehind()).toBeGreaterThan(0);

    await page.getByRole("button", { name: "Remove" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove “slow”?" });
    await dialog.getByText("What becomes of the data it synced?").waitFor();
    // Nothing is chosen for the user: Remove waits for a choice.
    expect(await dialog.getByRole("button", { name: "Remove source" }).isDisabled()).toBe(true);
    await shot(page, "19-remove-dialog-phone");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect((await mako.sources.get("slow")).name).toBe("slow");

    await page.getByRole("button", { name: "Remove" }).click();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Remove" }).click();
    await dialog.getByRole("radio", { name: /Keep them/ }).check();
    await dialog.getByRole("button", { name: "Remove source" }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByRole("list", { name: "Sources" }).getByText("shop").waitFor();
    expect(await page.getByRole("list", { name: "Sources" }).getByText("slow", { exact: true }).count()).toBe(0);
    await expect(mako.sources.get("slow")).rejects.toThrow(/no source named "slow"/);
    expect(await leftBehind()).toBeGreaterThan(0);

    expectingStatus = 404;
    await page.goto(`${server.url}/sources/slow`);
    await page.getByTestId("source-missing").getByText("There is no source named “slow”").waitFor();
    expectingStatus = undefined;
    expect(await page.locator("main").textContent()).not.toMatch(/mako /);
    await expectNoHorizontalScroll(page);
    await shot(page, "20-removed-source-phone");

    // The name again: the form says what the earlier "slow" left, and waits for a choice.
    await page.goto(`${server.url}/connectors/sample/new`);
    await page.getByLabel("Name").fill("slow");
    await page.getByLabel("Start a sync right after saving").uncheck();
    expectingStatus = 409;
    await page.getByRole("button", { name: "Save source" }).click();
    const asked = page.getByTestId("save-leftovers");
    await asked.getByText(/earlier source "slow" left data .*slow__users/).waitFor();
    expectingStatus = undefined;
    expect(await asked.textContent()).not.toMatch(/--\w+-data/);
    await expectNoHorizontalScroll(page);
    await shot(page, "20b-add-leftovers-phone");
    await asked.getByRole("button", { name: "Delete it first" }).click();
    await page.getByRole("heading", { name: "slow" }).waitFor();
    expect(await leftBehind()).toBe(0);

    // Removed for good this time, data and all.
    await page.getByRole("button", { name: "Remove" }).click();
    await dialog.getByRole("radio", { name: /Delete them/ }).check();
    await dialog.getByRole("button", { name: "Remove source" }).click();
    await page.waitForURL(`${server.url}/`);
    await expect(mako.sources.get("slow")).rejects.toThrow(/no source named "slow"/);

    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it("shows a Stripe source's webhook URL, events, secret and last verified event", async () => {
    await mako.sources.add({ name: "billing", connector: "stripe", config: { api_key: "sk_test_ui" } });
    const page = watch(await browser.newPage());
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(`${server.url}/sources/billing`);
    const panel = page.getByTestId("webhook-panel");
    await panel.getByRole("heading", { name: "Webhooks" }).waitFor();
    expect(await panel.getByTestId("webhook-url").textContent()).toBe(`${server.url}/hooks/billing`);
    expect(await panel.getByTestId("webhook-secret").textContent()).toMatch(/^not set/);
    expect(await panel.getByTestId("webhook-last").textContent()).toBe("none yet");
    await panel.getByText(/Events to subscribe to \(50\)/).click();
    await panel.getByText("customer.subscription.deleted", { exact: true }).waitFor();

    // The secret set in Settings: the panel says so.
    await page.getByRole("button", { name: "Settings" }).click();
    const settings = page.getByRole("form", { name: "Source settings" });
    await settings.getByLabel("Webhook secret").fill("whsec_ui_test");
    await settings.getByRole("button", { name: "Save settings" }).click();
    await settings.waitFor({ state: "detached" });
    await panel.getByTestId("webhook-secret").getByText("set", { exact: true }).waitFor();

    // A signed delivery arrives: Refresh shows when.
    const body = JSON.stringify({ id: "evt_ui", object: "event", type: "customer.created", created: Math.floor(Date.now() / 1000), data: { object: { id: "cus_ui", object: "customer" } } });
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${createHmac("sha256", "whsec_ui_test").update(`${t}.${body}`).digest("hex")}`;
    const delivered = await fetch(`${server.url}/hooks/billing`, { method: "POST", headers: { "stripe-signature": signature }, body });
    expect(delivered.status).toBe(200);
    await panel.getByRole("button", { name: "Refresh" }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="webhook-last"]')?.textContent !== "none yet");
    await shot(page, "21-source-webhooks");

    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoHorizontalScroll(page);
    // A connector without webhooks shows no panel.
    await page.goto(`${server.url}/sources/shop`);
    await page.getByRole("heading", { name: "shop" }).waitFor();
    await page.getByRole("table", { name: "Run history" }).waitFor();
    expect(await page.getByTestId("webhook-panel").count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it("sets a schedule on the source page: next three runs in the browser's zone; pauses, resumes and removes it", async () => {
    await mako.sources.add({ name: "nightly", connector: "sample", config: { count: 3 }, entities: ["users"] });
    const page = watch(await browser.newPage());
    await page.setViewportSize({ width: 1280, height: 860 });
    // The browser lives in Tokyo; the schedule is read in Paris: 02:30 there is 09:30 or 10:30 here.
    const cdp = await browser.newCDPSession(page);
    await cdp.send("Emulation.setTimezoneOverride", { timezoneId: "Asia/Tokyo" });
    await page.goto(`${server.url}/sources/nightly`);
    const panel = page.getByTestId("schedule-panel");
    await panel.getByText("No schedule: this source syncs only when asked.").waitFor();

    await panel.getByRole("button", { name: "Add a schedule" }).click();
    const form = panel.getByRole("form", { name: "Schedule" });
    expect(await form.getByLabel("Time zone").inputValue()).toBe("Asia/Tokyo");
    await form.getByLabel("Cron").fill("61 2 * * *");
    expectingBadRequest = true;
    await form.getByRole("button", { name: "Save schedule" }).click();
    await form.getByRole("alert").getByText('invalid cron "61 2 * * *": minute "61": out of range (0-59)').waitFor();
    await shot(page, "22-schedule-form-error");
    await form.getByLabel("Cron").fill("30 2 * * *");
    await form.getByLabel("Time zone").fill("Mars/Olympus");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await form.getByRole("alert").getByText(/invalid time zone "Mars\/Olympus"/).waitFor();
    expectingBadRequest = false;
    expect(await mako.schedules.find("nightly")).toBeNull();
    await form.getByLabel("Time zone").fill("Europe/Paris");
    await form.getByLabel("Runs missed while Mako was stopped").selectOption("skip");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await form.waitFor({ state: "detached" });

    const stored = await mako.schedules.get("nightly");
    expect(stored).toMatchObject({ cron: "30 2 * * *", timezone: "Europe/Paris", misfire: "skip" });
    expect(await panel.getByTestId("schedule-cron").textContent()).toBe("30 2 * * *");
    await panel.getByRole("heading", { name: "Next runs, in your time (Asia/Tokyo)" }).waitFor();
    const shown = panel.getByTestId("next-runs").locator("time");
    expect(await shown.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      const iso = stored.nextFireTimes[i];
      const tokyo = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
      expect(tokyo).toMatch(/^(09|10):30$/);
      expect(await shown.nth(i).getAttribute("datetime")).toBe(iso);
      const text = await shown.nth(i).textContent();
      expect(text).toContain(tokyo);
      expect(text).toContain("GMT+9");
    }
    await shot(page, "23-schedule-set");

    await panel.getByRole("button", { name: "Pause" }).click();
    await panel.getByTestId("schedule-paused").waitFor();
    expect(await panel.getByTestId("schedule-state").textContent()).toBe("Paused");
    expect((await mako.schedules.get("nightly")).paused).toBe(true);
    await shot(page, "24-schedule-paused");
    await panel.getByRole("button", { name: "Resume" }).click();
    await panel.getByTestId("next-runs").waitFor();
    expect(await panel.getByTestId("schedule-state").textContent()).toBe("Active");

    // A fire (the slot made due, a scheduler ticking here): the run history marks the run.
    mako.embedded!.db.prepare(`UPDATE mako_schedules SET next_fire_at = ? WHERE source = 'nightly'`).run(new Date(Date.now() - 1000).toISOString());
    const [report] = await new Scheduler(mako.store.schedules, new InProcessLauncher(mako)).tick();
    const runId = (report.outcome as { runId: string }).runId;
    while ((await mako.runs.get(runId)).status === "running") await new Promise((r) => setTimeout(r, 50));
    await page.reload();
    await page.getByRole("table", { name: "Run history" }).locator(`tr[data-run="${runId}"]`).getByTestId("run-scheduled").waitFor();
    expect(await panel.getByText("Last scheduled run").count()).toBe(1);
    expect(await panel.locator("dd").nth(2).textContent()).not.toBe("none yet");
    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoHorizontalScroll(page);
    await expectNotClipped(page, '[data-testid="schedule-panel"]');
    await shot(page, "25-schedule-phone");
    await page.setViewportSize({ width: 1280, height: 860 });

    await panel.getByRole("button", { name: "Remove schedule" }).click();
    await panel.getByText("No schedule: this source syncs only when asked.").waitFor();
    expect(await mako.schedules.find("nightly")).toBeNull();
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 90_000);
});
