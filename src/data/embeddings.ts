/**
 * Representations on disk: one row per galaxy, columns `id` (utf8) and `vector` (fixed-size list
 * of float32), as Parquet (`.parquet`) or Arrow IPC (anything else). Written atomically (a
 * `.partial` file renamed into place), so an interrupted write never leaves a truncated file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Field, FixedSizeList, Float32, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import Papa from 'papaparse';
import { readParquet, Table as WasmTable, writeParquet } from 'parquet-wasm/node';

export interface Embeddings {
  ids: string[];
  /** Row-major [ids.length, dim]. */
  vectors: Float32Array;
  dim: number;
}

export function toTable(e: Embeddings): Table {
  const values = makeData({ type: new Float32(), length: e.vectors.length, data: e.vectors });
  const listType = new FixedSizeList(e.dim, new Field('value', new Float32(), false));
  const vectors = makeData({ type: listType, length: e.ids.length, nullCount: 0, child: values });
  const ids = vectorFromArray(e.ids, new Utf8());
  const schema = new Schema([new Field('id', new Utf8(), false), new Field('vector', listType, false)]);
  const struct = makeData({ type: new Struct(schema.fields), length: e.ids.length, nullCount: 0, children: [ids.data[0]!, vectors] });
  return new Table(schema, new RecordBatch(schema, struct));
}

export function fromTable(t: Table, source: string): Embeddings {
  const idCol = t.getChild('id');
  const vecCol = t.getChild('vector');
  if (!idCol || !vecCol) throw new Error(`galmorph: ${source} has no 'id' and 'vector' columns (found: ${t.schema.fields.map((f) => f.name).join(', ')})`);
  const ids = (idCol.toArray() as unknown[]).map(String);
  const type = vecCol.type as unknown;
  // The usual case (galmorph's own files): fixed-size lists of float32 without nulls, copied
  // straight from Arrow's value buffers, chunk by chunk (one copy, no per-row arrays).
  if (type instanceof FixedSizeList && type.children[0]?.type instanceof Float32 && vecCol.nullCount === 0) {
    const dim = type.listSize;
    const vectors = new Float32Array(ids.length * dim);
    let off = 0;
    for (const d of vecCol.data) {
      const child = d.children[0]!;
      const values = (child.values as Float32Array).subarray(child.offset, child.offset + d.length * dim);
      if (values.length !== d.length * dim || child.nullCount > 0) return fromRows(ids, vecCol.toArray() as ArrayLike<number>[]);
      vectors.set(values, off);
      off += values.length;
    }
    return { ids, vectors, dim };
  }
  return fromRows(ids, vecCol.toArray() as ArrayLike<number>[]);
}

function fromRows(ids: string[], rows: ArrayLike<number>[]): Embeddings {
  const dim = rows.length ? rows[0]!.length : 0;
  const vectors = new Float32Array(ids.length * dim);
  rows.forEach((r, i) => vectors.set(Array.from(r), i * dim));
  return { ids, vectors, dim };
}

export function writeAtomic(file: string, bytes: Uint8Array): void {
  try {
    fs.writeFileSync(`${file}.partial`, bytes);
    fs.renameSync(`${file}.partial`, file);
  } catch (err) {
    fs.rmSync(`${file}.partial`, { force: true });
    throw err;
  }
}

/** Writes a text file atomically (see writeAtomic). */
export function writeTextAtomic(file: string, text: string): void {
  writeAtomic(file, Buffer.from(text, 'utf8'));
}

/** Writes embeddings as Parquet (`.parquet`) or Arrow IPC (anything else). */
export function writeEmbeddings(file: string, e: Embeddings): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const ipc = tableToIPC(toTable(e), 'stream');
  writeAtomic(file, file.endsWith('.parquet') ? writeParquet(WasmTable.fromIPCStream(ipc)) : ipc);
}

/** Reads embeddings written by `writeEmbeddings` (Parquet or Arrow IPC). */
export function readEmbeddings(file: string): Embeddings {
  if (!fs.existsSync(file)) throw new Error(`galmorph: embeddings file not found: ${file}`);
  const bytes = fs.readFileSync(file);
  const parquet = file.endsWith('.parquet');
  let table: Table;
  try {
    table = parquet ? tableFromIPC(readParquet(bytes).intoIPCStream()) : tableFromIPC(bytes);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`galmorph: ${file} is not ${parquet ? 'a Parquet' : 'an Arrow IPC'} file of embeddings (from galmorph embed; .parquet is read as Parquet, anything else as Arrow IPC): ${msg}`);
  }
  if (table.numCols === 0) throw new Error(`galmorph: ${file} is not an embeddings file (from galmorph embed): it holds no columns`);
  return fromTable(table, file);
}

/**
 * Features computed elsewhere (another framework, e.g. Zoobot's PyTorch encoder), to score or search
 * like galmorph's own: a CSV with an `id` column and one numeric column per feature, or anything
 * `readEmbeddings` reads. A value that is not a finite number is reported by row and column.
 */
export function readFeatures(file: string): Embeddings {
  if (!/\.csv$/i.test(file)) return readEmbeddings(file);
  if (!fs.existsSync(file)) throw new Error(`galmorph: features file not found: ${file}`);
  const parsed = Papa.parse<string[]>(fs.readFileSync(file, 'utf8').trim(), { skipEmptyLines: true });
  const [header, ...rows] = parsed.data;
  const idCol = header ? header.indexOf('id') : -1;
  if (!header || idCol < 0) throw new Error(`galmorph: ${file} needs an 'id' column and one numeric column per feature (found: ${header?.join(', ') ?? 'nothing'})`);
  const featureCols = header.map((_, j) => j).filter((j) => j !== idCol);
  if (featureCols.length === 0 || rows.length === 0) throw new Error(`galmorph: ${file} holds no features (${rows.length} rows, ${featureCols.length} feature columns)`);
  const dim = featureCols.length;
  const vectors = new Float32Array(rows.length * dim);
  const ids = rows.map((r, i) => {
    if (r.length !== header.length) throw new Error(`galmorph: ${file} row ${i + 2} has ${r.length} values, the header ${header.length}`);
    featureCols.forEach((j, k) => {
      const v = Number(r[j]);
      if (r[j]!.trim() === '' || !Number.isFinite(v)) throw new Error(`galmorph: ${file} row ${i + 2}, column '${header[j]}': '${r[j]}' is not a finite number`);
      vectors[i * dim + k] = v;
    });
    return r[idCol]!;
  });
  return { ids, vectors, dim };
}

/** The rows of some galaxies (by index into `e.ids`) as one Float32Array. */
export function selectRows(e: Embeddings, indices: number[]): Float32Array {
  const out = new Float32Array(indices.length * e.dim);
  indices.forEach((i, r) => out.set(e.vectors.subarray(i * e.dim, (i + 1) * e.dim), r * e.dim));
  return out;
}
