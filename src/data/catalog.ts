/**
 * Galaxy catalogues: one row per galaxy, an id column and an image-path column.
 * Formats: CSV (optionally gzipped), Parquet, Arrow IPC (file or stream; `.arrow`, `.feather`, `.ipc`).
 * Values are kept as strings: SDSS object ids have 19 digits and would lose precision as JavaScript
 * numbers (Arrow/Parquet int64 cells arrive as BigInt and are printed exactly). Numeric columns are
 * converted on request.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tableFromIPC, Table } from 'apache-arrow';
import Papa from 'papaparse';
import { readParquet } from 'parquet-wasm/node';

export interface CatalogOptions {
  /** Column holding a unique id per galaxy. Default `id`. */
  idCol?: string;
  /**
   * Column holding the image path, absolute or relative to the catalogue's folder. Default `file`;
   * `null` for a table without images (e.g. a vote table).
   */
  imageCol?: string | null;
  /** Check that every image file exists (error lists the first 10 missing and the count). Default true. */
  checkImages?: boolean;
}

export type CatalogRow = Record<string, string>;

/** Which columns of a catalogue hold Galaxy Zoo votes (read by src/schemas/votes.ts). */
export interface VoteColumns {
  /** Count column template; `{answer}` is replaced by the answer key. */
  counts?: string;
  /** Fraction column template, used with `total` when there are no count columns. */
  fractions?: string;
  /** Column with the number of volunteers asked the first question(s). */
  total?: string;
  /** Column holding one answer per galaxy (its key, or a key of `classValues`). */
  classColumn?: string;
  /** Maps values of `classColumn` to answer keys (e.g. GZ1 codes '0'..'5'). */
  classValues?: Record<string, string>;
  /**
   * The Kaggle Galaxy Challenge's cumulative `Class1.1`...`Class11.6` columns (GZ2 schema; see
   * src/schemas/kaggle.ts), all 37 or any whole questions of them, made counts of `nominalTotal`.
   */
  kaggle?: boolean;
  /** With `kaggle`: volunteers assumed per galaxy, as the format has no totals. Default 43 (NOMINAL_GZ2_VOTES). */
  nominalTotal?: number;
}


/** The line of each row in its file (header = line 1), set by readCatalog; kept through subsets. */
const ROW_NUMBERS = new WeakMap<CatalogRow, number>();

export class Catalog {
  constructor(
    /** Absolute path of the catalogue file. */
    readonly file: string,
    readonly columns: string[],
    readonly rows: CatalogRow[],
    readonly idCol: string,
    readonly imageCol: string | null,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  /** Folder that relative image paths are resolved against. */
  get dir(): string {
    return path.dirname(this.file);
  }

  ids(): string[] {
    return this.rows.map((r) => r[this.idCol]!);
  }

  /** Absolute image path of a row. */
  imagePath(row: CatalogRow): string {
    if (this.imageCol === null) throw new Error(`galmorph: ${this.file} was read without an image column`);
    return path.resolve(this.dir, row[this.imageCol]!);
  }

  /** Where a row is, for messages: `FILE, row N (id X)` (N counts the header as row 1). */
  describeRow(row: CatalogRow): string {
    const n = ROW_NUMBERS.get(row) ?? this.rows.indexOf(row) + 2;
    return `${this.file}, row ${n} (id ${row[this.idCol]})`;
  }

  /** Where a cell is, for messages: `galmorph: FILE, row N (id X): column 'C'` (`i` indexes `rows`). */
  describeCell(i: number, column: string): string {
    return `galmorph: ${this.describeRow(this.rows[i]!)}: column '${column}'`;
  }

  /** The row with this id; the error names the catalogue when it is absent. */
  byId(id: string): CatalogRow {
    const row = this.rows.find((r) => r[this.idCol] === id);
    if (!row) throw new Error(`galmorph: id '${id}' is not in column '${this.idCol}' of ${this.file}`);
    return row;
  }

  /** A column's raw string values; the error lists the columns present when it is absent. */
  column(name: string): string[] {
    requireColumns(this.file, this.columns, [name]);
    return this.rows.map((r) => r[name]!);
  }

  /** A column as numbers (blank cells become NaN); a non-numeric or infinite cell is an error naming its row. */
  numbers(name: string): Float64Array {
    const raw = this.column(name);
    const out = new Float64Array(raw.length);
    raw.forEach((v, i) => (out[i] = numericCell(v, () => this.describeCell(i, name))));
    return out;
  }

  /** The first n rows (or those with the given ids) as a smaller catalogue. */
  subset(selector: number | string[]): Catalog {
    const rows = typeof selector === 'number' ? this.rows.slice(0, selector) : selector.map((id) => this.byId(id));
    return this.withRows(rows);
  }

  /** Rows from positions `start` to `end` (exclusive), as a smaller catalogue. */
  slice(start: number, end?: number): Catalog {
    return this.withRows(this.rows.slice(start, end));
  }

  private withRows(rows: CatalogRow[]): Catalog {
    return new Catalog(this.file, this.columns, rows, this.idCol, this.imageCol);
  }
}

/**
 * The one check for numeric input: a cell's number, NaN for a blank or 'NaN' cell (missing), and an
 * error starting with `where()` for anything else that is not a finite number ('abc', 'Infinity', '1e999').
 */
export function numericCell(text: string, where: () => string): number {
  const t = text.trim();
  if (t === '' || /^nan$/i.test(t)) return NaN;
  const x = Number(t);
  if (!Number.isFinite(x)) throw new Error(`${where()} holds '${text}', ${Number.isNaN(x) ? 'not a number' : 'not a finite number'}`);
  return x;
}

/** Throws, naming the file and the missing column and listing the columns present. */
export function requireColumns(file: string, present: string[], wanted: string[]): void {
  const missing = wanted.filter((c) => !present.includes(c));
  if (missing.length > 0) {
    throw new Error(
      `galmorph: ${file} has no column ${missing.map((c) => `'${c}'`).join(', ')}. ` +
        `Columns present: ${present.join(', ')}. Choose others with --id-col / --image-col (idCol / imageCol).`,
    );
  }
}

export type CatalogFormat = 'csv' | 'parquet' | 'arrow';

/** The format implied by a file name (`.csv`, `.csv.gz`, `.parquet`, `.arrow`/`.feather`/`.ipc`). */
export function catalogFormat(file: string): CatalogFormat {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.parquet') || name.endsWith('.pq')) return 'parquet';
  if (name.endsWith('.arrow') || name.endsWith('.feather') || name.endsWith('.ipc') || name.endsWith('.arrows')) return 'arrow';
  if (name.endsWith('.csv') || name.endsWith('.txt')) return 'csv';
  throw new Error(`galmorph: ${file}: unknown catalogue format (expected .csv, .csv.gz, .parquet, .arrow, .feather or .ipc)`);
}

/** Reads the bytes of a file, gunzipping `.gz`. */
function readBytes(file: string): Buffer {
  const buf = fs.readFileSync(file);
  return file.toLowerCase().endsWith('.gz') ? zlib.gunzipSync(buf) : buf;
}

function parseCsv(file: string, text: string): { columns: string[]; rows: CatalogRow[] } {
  if (text.trim() === '') throw new Error(`galmorph: ${file} is empty: a catalogue needs a header line with its column names`);
  const parsed = Papa.parse<CatalogRow>(text, { header: true, skipEmptyLines: true, dynamicTyping: false });
  // A one-column file has no delimiter to detect: not an error.
  const errors = parsed.errors.filter((e) => e.code !== 'UndetectableDelimiter');
  if (errors.length > 0) {
    const e = errors[0]!;
    throw new Error(`galmorph: ${file}, row ${(e.row ?? 0) + 2}: ${e.message}`);
  }
  return { columns: parsed.meta.fields ?? [], rows: parsed.data };
}

/** Arrow cells as strings: BigInt exactly, null as blank, NaN as 'NaN'. */
function arrowRows(table: Table): { columns: string[]; rows: CatalogRow[] } {
  const columns = table.schema.fields.map((f) => f.name);
  const vectors = columns.map((_, j) => table.getChildAt(j)!);
  const rows: CatalogRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: CatalogRow = {};
    columns.forEach((c, j) => {
      const v: unknown = vectors[j]!.get(i);
      row[c] = v === null || v === undefined ? '' : String(v);
    });
    rows.push(row);
  }
  return { columns, rows };
}

