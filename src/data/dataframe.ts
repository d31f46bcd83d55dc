/**
 * Catalogues and result tables as danfojs DataFrames (danfojs 1.2, pandas-like), and back.
 *
 * Ids stay strings: danfojs infers the dtype `int32` for a column of digit strings (and would
 * turn 19-digit SDSS ids into wrong numbers as soon as it computes on them), so the id column,
 * and every column that is not numeric in every row, is declared `string`; columns whose every
 * cell is a finite number become numbers (`float32` dtype, values kept as JavaScript doubles).
 * papaparse stays the CSV reader (src/data/catalog.ts); danfojs is loaded only when asked for.
 */
import * as path from 'node:path';
import type { DataFrame } from 'danfojs';
import { Catalog, CatalogRow } from './catalog';

export type { DataFrame } from 'danfojs';

type Danfo = typeof import('danfojs');
let danfo: Danfo | undefined;

/** danfojs, loaded on first use (it takes about a second and most callers never need it). */
export function danfojs(): Danfo {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  danfo ??= require('danfojs') as Danfo;
  return danfo;
}

/** A cell that a number represents exactly as written back (no leading zeros, no 19-digit ids). */
function numericCell(v: string): boolean {
  if (v.trim() === '' || v !== v.trim()) return false;
  const n = Number(v);
  return Number.isFinite(n) && String(n) === v;
}

export interface ToDataFrameOptions {
  /** Columns kept as strings whatever they hold (the id column always is). */
  strings?: string[];
}

/**
 * A catalogue, or records (result tables, rankings: flat objects), as a DataFrame. A catalogue's
 * id column, and any column not numeric in every row, stays `string`.
 */
export function toDataFrame(source: Catalog | readonly object[], options: ToDataFrameOptions = {}): DataFrame {
  const dfd = danfojs();
  const keep = new Set(options.strings ?? []);
  let columns: string[];
  let cells: (c: string) => unknown[];
  if (source instanceof Catalog) {
    keep.add(source.idCol);
    columns = source.columns;
    cells = (c) => source.rows.map((r) => r[c] ?? '');
  } else {
    const rows = source as readonly Record<string, unknown>[];
    columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    cells = (c) => rows.map((r) => r[c]);
  }
  const data: Record<string, unknown[]> = {};
  const dtypes: string[] = [];
  for (const c of columns) {
    const raw = cells(c);
    const numeric =
      !keep.has(c) &&
      raw.length > 0 &&
      raw.every((v) => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && numericCell(v)));
    data[c] = numeric ? raw.map(Number) : raw.map((v) => (v === undefined || v === null ? '' : String(v)));
    dtypes.push(numeric ? 'float32' : 'string');
  }
  return new dfd.DataFrame(data, { columns, dtypes });
}

export interface FromDataFrameOptions {
  /** Column of unique galaxy ids. Default `id`. */
  idCol?: string;
  /** Image column (relative paths resolve against `dir`); null for none. Default: `file` when present, else none. */
  imageCol?: string | null;
  /** Where the catalogue says it came from (messages, relative image paths). Default: `(DataFrame)` in the working folder. */
  file?: string;
}

/** A DataFrame as a catalogue: every cell back to a string, numbers as JavaScript writes them. */
export function fromDataFrame(df: DataFrame, options: FromDataFrameOptions = {}): Catalog {
  const idCol = options.idCol ?? 'id';
  const columns = df.columns.map(String);
  const file = path.resolve(options.file ?? '(DataFrame)');
  if (!columns.includes(idCol)) throw new Error(`galmorph: ${file}: no id column '${idCol}' in the DataFrame (columns: ${columns.join(', ')})`);
  const imageCol = options.imageCol === undefined ? (columns.includes('file') ? 'file' : null) : options.imageCol;
  if (imageCol !== null && !columns.includes(imageCol)) throw new Error(`galmorph: ${file}: no image column '${imageCol}' in the DataFrame`);
  const idIndex = columns.indexOf(idCol);
  if (df.dtypes[idIndex] !== 'string') {
    // A numeric id column has already lost digits beyond 2^53 when it was made: refuse to guess.
    const big = (df.values as unknown[][]).find((r) => typeof r[idIndex] === 'number' && !Number.isSafeInteger(r[idIndex]));
    if (big) throw new Error(`galmorph: ${file}: id column '${idCol}' holds numbers, and ${String(big[idIndex])} is beyond 2^53 (not exact): keep ids as strings (toDataFrame does)`);
  }
  const seen = new Map<string, number>();
  const rows: CatalogRow[] = (df.values as unknown[][]).map((values, i) => {
    const row: CatalogRow = {};
    columns.forEach((c, j) => {
      const v = values[j];
      row[c] = v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
    });
    const id = row[idCol]!;
    if (id === '') throw new Error(`galmorph: ${file}, row ${i + 1}: empty id in column '${idCol}'`);
    if (seen.has(id)) throw new Error(`galmorph: ${file}: duplicate id '${id}' in column '${idCol}' (rows ${seen.get(id)! + 1} and ${i + 1})`);
    seen.set(id, i);
    return row;
  });
  return new Catalog(file, columns, rows, idCol, imageCol);
}
