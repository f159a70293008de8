// A tiny GoogleSQL evaluator for the BigQuery fake: enough for the queries a sync runs —
//   SELECT * | col [AS a], … FROM `project.dataset.table` | dataset.table | (subquery) [AS t]
//   [WHERE col op value [AND|OR …] | col IS [NOT] NULL | NOT … | ( … )] [ORDER BY col [ASC|DESC], …] [LIMIT n]
// and `SELECT 1`. Values are typed: a parameter's type comes from `parameterType`, and
// comparing values of different types fails the way GoogleSQL does ("No matching signature
// for operator >= for argument types: TIMESTAMP, STRING"). Named parameters only
// (https://cloud.google.com/bigquery/docs/parameterized-queries). Anything else is a syntax error.
import { canonicalType, columnType, compare, comparable, parseTimestamp, type Cell, type FieldSchema, type Typed } from "./values";

/** A query failure as BigQuery reports it: HTTP status, `errors[].reason`, message. */
export class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Relation {
  fields: FieldSchema[];
  rows: Cell[][];
}

export interface Catalog {
  /** The rows of a table, or a QueryError (notFound, accessDenied). */
  table(project: string, dataset: string, table: string): Relation;
  defaultProject: string;
  /** The request's `defaultDataset`, for unqualified table names. */
  defaultDataset?: { project: string; dataset: string };
}

// --- tokens ----------------------------------------------------------------------------------

type TokenKind = "ident" | "quoted" | "number" | "string" | "param" | "op" | "end";
interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based line and column, for error messages `at [line:col]`. */
  line: number;
  col: number;
}

const KEYWORDS = new Set(["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IS", "NULL", "ORDER", "BY", "ASC", "DESC", "LIMIT", "AS", "TRUE", "FALSE", "TIMESTAMP", "DATE", "DATETIME"]);

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (start: number) => ({ line, col: start - lineStart + 1 });
  const syntax = (message: string, start: number) => {
    const p = at(start);
    return new QueryError(400, "invalidQuery", `Syntax error: ${message} at [${p.line}:${p.col}]`);
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if ((c === "-" && sql[i + 1] === "-") || c === "#") {
      while (i < sql.length && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end < 0) throw syntax("Unclosed comment", i);
      for (let j = i; j < end; j++) if (sql[j] === "\n") {
        line++;
        lineStart = j + 1;
      }
      i = end + 2;
      continue;
    }
    const start = i;
    if (c === "`") {
      const end = sql.indexOf("`", i + 1);
      if (end < 0) throw syntax("Unclosed identifier literal", i);
      tokens.push({ kind: "quoted", text: sql.slice(i + 1, end), ...at(start) });
      i = end + 1;
      continue;
    }
    if (c === "'" || c === '"') {
      let text = "";
      i++;
      while (i < sql.length && sql[i] !== c) {
        if (sql[i] === "\\" && i + 1 < sql.length) i++;
        text += sql[i++];
      }
      if (i >= sql.length) throw syntax("Unclosed string literal", start);
      i++;
      tokens.push({ kind: "string", text, ...at(start) });
      continue;
    }
    if (c === "@") {
      const m = /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i));
      if (!m) throw syntax(`Unexpected "@"`, i);
      tokens.push({ kind: "param", text: m[1], ...at(start) });
      i += m[0].length;
      continue;
    }
    const number = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(sql.slice(i));
    if (number) {
      tokens.push({ kind: "number", text: number[0], ...at(start) });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i));
    if (ident) {
      tokens.push({ kind: "ident", text: ident[0], ...at(start) });
      i += ident[0].length;
      continue;
    }
    const op = /^(<=|>=|<>|!=|=|<|>|\(|\)|,|\.|\*|;)/.exec(sql.slice(i));
    if (op) {
      tokens.push({ kind: "op", text: op[0], ...at(start) });
      i += op[0].length;
      continue;
    }
    throw syntax(`Illegal input character "${c}"`, i);
  }
  tokens.push({ kind: "end", text: "", ...at(i) });
  return tokens;
}

// --- syntax tree -----------------------------------------------------------------------------

