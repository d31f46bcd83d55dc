/**
 * Representations for a catalogue: an encoder's pooled output for every galaxy, written as Parquet
 * or Arrow IPC (columns `id` and `vector`). Large catalogues are embedded in parts
 * (`<out>.parts/part-NNNNNN.arrow`, each written atomically), so a rerun after an interruption
 * continues with the first missing part; the parts are joined at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableToIPC } from 'apache-arrow';
import { Catalog } from '../data/catalog';
import { BatchOptions } from '../data/batches';
import { Embeddings, readEmbeddings, toTable, writeAtomic, writeEmbeddings } from '../data/embeddings';
import { encode } from '../encoders/encode';
import type { Encoder } from '../encoders/registry';

export interface EmbedOptions extends BatchOptions {
  /** Galaxies per forward pass. Default 64. */
  batchSize?: number;
  /** Galaxies per part file. Default 1024. */
  partSize?: number;
  log?: (line: string) => void;
}

/** Embeds every galaxy of a catalogue with an encoder (see loadEncoder); resumable by parts. */
export async function embedCatalog(encoder: Encoder, catalog: Catalog, out: string, options: EmbedOptions = {}): Promise<Embeddings> {
  const log = options.log ?? (() => undefined);
  const partSize = options.partSize ?? 1024;
  const partsDir = `${path.resolve(out)}.parts`;
  fs.mkdirSync(partsDir, { recursive: true });
  const nParts = Math.ceil(catalog.length / partSize);
  const partFile = (k: number) => path.join(partsDir, `part-${String(k).padStart(6, '0')}.arrow`);
  const done = Array.from({ length: nParts }, (_, k) => fs.existsSync(partFile(k))).filter(Boolean).length;
  if (done > 0) log(`resuming: ${done} of ${nParts} parts already embedded in ${partsDir}`);
  for (let k = 0; k < nParts; k++) {
    const first = k * partSize;
    if (fs.existsSync(partFile(k))) {
      options.onProgress?.(Math.min(first + partSize, catalog.length), catalog.length);
      continue;
    }
    const part = catalog.slice(first, first + partSize);
    const e = await encode(encoder, part, {
      batchSize: options.batchSize ?? 64,
      signal: options.signal,
      onProgress: (n) => options.onProgress?.(first + n, catalog.length),
    });
    writeAtomic(partFile(k), tableToIPC(toTable(e), 'stream'));
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
