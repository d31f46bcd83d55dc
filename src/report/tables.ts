/**
 * Result tables: arrays of flat records, written as CSV (for machines) and Markdown (for people).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';

export type Cell = string | number | boolean | null | undefined;
export type TableRow = Record<string, Cell>;

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