type Expr =
  | { kind: "column"; path: string[]; at: Token }
  | { kind: "param"; name: string; at: Token }
  | { kind: "literal"; value: Typed; untypedString?: boolean }
  | { kind: "compare"; op: string; left: Expr; right: Expr; at: Token }
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "not"; expr: Expr }
  | { kind: "isNull"; expr: Expr; negated: boolean };

type Source = { kind: "table"; path: string[]; alias?: string; at: Token } | { kind: "subquery"; query: Select; alias?: string };

interface Select {
  items: "*" | { expr: Expr; alias?: string }[];
  from?: Source;
  where?: Expr;
  orderBy: { expr: Expr; desc: boolean }[];
  limit?: number;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === "ident" && t.text.toUpperCase() === word;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === op;
  }
  private fail(t: Token, what: string): never {
    const shown = t.kind === "end" ? "end of input" : t.kind === "string" ? `string literal '${t.text}'` : `"${t.text}"`;
    throw new QueryError(400, "invalidQuery", `Syntax error: ${what}, got ${shown} at [${t.line}:${t.col}]`);
  }
  private keyword(word: string): void {
    if (!this.isKeyword(word)) this.fail(this.peek(), `Expected keyword ${word}`);
    this.i++;
  }
  private op(op: string): void {
    if (!this.isOp(op)) this.fail(this.peek(), `Expected "${op}"`);
    this.i++;
  }

  parseStatement(): Select {
    const query = this.parseSelect();
    if (this.isOp(";")) this.i++;
    if (this.peek().kind !== "end") this.fail(this.peek(), "Expected end of input");
    return query;
  }

  private parseSelect(): Select {
    this.keyword("SELECT");
    let items: Select["items"];
    if (this.isOp("*")) {
      this.i++;
      items = "*";
    } else {
      items = [];
      do {
        const expr = this.parseOperand();
        let alias: string | undefined;
        if (this.isKeyword("AS")) {
          this.i++;
          alias = this.name();
        }
        items.push({ expr, alias });
      } while (this.isOp(",") && this.next());
    }
    const query: Select = { items, orderBy: [] };
    if (this.isKeyword("FROM")) {
      this.i++;
      query.from = this.parseSource();
    }
    if (this.isKeyword("WHERE")) {
      this.i++;
      query.where = this.parseOr();
    }
    if (this.isKeyword("ORDER")) {
      this.i++;
      this.keyword("BY");
      do {
        const expr = this.parseOperand();
        let desc = false;
        if (this.isKeyword("DESC")) {
          this.i++;
          desc = true;
        } else if (this.isKeyword("ASC")) this.i++;
        query.orderBy.push({ expr, desc });
      } while (this.isOp(",") && this.next());
    }
    if (this.isKeyword("LIMIT")) {
      this.i++;
      const t = this.next();
      if (t.kind !== "number" || !/^\d+$/.test(t.text)) this.fail(t, "Expected an integer after LIMIT");
      query.limit = Number(t.text);
    }
    return query;
  }

  private name(): string {
    const t = this.next();
    if (t.kind === "quoted" || (t.kind === "ident" && !KEYWORDS.has(t.text.toUpperCase()))) return t.text;
    return this.fail(t, "Expected an identifier");
  }

  private parseSource(): Source {
    let source: Source;
    if (this.isOp("(")) {
      this.i++;
      const query = this.parseSelect();
      this.op(")");
      source = { kind: "subquery", query };
    } else {
      const at = this.peek();
      const path: string[] = [];
      do path.push(...this.name().split(".")); while (this.isOp(".") && this.next());
      source = { kind: "table", path, at };
    }
    if (this.isKeyword("AS")) {
      this.i++;
      source.alias = this.name();
    } else if (this.peek().kind === "quoted" || (this.peek().kind === "ident" && !KEYWORDS.has(this.peek().text.toUpperCase()))) {
      source.alias = this.name();
    }
    return source;
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.isKeyword("OR")) {
      this.i++;
      left = { kind: "or", left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.isKeyword("AND")) {
      this.i++;
      left = { kind: "and", left, right: this.parseNot() };
    }
    return left;
  }

  private parseNot(): Expr {
    if (this.isKeyword("NOT")) {
      this.i++;
      return { kind: "not", expr: this.parseNot() };
    }
    if (this.isOp("(")) {
      this.i++;
      const inner = this.parseOr();
      this.op(")");
      return inner;
    }
    const left = this.parseOperand();
    if (this.isKeyword("IS")) {
      this.i++;
      let negated = false;
      if (this.isKeyword("NOT")) {
        this.i++;
        negated = true;
      }
      this.keyword("NULL");
      return { kind: "isNull", expr: left, negated };
    }
    const at = this.peek();
    if (at.kind === "op" && ["=", "!=", "<>", "<", "<=", ">", ">="].includes(at.text)) {
      this.i++;
      return { kind: "compare", op: at.text, left, right: this.parseOperand(), at };
    }
    return this.fail(at, "Expected a comparison");
  }

  private parseOperand(): Expr {
    const t = this.next();
    if (t.kind === "param") return { kind: "param", name: t.text, at: t };
    if (t.kind === "number") {
      const integer = /^\d+$/.test(t.text);
      return { kind: "literal", value: integer ? { type: "INT64", value: BigInt(t.text) } : { type: "FLOAT64", value: Number(t.text) } };
    }
    if (t.kind === "string") return { kind: "literal", value: { type: "STRING", value: t.text }, untypedString: true };
    if (t.kind === "ident") {
      const word = t.text.toUpperCase();
      if (word === "NULL") return { kind: "literal", value: { type: "NULL", value: null } };
      if (word === "TRUE" || word === "FALSE") return { kind: "literal", value: { type: "BOOL", value: word === "TRUE" } };
      if ((word === "TIMESTAMP" || word === "DATE" || word === "DATETIME") && this.peek().kind === "string") {
        const text = this.next().text;
        if (word === "TIMESTAMP") {
          const micros = parseTimestamp(text);
          if (micros === undefined) throw new QueryError(400, "invalidQuery", `Invalid TIMESTAMP literal at [${t.line}:${t.col}]`);
          return { kind: "literal", value: { type: "TIMESTAMP", value: micros } };
        }
        return { kind: "literal", value: { type: word, value: text.replace(" ", "T") } };
      }
    }
    if (t.kind === "ident" || t.kind === "quoted") {
      if (t.kind === "ident" && KEYWORDS.has(t.text.toUpperCase())) this.fail(t, "Unexpected keyword " + t.text.toUpperCase());
      const path = [t.text];
      while (this.isOp(".")) {
        this.i++;
        path.push(this.name());
      }
      return { kind: "column", path, at: t };
    }
    return this.fail(t, "Unexpected token");
  }
}

