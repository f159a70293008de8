/** A record of the fake API. Extra fields given to `upsertRecords` are kept as they are. */
export interface FakeRecord {
  id: string;
  name: string;
  amount: number;
  active: boolean;
  tags: string[];
  meta: { region: string; score: number };
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface Deletion {
  id: string;
  deleted_at: string;
}

/** A stored record with its JSON pre-rendered, so pages are built by joining strings. */
export interface StoredRecord {
  record: FakeRecord;
  json: string;
}

/** Position in the (updated_at, id) order; a cursor encodes the last one served. */
export type RecordKey = readonly [updatedAt: string, id: string];

const EPOCH = Date.parse("2024-01-01T00:00:00.000Z");
const REGIONS = ["eu", "us", "apac"];

function compareKey(a: RecordKey, b: RecordKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

function keyOf(r: FakeRecord): RecordKey {
  return [r.updated_at, r.id];
}

function generated(seq: number, stamp: string): FakeRecord {
  return {
    id: `rec_${String(seq).padStart(7, "0")}`,
    name: `Record ${seq}`,
    amount: (seq * 37) % 1000,
    active: seq % 3 !== 0,
    tags: seq % 2 === 0 ? ["even"] : ["odd", `m${seq % 5}`],
    meta: { region: REGIONS[seq % REGIONS.length], score: (seq * 7919) % 101 },
    created_at: stamp,
    updated_at: stamp,
  };
}

/**
 * The fake API's records, kept in a stable (updated_at, id) order so keyset cursors and
 * `updated_since` filters are binary searches. Every change gets a strictly later updated_at.
 */
export class RecordStore {
  private rows: StoredRecord[] = [];
  private readonly byId = new Map<string, StoredRecord>();
  private readonly deletions: Deletion[] = [];
  private nextSeq = 1;
  private lastStamp = EPOCH;

  constructor(initial: number | Array<Partial<FakeRecord>>) {
    if (typeof initial === "number") {
      for (let i = 0; i < initial; i++) {
        const seq = this.nextSeq++;
        this.lastStamp = EPOCH + seq * 1000;
        this.store(generated(seq, new Date(this.lastStamp).toISOString()));
      }
      // Generated records arrive already in order; anything else is sorted once.
    } else {
      for (const partial of initial) this.upsertOne(partial, false);
      this.rows.sort((a, b) => compareKey(keyOf(a.record), keyOf(b.record)));
    }
  }

  get size(): number {
    return this.rows.length;
  }

  /** A copy of every record in (updated_at, id) order. */
  snapshot(): FakeRecord[] {
    return this.rows.map((r) => structuredClone(r.record));
  }

  deletedSince(since?: string): Deletion[] {
    return since === undefined ? [...this.deletions] : this.deletions.filter((d) => d.deleted_at >= since);
  }

  /** Index of the first record with updated_at ≥ since. */
  private firstSince(since: string | undefined): number {
    return since === undefined ? 0 : this.lowerBound((k) => k[0] >= since);
  }

  /** Index of the first row whose key satisfies a monotone predicate. */
  private lowerBound(satisfied: (key: RecordKey) => boolean): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (satisfied(keyOf(this.rows[mid].record))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Up to `limit` rows after `after` (keyset), with updated_at ≥ since. */
  pageAfter(after: RecordKey | undefined, since: string | undefined, limit: number): { rows: StoredRecord[]; hasMore: boolean } {
    let start = this.firstSince(since);
    if (after) start = Math.max(start, this.lowerBound((k) => compareKey(k, after) > 0));
    const rows = this.rows.slice(start, start + limit);
    return { rows, hasMore: start + limit < this.rows.length };
  }

  /** Page `page` (1-based) of `limit` rows among those with updated_at ≥ since. */
  pageAt(page: number, since: string | undefined, limit: number): { rows: StoredRecord[]; hasMore: boolean } {
    const start = this.firstSince(since) + (page - 1) * limit;
    const rows = this.rows.slice(start, start + limit);
    return { rows, hasMore: start + limit < this.rows.length };
  }

  private nextStamp(): string {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  private store(record: FakeRecord): StoredRecord {
    const row = { record, json: JSON.stringify(record) };
    this.rows.push(row);
    this.byId.set(record.id, row);
    return row;
  }

  private remove(row: StoredRecord): void {
    const key = keyOf(row.record);
    const i = this.lowerBound((k) => compareKey(k, key) >= 0);
    if (this.rows[i] === row) this.rows.splice(i, 1);
    else this.rows.splice(this.rows.indexOf(row), 1);
    this.byId.delete(row.record.id);
  }

  private upsertOne(partial: Partial<FakeRecord>, bumpStamp: boolean): FakeRecord {
    const stamp = bumpStamp || partial.updated_at === undefined ? this.nextStamp() : partial.updated_at;
    const existing = partial.id !== undefined ? this.byId.get(partial.id) : undefined;
    let record: FakeRecord;
    if (existing) {
      this.remove(existing);
      record = { ...existing.record, ...partial, id: existing.record.id, updated_at: stamp };
    } else {
      const seq = this.nextSeq++;
      record = { ...generated(seq, stamp), ...partial, updated_at: stamp };
      if (partial.id === undefined) record.id = generated(seq, stamp).id;
    }
    this.store(record);
    return structuredClone(record);
  }

  /** Creates or changes records; each gets a fresh, strictly increasing updated_at. */
  upsert(records: Array<Partial<FakeRecord>>): FakeRecord[] {
    return records.map((r) => this.upsertOne(r, true));
  }

  /** Bumps updated_at without changing anything else (a "touched" record an incremental sync must refetch). */
  touch(ids: string[]): FakeRecord[] {
    return this.upsert(ids.filter((id) => this.byId.has(id)).map((id) => ({ id })));
  }

  /** Removes records; they are listed by `deletedSince`. Returns how many existed. */
  delete(ids: string[]): number {
    let removed = 0;
    for (const id of ids) {
      const row = this.byId.get(id);
      if (!row) continue;
      this.remove(row);
      this.deletions.push({ id, deleted_at: this.nextStamp() });
      removed++;
    }
    return removed;
  }
}
