// The write state of one table shape, shared by both bulk methods: made once, reused by every chunk.

import { type MergePlan, mergePlan } from "../mergePlan";
import type { Table } from "../dialect";
import { qualified } from "../tables";
import type { Column, TableShape } from "../tableShape";
import { COPY_TEXT } from "./copyMerge";
import { onConflict } from "./merge";
import { quote } from "./naming";
import { CONVERT, type Converter } from "./types";

/** Rows per multi-row upsert: the measurements put the sweet spot near 1,000. */
const ROWS_PER_STATEMENT = 1000;
/** The protocol's limit on bind parameters per statement. */
const MAX_PARAMS = 65_535;

export interface PgWriter {
  /** Tells this shape's staging table and prepared statements apart from others'. */
  id: number;
  /** The target table, quoted and qualified. */
  table: string;
  plan: MergePlan;
  /** The quoted column list, data columns then system columns. */
  list: string;
  onConflict: string;
  fields: string[];
  byField: Map<string, Column>;
  overflow: boolean;
  /** The table has `_mako_version`: its value ends each row. */
  versioned: boolean;
  convert: Converter[];
  copyText: Array<(v: unknown) => string>;
  width: number;
  rowsPerStatement: number;
  /** Multi-row statements by row count; full-size ones are prepared once per connection. */
  statements: Map<number, { name: string; text: string }>;
}

let ids = 0;
/** A name no other writer or statement of this process uses. */
export const nextId = () => ++ids;

export function makeWriter(table: Table, shape: TableShape): PgWriter {
  const plan = mergePlan(table, shape);
  const width = plan.columns.length;
  return {
    id: nextId(),
    table: qualified(quote, table.name),
    plan,
    list: plan.columns.map(quote).join(", "),
    onConflict: onConflict(plan),
    fields: shape.columns.map((c) => c.field),
    byField: new Map(shape.columns.map((c) => [c.field, c])),
    overflow: shape.overflow,
    versioned: shape.versioned,
    convert: shape.columns.map((c) => CONVERT[c.type]),
    copyText: shape.columns.map((c) => COPY_TEXT[c.type]),
    width,
    rowsPerStatement: Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS / width))),
    statements: new Map(),
  };
}