// --- evaluation ------------------------------------------------------------------------------

interface Scope {
  relation: Relation;
  alias?: string;
}

/** Runs a query: the result's schema and rows, or throws a QueryError. */
export function runQuery(sql: string, params: Map<string, Typed>, catalog: Catalog): Relation {
  const query = new Parser(tokenize(sql)).parseStatement();
  return evaluate(query, params, catalog);
}

function evaluate(query: Select, params: Map<string, Typed>, catalog: Catalog): Relation {
  const scope: Scope = query.from ? { relation: resolveSource(query.from, params, catalog), alias: query.from.alias } : { relation: { fields: [], rows: [[]] } };
  let rows = scope.relation.rows;
  if (query.where) {
    const where = query.where;
    typeCheck(where, scope, params);
    rows = rows.filter((row) => truth(where, row, scope, params) === true);
  }
  if (query.orderBy.length > 0) {
    const keys = query.orderBy.map((o) => ({ ...o, index: columnIndex(o.expr, scope) }));
    rows = [...rows].sort((a, b) => {
      for (const k of keys) {
        const x = a[k.index];
        const y = b[k.index];
        // GoogleSQL: NULLs first in ascending order, last in descending.
        const c = x === null ? (y === null ? 0 : -1) : y === null ? 1 : compare(typedCell(scope, k.index, x), typedCell(scope, k.index, y));
        if (c !== 0) return k.desc ? -c : c;
      }
      return 0;
    });
  }
  if (query.limit !== undefined) rows = rows.slice(0, query.limit);
  if (query.items === "*") {
    if (!query.from) throw new QueryError(400, "invalidQuery", "SELECT * must have a FROM clause at [1:8]");
    return { fields: scope.relation.fields, rows };
  }
  const items = query.items.map((item, i) => {
    if (item.expr.kind === "column") {
      const index = columnIndex(item.expr, scope);
      const field = scope.relation.fields[index];
      return { field: { ...field, name: item.alias ?? field.name }, value: (row: Cell[]) => row[index] };
    }
    if (item.expr.kind === "literal") {
      const literal = item.expr.value;
      return { field: { name: item.alias ?? `f${i}_`, type: literal.type === "NULL" ? "INT64" : literal.type, mode: "NULLABLE" as const }, value: () => literal.value };
    }
    if (item.expr.kind === "param") {
      const p = param(item.expr, params);
      return { field: { name: item.alias ?? `f${i}_`, type: p.type, mode: "NULLABLE" as const }, value: () => p.value };
    }
    throw new QueryError(400, "invalidQuery", "Syntax error: expressions in the select list are not supported by this fake");
  });
  return { fields: items.map((i) => i.field), rows: rows.map((row) => items.map((i) => i.value(row))) };
}

