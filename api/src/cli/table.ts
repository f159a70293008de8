/** Text tables for the terminal: columns aligned, numbers to the right, the last column unpadded. */
export interface TextTable {
  columns: string[];
  rows: string[][];
  /** Columns whose cells align to the right (numbers). */
  right?: Set<number>;
}

export function renderTable({ columns, rows, right = new Set() }: TextTable, indent = ""): string[] {
  const widths = columns.map((c, i) => Math.max(width(c), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => {
        const pad = " ".repeat(widths[i] - width(cell));
        if (right.has(i)) return pad + cell;
        return i === cells.length - 1 ? cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** Characters as a terminal shows them (a code point each; no wide-character table). */
function width(text: string): number {
  return [...text].length;
}
