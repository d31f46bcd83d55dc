/**
 * Representations for a catalogue: the galaxy model's pooled encoder output for every galaxy,
 * written as Parquet or Arrow IPC (columns `id` and `vector`). Large catalogues are embedded in
 * parts (`<out>.parts/part-NNNNNN.arrow`, each written atomically), so a rerun after an
 * interruption continues with the first missing part; the parts are joined at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Field, FixedSizeList, Float32, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { readParquet, Table as WasmTable, writeParquet } from 'parquet-wasm/node';
import { Catalog } from '../data/catalog';
import { ImageLoader } from '../data/images';
import { LoadedGalaxyModel, representationModel } from '../models/galaxy-model';
import { decodeSize, inputBatch } from '../training/train-galaxy';

export interface Embeddings {
  ids: string[];
  /** Row-major [ids.length, dim]. */
  vectors: Float32Array;
  dim: number;
}

export interface EmbedOptions {
  /** Galaxies per forward pass. Default 64. */
  batchSize?: number;
  /** Galaxies per part file. Default 1024. */
  partSize?: number;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

function toTable(e: Embeddings): Table {
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

function writeAtomic(file: string, bytes: Uint8Array): void {
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

/** Embeds every galaxy of a catalogue with the model's representation; resumable by parts. */
export async function embedCatalog(loaded: LoadedGalaxyModel, catalog: Catalog, out: string, options: EmbedOptions = {}): Promise<Embeddings> {
  const log = options.log ?? (() => undefined);
  const batch = options.batchSize ?? 64;
  const partSize = options.partSize ?? 1024;
  const partsDir = `${path.resolve(out)}.parts`;
  fs.mkdirSync(partsDir, { recursive: true });
  const encoder = representationModel(loaded.model);
  const loader = new ImageLoader({ size: decodeSize(loaded.config.size), greyscale: loaded.config.channels === 1 });
  const nParts = Math.ceil(catalog.length / partSize);
  const partFile = (k: number) => path.join(partsDir, `part-${String(k).padStart(6, '0')}.arrow`);
  const done = Array.from({ length: nParts }, (_, k) => fs.existsSync(partFile(k))).filter(Boolean).length;
  if (done > 0) log(`resuming: ${done} of ${nParts} parts already embedded in ${partsDir}`);
  for (let k = 0; k < nParts; k++) {
    if (fs.existsSync(partFile(k))) {
      options.onProgress?.(Math.min((k + 1) * partSize, catalog.length), catalog.length);
      continue;
    }
    const rows = catalog.rows.slice(k * partSize, (k + 1) * partSize);
    const chunks: Float32Array[] = [];
    let dim = 0;
    for (let s = 0; s < rows.length; s += batch) {
      const pixels = await Promise.all(rows.slice(s, s + batch).map((r) => loader.get(catalog.imagePath(r))));
      const x = inputBatch(pixels, loaded.config.size);
      const rep = tf.tidy(() => encoder.apply(x, { training: false }) as tf.Tensor2D);
      dim = rep.shape[1]!;
      chunks.push((await rep.data()) as Float32Array);
      tf.dispose([x, rep]);
      options.onProgress?.(k * partSize + Math.min(s + batch, rows.length), catalog.length);
    }
    const vectors = new Float32Array(rows.length * dim);
    let off = 0;
    for (const c of chunks) {
      vectors.set(c, off);
      off += c.length;
    }
    writeAtomic(partFile(k), tableToIPC(toTable({ ids: rows.map((r) => r[catalog.idCol]!), vectors, dim }), 'stream'));
    loader.clear();
  }
  const parts = Array.from({ length: nParts }, (_, k) => readEmbeddings(partFile(k)));
  const dim = parts[0]?.dim ?? 0;
  const all: Embeddings = { ids: parts.flatMap((p) => p.ids), vectors: new Float32Array(catalog.length * dim), dim };
  let off = 0;
  for (const p of parts) {
    all.vectors.set(p.vectors, off);
    off += p.vectors.length;
  }
  writeEmbeddings(out, all);
  fs.rmSync(partsDir, { recursive: true, force: true });
  return all;
}