function resolveSource(source: Source, params: Map<string, Typed>, catalog: Catalog): Relation {
  if (source.kind === "subquery") return evaluate(source.query, params, catalog);
  const parts = source.path;
  if (parts.length === 1 && catalog.defaultDataset) return catalog.table(catalog.defaultDataset.project, catalog.defaultDataset.dataset, parts[0]);
  if (parts.length === 1) {
    throw new QueryError(400, "invalidQuery", `Table "${parts[0]}" must be qualified with a dataset (e.g. dataset.table). at [${source.at.line}:${source.at.col}]`);
  }
  if (parts.length > 3) throw new QueryError(400, "invalidQuery", `Invalid table name: ${parts.join(".")} at [${source.at.line}:${source.at.col}]`);
  const [project, dataset, table] = parts.length === 3 ? parts : [catalog.defaultProject, ...parts];
  return catalog.table(project, dataset, table);
}

function columnIndex(expr: Expr, scope: Scope): number {
  if (expr.kind !== "column") throw new QueryError(400, "invalidQuery", "ORDER BY supports column names only in this fake");
  let path = expr.path;
  if (path.length === 2 && scope.alias && path[0].toLowerCase() === scope.alias.toLowerCase()) path = path.slice(1);
  const index = path.length === 1 ? scope.relation.fields.findIndex((f) => f.name.toLowerCase() === path[0].toLowerCase()) : -1;
  if (index < 0) throw new QueryError(400, "invalidQuery", `Unrecognized name: ${expr.path.join(".")} at [${expr.at.line}:${expr.at.col}]`);
  return index;
}

function typedCell(scope: Scope, index: number, value: Cell): Typed {
  return { type: columnType(scope.relation.fields[index]), value };
}

function param(expr: { name: string; at: Token }, params: Map<string, Typed>): Typed {
  const p = params.get(expr.name.toLowerCase());
  if (!p) throw new QueryError(400, "invalidQuery", `Query parameter '${expr.name}' not found at [${expr.at.line}:${expr.at.col}]`);
  return p;
}

/** The static type of an operand, and a function reading its value from a row. */
function operand(expr: Expr, scope: Scope, params: Map<string, Typed>): { type: string; untypedString?: boolean; read: (row: Cell[]) => Cell } {
  if (expr.kind === "column") {
    const index = columnIndex(expr, scope);
    return { type: columnType(scope.relation.fields[index]), read: (row) => row[index] };
  }
  if (expr.kind === "param") {
    const p = param(expr, params);
    return { type: p.type, read: () => p.value };
  }
  if (expr.kind === "literal") return { type: expr.value.type, untypedString: expr.untypedString, read: () => expr.value.value };
  throw new QueryError(400, "invalidQuery", "Syntax error: unexpected expression");
}

/** A string literal next to a date/time column coerces to its type, as in GoogleSQL. */
function coerce(literal: string, type: string): Cell | undefined {
  if (type === "TIMESTAMP") return parseTimestamp(literal);
  if (type === "DATE" && /^\d{4}-\d{2}-\d{2}$/.test(literal)) return literal;
  if (type === "DATETIME" && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/.test(literal)) return literal.replace(" ", "T");
  return undefined;
}

