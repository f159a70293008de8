// Deterministic fake data: record i of an entity depends only on (i, seed), so any page can
// be produced on its own — which is what makes the sample source resumable and cheap.

const BASE_TIME = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Linus", "Margaret", "Dennis", "Frances", "John", "Radia"];
const LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Torvalds", "Hamilton", "Ritchie", "Allen", "Backus", "Perlman"];
const CITIES = ["Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Toronto", "Berlin", "Pune", "Austin", "Lyon"];
const PLANS = ["free", "starter", "team", "enterprise"];
const TAGS = ["beta", "vip", "churn-risk", "newsletter", "partner", "trial", "edu"];
const CATEGORIES = ["books", "garden", "kitchen", "games", "tools", "audio"];

/** A 32-bit hash of (i, seed, salt): a stateless random source. */
function hash(i: number, seed: number, salt: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seed + salt, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function pick<T>(list: readonly T[], i: number, seed: number, salt: number): T {
  return list[hash(i, seed, salt) % list.length];
}

/** Record i's `updated_at`: strictly increasing with i, so a higher count only adds newer records. */
export function updatedAtOf(i: number): string {
  return new Date(BASE_TIME + i * MINUTE).toISOString();
}

/** The first record index whose `updated_at` is after `since` (an ISO timestamp). */
export function firstIndexAfter(since: string | number): number {
  const t = typeof since === "number" ? since * 1000 : Date.parse(since);
  if (Number.isNaN(t)) throw new Error(`sample: since "${since}" is not a timestamp`);
  return Math.max(1, Math.floor((t - BASE_TIME) / MINUTE) + 1);
}

export function generateUser(i: number, seed: number) {
  const first = pick(FIRST, i, seed, 1);
  const last = pick(LAST, i, seed, 2);
  const h = hash(i, seed, 3);
  return {
    id: i,
    name: `${first} ${last}`,
    email: `${first}.${last}.${i}@example.com`.toLowerCase(),
    plan: pick(PLANS, i, seed, 4),
    is_active: h % 5 !== 0,
    score: (h % 10_000) / 100,
    address: {
      street: `${(h % 900) + 1} ${last} Street`,
      city: pick(CITIES, i, seed, 5),
      postcode: String(10_000 + (h % 89_999)),
    },
    tags: [pick(TAGS, i, seed, 6), pick(TAGS, i, seed, 7)],
    created_at: new Date(BASE_TIME - (h % 1_000) * 86_400_000).toISOString(),
    updated_at: updatedAtOf(i),
  };
}

export function productCount(userCount: number): number {
  return Math.max(5, Math.floor(userCount / 10));
}

export function generateProduct(i: number, seed: number) {
  const h = hash(i, seed, 11);
  return {
    id: i,
    sku: `SKU-${String(i).padStart(6, "0")}`,
    title: `${pick(CATEGORIES, i, seed, 12)} item ${i}`,
    category: pick(CATEGORIES, i, seed, 12),
    price_cents: 100 + (h % 20_000),
    dimensions: { width_cm: h % 50, height_cm: (h >>> 8) % 50, weight_g: (h >>> 16) % 5_000 },
    updated_at: updatedAtOf(i),
  };
}

/** Purchase i refers only to users and products that exist when i does: raising `count` never changes it. */
export function generatePurchase(i: number, seed: number) {
  const h = hash(i, seed, 21);
  const products = productCount(i);
  const quantity = 1 + (h % 4);
  return {
    id: i,
    user_id: 1 + (h % i),
    items: [{ product_id: 1 + ((h >>> 4) % products), quantity }],
    total_cents: quantity * (100 + ((h >>> 8) % 20_000)),
    status: h % 10 === 0 ? "refunded" : "paid",
    purchased_at: updatedAtOf(i),
    updated_at: updatedAtOf(i),
  };
}
