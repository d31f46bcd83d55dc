/**
 * Representations on disk: one row per galaxy, columns `id` (utf8) and `vector` (fixed-size list
 * of float32), as Parquet (`.parquet`) or Arrow IPC (anything else). Written atomically (a
 * `.partial` file renamed into place), so an interrupted write never leaves a truncated file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Field, FixedSizeList, Float32, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
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

function fromTable(t: Table, source: string): Embeddings {
  const idCol = t.getChild('id');
  const vecCol = t.getChild('vector');
  if (!idCol || !vecCol) throw new Error(`galmorph: ${source} has no 'id' and 'vector' columns (found: ${t.schema.fields.map((f) => f.name).join(', ')})`);
  const ids = (idCol.toArray() as unknown[]).map(String);
  const rows = vecCol.toArray() as ArrayLike<number>[];
  const dim = rows.length ? rows[0]!.length : 0;
  const vectors = new Float32Array(ids.length * dim);
  rows.forEach((r, i) => vectors.set(Array.from(r), i * dim));
  return { ids, vectors, dim };
}

export function writeAtomic(file: string, bytes: Uint8Array): void {
  fs.writeFileSync(`${file}.partial`, bytes);
  fs.renameSync(`${file}.partial`, file);
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
  const table = file.endsWith('.parquet') ? tableFromIPC(readParquet(bytes).intoIPCStream()) : tableFromIPC(bytes);
  return fromTable(table, file);
}


/** The rows of some galaxies (by index into `e.ids`) as one Float32Array. */
export function selectRows(e: Embeddings, indices: number[]): Float32Array {
  const out = new Float32Array(indices.length * e.dim);
  indices.forEach((i, r) => out.set(e.vectors.subarray(i * e.dim, (i + 1) * e.dim), r * e.dim));
  return out;
}