function typeCheck(expr: Expr, scope: Scope, params: Map<string, Typed>): void {
  if (expr.kind === "and" || expr.kind === "or") {
    typeCheck(expr.left, scope, params);
    typeCheck(expr.right, scope, params);
  } else if (expr.kind === "not") typeCheck(expr.expr, scope, params);
  else if (expr.kind === "isNull") operand(expr.expr, scope, params);
  else if (expr.kind === "compare") {
    const l = operand(expr.left, scope, params);
    const r = operand(expr.right, scope, params);
    if (l.type === "NULL" || r.type === "NULL") return;
    const coercible = (a: typeof l, b: typeof r) => a.untypedString === true && coerce(String(a.read([])), b.type) !== undefined;
    if (comparable({ type: l.type, value: null }, { type: r.type, value: null }) || coercible(l, r) || coercible(r, l)) return;
    throw new QueryError(
      400,
      "invalidQuery",
      `No matching signature for operator ${expr.op} for argument types: ${l.type}, ${r.type}. Supported signature: ANY ${expr.op} ANY at [${expr.at.line}:${expr.at.col}]`,
    );
  }
}

/** Three-valued logic: true, false or null (unknown). */
function truth(expr: Expr, row: Cell[], scope: Scope, params: Map<string, Typed>): boolean | null {
  switch (expr.kind) {
    case "and": {
      const a = truth(expr.left, row, scope, params);
      if (a === false) return false;
      const b = truth(expr.right, row, scope, params);
      return b === false ? false : a === null || b === null ? null : true;
    }
    case "or": {
      const a = truth(expr.left, row, scope, params);
      if (a === true) return true;
      const b = truth(expr.right, row, scope, params);
      return b === true ? true : a === null || b === null ? null : false;
    }
    case "not": {
      const v = truth(expr.expr, row, scope, params);
      return v === null ? null : !v;
    }
    case "isNull": {
      const value = operand(expr.expr, scope, params).read(row);
      const isNull = value === null;
      return expr.negated ? !isNull : isNull;
    }
    case "compare": {
      const l = operand(expr.left, scope, params);
      const r = operand(expr.right, scope, params);
      let lv = l.read(row);
      let rv = r.read(row);
      if (lv === null || rv === null) return null;
      let type = l.type;
      if (l.untypedString && l.type !== r.type) {
        lv = coerce(String(lv), r.type) ?? lv;
        type = r.type;
      } else if (r.untypedString && l.type !== r.type) rv = coerce(String(rv), l.type) ?? rv;
      const c = compare({ type, value: lv }, { type: r.untypedString ? type : r.type, value: rv });
      switch (expr.op) {
        case "=":
          return c === 0;
        case "!=":
        case "<>":
          return c !== 0;
        case "<":
          return c < 0;
        case "<=":
          return c <= 0;
        case ">":
          return c > 0;
        default:
          return c >= 0;
      }
    }
    default:
      throw new QueryError(400, "invalidQuery", "Syntax error: a WHERE clause must be a condition");
  }
}

/** Named parameters of a request body, typed; a malformed one is an invalidQuery error. */
export function parseParameters(body: { parameterMode?: unknown; queryParameters?: unknown }, parameterValue: (type: string, value: string | undefined) => Typed | string): Map<string, Typed> {
  const params = new Map<string, Typed>();
  const list = Array.isArray(body.queryParameters) ? body.queryParameters : [];
  if (list.length > 0 && body.parameterMode !== "NAMED") {
    throw new QueryError(400, "invalidQuery", "Positional parameters are not supported by this fake; set parameterMode to NAMED");
  }
  for (const p of list as { name?: unknown; parameterType?: { type?: unknown }; parameterValue?: { value?: unknown } }[]) {
    if (typeof p?.name !== "string" || typeof p.parameterType?.type !== "string") {
      throw new QueryError(400, "invalid", "Invalid query parameter: name and parameterType.type are required");
    }
    const typed = parameterValue(p.parameterType.type, typeof p.parameterValue?.value === "string" ? p.parameterValue.value : undefined);
    if (typeof typed === "string") throw new QueryError(400, "invalidQuery", `${typed} for query parameter @${p.name}`);
    params.set(p.name.toLowerCase(), { type: canonicalType(typed.type), value: typed.value });
  }
  return params;
}
