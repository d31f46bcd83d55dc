/**
 * Result tables: arrays of flat records, written as CSV (for machines) and Markdown (for people).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';

export type Cell = string | number | boolean | null | undefined;
export type TableRow = Record<string, Cell>;

/**
 * `T`, but not a place to infer it from (TypeScript 5.4's NoInfer, which the notebook kernel's
 * compiler predates): helpers taking rows and options infer the row type from the rows alone.
 */
export type Deferred<T> = [T][T extends unknown ? 0 : never];

/** Column names in first-seen order across all rows. */
export function tableColumns(rows: TableRow[]): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

/** A cell as text: numbers to at most 4 significant decimals, blanks for missing values. */
export function formatCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toFixed(4))) : v.toExponential(3);
  }
  return String(v);
}

export function toCsv(rows: TableRow[]): string {
  const columns = tableColumns(rows);
  // Full precision in CSV: it is the machine-readable copy.
  const data = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))));
  return Papa.unparse({ fields: columns, data }, { newline: '\n' }) + '\n';
}

export function toMarkdown(rows: TableRow[]): string {
  const columns = tableColumns(rows);
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `| ${columns.map(esc).join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${columns.map((c) => esc(formatCell(r[c]))).join(' | ')} |`),
  ];
  return lines.join('\n') + '\n';
}

/** Writes `<dir>/<name>.csv` and `<dir>/<name>.md` atomically and returns their paths. */
export function writeTable(rows: TableRow[], dir: string, name: string): string[] {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`galmorph: table name '${name}' may use only letters, digits, '.', '_' and '-'`);
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [ext, text] of [['csv', toCsv(rows)], ['md', toMarkdown(rows)]] as const) {
    const file = path.join(dir, `${name}.${ext}`);
    fs.writeFileSync(`${file}.partial`, text);
    fs.renameSync(`${file}.partial`, file);
    written.push(file);
  }
  return written;
}

export interface PivotOptions<T> {
  /** Columns that identify an output row, kept in this order. */
  row: (keyof T & string)[];
  /** The output column each input row's value goes to: a column of it, or a function of it. */
  column: (keyof T & string) | ((row: T) => string);
  /** The cell: a column of the input row, or a function of it (e.g. `formatMeanStd`). */
  value: (keyof T & string) | ((row: T) => Cell);
  /** Output columns, in order (and only these). Default: every column, first-seen. */
  columns?: string[];
  /** Output rows by their key values, in order (and only these). Default: every key, first-seen. */
  rows?: TableRow[];
  /** A cell with no input row. Default ''. */
  missing?: Cell;
}

/**
 * Long rows to a wide table: one output row per distinct `row` key, one column per `column`
 * value. Two input rows for one cell are an error (filter first).
 */
export function pivot<T extends object>(rows: readonly T[], options: PivotOptions<Deferred<T>>): TableRow[] {
  const o = options as unknown as PivotOptions<T>;
  const read = <K extends keyof T & string>(r: T, c: K | ((row: T) => Cell)): Cell => (typeof c === 'function' ? c(r) : (r[c] as Cell));
  const keyOf = (r: object) => JSON.stringify(o.row.map((c) => (r as Record<string, Cell>)[c] ?? null));
  const cells = new Map<string, Map<string, Cell>>();
  const keys = new Map<string, TableRow>();
  const seenColumns: string[] = [];
  for (const r of rows) {
    const key = keyOf(r);
    const column = String(read(r, o.column));
    if (!keys.has(key)) keys.set(key, Object.fromEntries(o.row.map((c) => [c, r[c] as Cell])));
    if (!cells.has(key)) cells.set(key, new Map());
    if (cells.get(key)!.has(column)) throw new Error(`galmorph: pivot has two rows for ${key}, column '${column}'; filter the rows first`);
    cells.get(key)!.set(column, read(r, o.value));
    if (!seenColumns.includes(column)) seenColumns.push(column);
  }
  const columns = o.columns ?? seenColumns;
  const missing = 'missing' in o ? o.missing : '';
  const wanted = o.rows ? o.rows.map((r) => ({ key: keyOf(r), row: Object.fromEntries(o.row.map((c) => [c, r[c]])) as TableRow })) : [...keys].map(([key, row]) => ({ key, row }));
  return wanted.map(({ key, row }) => {
    const found = cells.get(key);
    return { ...row, ...Object.fromEntries(columns.map((c) => [c, found?.has(c) ? found.get(c) : missing])) };
  });
}
