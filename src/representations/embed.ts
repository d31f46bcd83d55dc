/**
 * Representations for a catalogue: an encoder's pooled output for every galaxy, written as Parquet
 * or Arrow IPC (columns `id` and `vector`). Large catalogues are embedded in parts
 * (`<out>.parts/part-NNNNNN.arrow`, each written atomically), so a rerun after an interruption
 * continues with the first missing part; the parts are joined at the end. The parts folder holds a
 * fingerprint (`fingerprint.json`: the catalogue's ids in order, the encoder and a hash of its
 * weights, the part size and the preprocessing), written before the first part and compared on
 * every resume: parts from another catalogue, order, model or part size are refused, never mixed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableToIPC } from 'apache-arrow';
import { Catalog } from '../data/catalog';
import { BatchOptions, SkippedImage } from '../data/batches';
import { Embeddings, readEmbeddings, toTable, writeAtomic, writeEmbeddings } from '../data/embeddings';
import { encode } from '../encoders/encode';
import { abortSignal, InterruptedError, ProgressListener, progressListener, track } from '../progress';
import type { Encoder } from '../encoders/registry';

export interface EmbedOptions extends BatchOptions {
  /** Galaxies per forward pass. Default 64. */
  batchSize?: number;
  /** Galaxies per part file. Default 1024. */
  partSize?: number;
  log?: (line: string) => void;
  /** Discard parts of an earlier, different run instead of refusing to resume. Default false. */
  overwrite?: boolean;
}

/** What a set of parts was made from; any difference makes them unusable for this run. */
export interface EmbedFingerprint {
  galaxies: number;
  /** sha256 of the catalogue's ids, in order, one per line. */
  ids: string;
  encoder: { id: string; modelDir?: string; seed?: number; dim: number; weights: string };
  preprocess: unknown;
  partSize: number;
}

const sha256 = (h: crypto.Hash) => h.digest('hex');

/** sha256 over an encoder's weights (each shape, then its float32 values), in order. */
export async function weightsSha256(encoder: Pick<Encoder, 'model'>): Promise<string> {
  const weights = crypto.createHash('sha256');
  for (const w of encoder.model.weights) {
    const data = (await w.read().data()) as Float32Array;
    weights.update(`${w.shape.join('x')}:`).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return sha256(weights);
}

/** The fingerprint of embedding `catalog` with `encoder` in parts of `partSize`. */
export async function embedFingerprint(encoder: Encoder, catalog: Catalog, partSize: number): Promise<EmbedFingerprint> {
  const ids = crypto.createHash('sha256');
  for (const id of catalog.ids()) ids.update(`${id}\n`);
  return {
    galaxies: catalog.length,
    ids: sha256(ids),
    encoder: { id: encoder.id, ...(encoder.modelDir ? { modelDir: path.resolve(encoder.modelDir) } : {}), ...(encoder.seed !== undefined ? { seed: encoder.seed } : {}), dim: encoder.dim, weights: await weightsSha256(encoder) },
    preprocess: encoder.preprocess,
    partSize,
  };
}

const FINGERPRINT_WORDS: Record<string, string> = {
  galaxies: 'the number of galaxies in the catalogue',
  ids: 'the catalogue ids or their order',
  encoder: 'the model (encoder, model folder, seed or weights)',
  preprocess: 'the preprocessing',
  partSize: 'the part size (--part-size)',
};

/** What differs between two fingerprints, in words ('' when they agree). */
function fingerprintChanges(before: EmbedFingerprint, now: EmbedFingerprint): string[] {
  return (Object.keys(FINGERPRINT_WORDS) as (keyof EmbedFingerprint)[])
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]))
    .map((k) => `${FINGERPRINT_WORDS[k]} (was ${JSON.stringify(before[k])}, now ${JSON.stringify(now[k])})`);
}

const PART_FILE = /^part-\d{6}\.arrow$/;

/** The parts folder of an output file (`<out>.parts`). */
export function partsDirOf(out: string): string {
  return `${path.resolve(out)}.parts`;
}

/** Part `k` of a parts folder (`part-NNNNNN.arrow`). */
export function partFile(partsDir: string, k: number): string {
  return path.join(partsDir, `part-${String(k).padStart(6, '0')}.arrow`);
}

/** Images left out of part `k` (skipUnreadable), beside it, so a resumed run reports them again. */
export function skippedFile(partsDir: string, k: number): string {
  return path.join(partsDir, `part-${String(k).padStart(6, '0')}.skipped.json`);
}

/**
 * Writes `file` only if it does not exist yet, atomically: the bytes go to a name of this process's
 * own, which is then hard-linked into place (fails when another writer got there first) and removed.
 * Two processes embedding the same part (a worker thought dead, and the one that took its shard
 * over) therefore never overwrite each other: the part is written exactly once. True if this call wrote it.
 */
