// The REST connector against a JSON Server-shaped API (arrays in the body, totals in
// X-Total-Count): page_number paging that reads the total from a header asks for no empty
// page at the end of a list, and an incremental sub-resource sync costs a visit per parent.
import { afterEach, describe, expect, it } from "vitest";
import { startJsonServerFake, type JsonServerFake } from "../../../bench/fakes/jsonServer";
import { RestConnector } from "../../src/connectors/rest";
import { failures, SyncRunner } from "./syncRunner";

const USERS = 23;
const at = (minute: number) => new Date(Date.UTC(2024, 0, 1, 0, minute)).toISOString();

function database() {
  const users = Array.from({ length: USERS }, (_, i) => ({ id: i + 1, name: `user ${i + 1}`, updated_at: at(i) }));
  // 0 to 3 posts per user.
  const posts = users.flatMap((u) => Array.from({ length: u.id % 4 }, (_, j) => ({ id: u.id * 10 + j, userId: u.id, title: `post ${j}`, updated_at: at(u.id) })));
  return { users, posts };
}

const configFor = (api: JsonServerFake, paginator: Record<string, unknown>) => ({
  base_url: api.url,
  paginator: { type: "page_number", param: "_page", size_param: "_limit", ...paginator },
  entities: [
    { name: "users", incremental: { cursor_field: "updated_at", param: "updated_at_gte" } },
    { name: "posts", path: "/users/{id}/posts", parent: "users", incremental: { cursor_field: "updated_at", param: "updated_at_gte" } },
  ],
});
const SETTINGS = { batchSize: 10, requestsPerSecond: 0 };

let api: JsonServerFake | undefined;
let runner: SyncRunner | undefined;
afterEach(async () => {
  await runner?.close();
  await api?.close();
  api = runner = undefined;
});

/** Requests per route of one sync: users pages, and the posts of each user. */
async function syncCounting(r: SyncRunner, a: JsonServerFake) {
  const before = { ...a.stats.byRoute };
  const { result } = await r.sync();
  expect(failures(result)).toBe("");
  const users = (a.stats.byRoute["GET /users"] ?? 0) - (before["GET /users"] ?? 0);
  const posts = Object.entries(a.stats.byRoute)
    .filter(([route]) => /^GET \/users\/\d+\/posts$/.test(route))
    .reduce((n, [route, count]) => n + count - (before[route] ?? 0), 0);
  return { users, posts, result };
}

describe("REST against a JSON Server-shaped API", () => {
  it("reads the total from X-Total-Count: no empty page at the end of any list", async () => {
    api = await startJsonServerFake(database());
    runner = new RestRunner(configFor(api, { total_header: "X-Total-Count" }));
    const first = await syncCounting(runner, api);
    // users: pages of 10, 10 and 3, read once for the users entity and once as posts' parents.
    expect(first.users).toBe(3 + 3);
    // One request per user: no user has more than 10 posts, and no empty page after them.
    expect(first.posts).toBe(USERS);
    expect((await runner.rows("users")).length).toBe(USERS);
    expect((await runner.rows("posts")).length).toBe(database().posts.length);
    expect((await runner.rows("posts")).every((p) => p.users_id === String(p.userId))).toBe(true);

    // The same API without the header: every list costs one more request, an empty page.
    const api2 = await startJsonServerFake(database());
    const runner2 = new RestRunner(configFor(api2, {}));
    try {
      const without = await syncCounting(runner2, api2);
      expect(without.users).toBe(4 + 4);
      const emptyLists = database().users.filter((u) => u.id % 4 === 0).length;
      expect(without.posts).toBe(USERS * 2 - emptyLists);
      expect((await runner2.rows("posts")).length).toBe(database().posts.length);
    } finally {
      await runner2.close();
      await api2.close();
    }
  });

  it("an incremental sub-resource sync reads every parent again, one list request each", async () => {
    api = await startJsonServerFake(database());
    runner = new RestRunner(configFor(api, { total_header: "X-Total-Count" }));
    await syncCounting(runner, api);
    // One new post; nothing else changed.
    api.db.posts.push({ id: 999, userId: 5, title: "new", updated_at: at(59) });
    const again = await syncCounting(runner, api);
    // users: an empty filtered page for the entity, and every parent page (parents are read whole).
    expect(again.users).toBe(1 + 3);
    expect(again.posts).toBe(USERS);
    // `_gte` is inclusive: the 3 posts at the mark come again, with the new one.
    expect(again.result.entities.find((e) => e.entity === "posts")).toMatchObject({ records: 4, since: at(USERS) });
    expect((await runner.live("posts")).get("999")).toMatchObject({ title: "new", users_id: "5" });
  });
});

class RestRunner extends SyncRunner {
  constructor(config: Record<string, unknown>) {
    super(RestConnector, config, SETTINGS);
  }
}