/** Reads a catalogue (CSV, Parquet or Arrow IPC) and validates its id and image columns. */
export function readCatalog(file: string, options: CatalogOptions = {}): Catalog {
  const idCol = options.idCol ?? 'id';
  const imageCol = options.imageCol === undefined ? 'file' : options.imageCol;
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new Error(`galmorph: catalogue file not found: ${abs}`);
  const format = catalogFormat(abs);
  let parsed: { columns: string[]; rows: CatalogRow[] };
  try {
    const bytes = readBytes(abs);
    parsed =
      format === 'csv' ? parseCsv(abs, bytes.toString('utf8'))
        : arrowRows(format === 'arrow' ? tableFromIPC(bytes) : tableFromIPC(readParquet(bytes).intoIPCStream()));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(msg.startsWith('galmorph:') ? msg : `galmorph: cannot read ${format} catalogue ${abs}: ${msg}`);
  }
  const { columns, rows } = parsed;
  requireColumns(abs, columns, imageCol === null ? [idCol] : [idCol, imageCol]);

  const seen = new Map<string, number>();
  const dupes: string[] = [];
  rows.forEach((r, i) => {
    const id = r[idCol]!;
    if (id === undefined || id.trim() === '') throw new Error(`galmorph: ${abs}, row ${i + 2}: empty id in column '${idCol}'`);
    const first = seen.get(id);
    if (first !== undefined) dupes.push(`'${id}' (rows ${first + 2} and ${i + 2})`);
    else seen.set(id, i);
  });
  if (dupes.length > 0) {
    throw new Error(`galmorph: ${abs}: ${dupes.length} duplicate id(s) in column '${idCol}': ${dupes.slice(0, 10).join(', ')}`);
  }

  rows.forEach((r, i) => ROW_NUMBERS.set(r, i + 2));
  const catalog = new Catalog(abs, columns, rows, idCol, imageCol);
  if (imageCol !== null && (options.checkImages ?? true)) {
    const missing = rows.filter((r) => !fs.existsSync(catalog.imagePath(r)));
    if (missing.length > 0) {
      const list = missing.slice(0, 10).map((r) => `  ${r[idCol]}: ${catalog.imagePath(r)}`);
      throw new Error(`galmorph: ${abs}: ${missing.length} of ${rows.length} image files are missing (column '${imageCol}'); the first ${list.length}:\n${list.join('\n')}`);
    }
  }
  return catalog;
}