export function writeOnce(file: string, bytes: Uint8Array): boolean {
  const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.partial`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** What embedPart reports: the whole catalogue's progress, and images left out (indices in the whole catalogue). */
export interface PartOptions extends BatchOptions {
  batchSize?: number;
}

/**
 * Embeds part `k` (rows `first` .. `first + part.length` of the catalogue) and writes it, with the
 * images left out beside it, exactly once (see writeOnce). Shared by embedCatalog and the queue
 * workers (src/scale). False if another process had written the part first.
 */
export async function embedPart(encoder: Encoder, part: Catalog, partsDir: string, k: number, first: number, options: PartOptions = {}): Promise<boolean> {
  const skipped: SkippedImage[] = [];
  const e = await encode(encoder, part, {
    batchSize: options.batchSize ?? 64,
    signal: options.signal,
    ...(options.progress ? { progress: options.progress } : {}),
    ...(options.label ? { label: options.label } : {}),
    skipUnreadable: options.skipUnreadable,
    onSkip: (s) => {
      const whole = { ...s, index: first + s.index };
      skipped.push(whole);
      options.onSkip?.(whole);
    },
    onProgress: (n, total) => options.onProgress?.(n, total),
  });
  if (skipped.length > 0) writeAtomic(skippedFile(partsDir, k), Buffer.from(JSON.stringify(skipped)));
  return writeOnce(partFile(partsDir, k), tableToIPC(toTable(e), 'stream'));
}

/** The images a finished part left out (none without a skipped list). */
export function partSkipped(partsDir: string, k: number): SkippedImage[] {
  const file = skippedFile(partsDir, k);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as SkippedImage[]) : [];
}

/**
 * Joins parts 0 .. nParts-1 of a parts folder into `out` (Parquet or Arrow, as writeEmbeddings),
 * refusing repeated ids, and removes the folder.
 */
export function joinParts(partsDir: string, nParts: number, dim: number, out: string): Embeddings {
  const parts = Array.from({ length: nParts }, (_, k) => readEmbeddings(partFile(partsDir, k)));
  const all: Embeddings = { ids: parts.flatMap((p) => p.ids), vectors: new Float32Array(parts.reduce((n, p) => n + p.vectors.length, 0)), dim };
  let off = 0;
  for (const p of parts) {
    all.vectors.set(p.vectors, off);
    off += p.vectors.length;
  }
  if (all.ids.length !== new Set(all.ids).size) throw new Error(`galmorph: the parts in ${partsDir} hold repeated ids; delete the folder and embed again`);
  writeEmbeddings(out, all);
  fs.rmSync(partsDir, { recursive: true, force: true });
  return all;
}

/**
 * Opens the parts folder for this run: creates it with the fingerprint, or checks the fingerprint
 * of one left by an interrupted run; throws, naming what changed, when they differ.
 */
export function openParts(partsDir: string, fingerprint: EmbedFingerprint, overwrite: boolean): void {
  const file = path.join(partsDir, 'fingerprint.json');
  if (overwrite) fs.rmSync(partsDir, { recursive: true, force: true });
  const parts = fs.existsSync(partsDir) ? fs.readdirSync(partsDir).filter((f) => PART_FILE.test(f)) : [];
  if (parts.length > 0) {
    const afresh = `rerun with --overwrite (overwrite: true) or delete ${partsDir} to start afresh`;
    let before: EmbedFingerprint;
    try {
      before = JSON.parse(fs.readFileSync(file, 'utf8')) as EmbedFingerprint;
    } catch {
      throw new Error(`galmorph: cannot resume the embedding in ${partsDir}: its ${parts.length} part(s) have no readable fingerprint (${file}), so what they were made from is unknown; ${afresh}`);
    }
    const changes = fingerprintChanges(before, fingerprint);
    if (changes.length > 0) throw new Error(`galmorph: cannot resume the embedding in ${partsDir}: its ${parts.length} part(s) were made with other inputs; changed: ${changes.join('; ')}. ${afresh}`);
    return;
  }
  fs.mkdirSync(partsDir, { recursive: true });
  writeAtomic(file, Buffer.from(JSON.stringify(fingerprint, null, 2) + '\n'));
}

/** Embeds every galaxy of a catalogue with an encoder (see loadEncoder); resumable by parts. */
export async function embedCatalog(encoder: Encoder, catalog: Catalog, out: string, options: EmbedOptions = {}): Promise<Embeddings> {
  const log = options.log ?? (() => undefined);
  const partSize = options.partSize ?? 1024;
  const partsDir = partsDirOf(out);
  openParts(partsDir, await embedFingerprint(encoder, catalog, partSize), options.overwrite ?? false);
  const nParts = Math.ceil(catalog.length / partSize);
  const done = Array.from({ length: nParts }, (_, k) => fs.existsSync(partFile(partsDir, k))).filter(Boolean).length;
  if (done > 0) log(`resuming: ${done} of ${nParts} parts already embedded in ${partsDir}`);
  const listener = progressListener(options.progress);
  const label = options.label ?? `embed (${encoder.id})`;
  const signal = abortSignal(options.signal);
  try {
    for (let k = 0; k < nParts; k++) {
      const first = k * partSize;
      if (signal?.aborted) track(label, 'images', { ...(listener ? { progress: listener } : {}), signal }).check(first, catalog.length);
      if (fs.existsSync(partFile(partsDir, k))) {
        for (const s of partSkipped(partsDir, k)) options.onSkip?.(s);
        options.onProgress?.(Math.min(first + partSize, catalog.length), catalog.length);
        listener?.({ label, done: Math.min(first + partSize, catalog.length), total: catalog.length, unit: 'images' });
        continue;
      }
      // One bar for the whole catalogue, not one per part.
      const progress: ProgressListener | undefined = listener && ((e) => listener({ ...e, label, done: first + e.done, total: catalog.length }));
      try {
        await embedPart(encoder, catalog.slice(first, first + partSize), partsDir, k, first, {
          ...options,
          label,
          ...(progress ? { progress } : {}),
          ...(signal ? { signal } : {}),
          onProgress: (n) => options.onProgress?.(first + n, catalog.length),
        });
      } catch (err) {
        // Say how far the whole catalogue got (the parts before this one are on disk and resume).
        if (err instanceof InterruptedError && err.label === label) throw new InterruptedError(label, first + err.done, catalog.length, 'images');
        throw err;
      }
    }
  } catch (err) {
    // Nothing embedded yet: leave no parts folder behind.
    if (!fs.readdirSync(partsDir).some((f) => PART_FILE.test(f))) fs.rmSync(partsDir, { recursive: true, force: true });
    throw err;
  }
  return joinParts(partsDir, nParts, encoder.dim, out);
}
