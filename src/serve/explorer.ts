/**
 * What `galmorph serve` knows, independent of HTTP: the catalogue and its embeddings, the model's
 * predicted vote fractions (computed in the background), the anomaly session on the shared labels
 * file, the 2-D maps, and the three rankings (neighbours, "like these", words). The server
 * (./server.ts) only turns requests into calls here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { AnomalySession } from '../anomaly/session';
import { ANOMALY_DEFAULTS, RankedGalaxy, reduceForAnomalies } from '../anomaly/personalised';
import { MAX_SCORE, MIN_SCORE } from '../anomaly/labels';
import { mapImageBatches } from '../data/batches';
import { Catalog, CatalogRow } from '../data/catalog';
import { Embeddings, readEmbeddings } from '../data/embeddings';
import { isFitsFile, readImage } from '../data/images';
import { LoadedGalaxyModel, predictFractions } from '../models/galaxy-model';
import { FineTunedModel } from '../models/finetuned-model';
import { GalmorphModel, predictCatalog } from '../models/predict';
import { RepresentationPca } from '../representations/pca';
import { Neighbour, similar } from '../similarity/search';
import { linearProbeScores } from './probe';
import { absoluteFractions, DescribeTerm, describeScores, describeTerms } from './words';

export interface ExplorerOptions {
  embeddings: string;
  catalog: Catalog;
  /** The labels file shared with `galmorph anomaly` and the notebook form. Default: beside the embeddings, `<name>.labels.jsonl`. */
  labels?: string;
  /** Model for predicted vote fractions (loaded by the caller); none: no predictions, no words. */
  model?: GalmorphModel;
  /** Galaxies per anomaly batch (the Gaussian process refits between batches). Default 10. */
  batchSize?: number;
  initialLabels?: number;
  seed?: number;
  log?: (line: string) => void;
}

/** Default labels file of an embeddings file: `emb.parquet` → `emb.labels.jsonl`. */
export function defaultLabelsFile(embeddingsFile: string): string {
  const abs = path.resolve(embeddingsFile);
  return path.join(path.dirname(abs), `${path.basename(abs).replace(/\.(parquet|arrow)$/i, '')}.labels.jsonl`);
}

export interface ScoredRow {
  id: string;
  rank: number;
  score: number;
}

export interface Predictions {
  /** Column names: `schema/answer` for a galaxy model, the model's own for a fine-tuned one. */
  columns: string[];
  mean: Map<string, Float32Array>;
  std: Map<string, Float32Array>;
}

/** The anomaly loop's state for the page. */
export interface AnomalyState {
  labelsFile: string;
  labelled: number;
  resumed: number;
  size: number;
  phase: string;
  batchSize: number;
  /** Galaxies left in the current batch (the first is shown). */
  queue: string[];
  /** Batches proposed since the server started (each after a refit once past the random start). */
  batches: number;
  best: { id: string; score: number }[];
  ranking: RankedGalaxy[];
}

export class Explorer {
  readonly ids: string[];
  readonly rowOf = new Map<string, number>();
  /** Absolute image files of the catalogue, by galaxy: the only files the server reads. */
  readonly files: string[];
  readonly allowedFiles: Set<string>;
  readonly labelsFile: string;
  predictions?: Predictions;
  predictionProgress = { done: 0, total: 0, error: '' };
  private session: AnomalySession;
  private labelsSize = 0;
  private queue: string[] = [];
  private readonly skipped = new Set<string>();
  private batches = 0;
  private rankingCache?: RankedGalaxy[];
  private features?: { features: Float64Array; dim: number };
  private maps = new Map<string, Promise<Float64Array>>();
  private absolute?: Map<string, Float64Array>;
  private readonly thumbs = new Map<string, Buffer>();

  constructor(
    readonly embeddingsFile: string,
    readonly embeddings: Embeddings,
    readonly catalog: Catalog,
    readonly options: ExplorerOptions,
  ) {
    this.ids = embeddings.ids;
    const rows = new Map(catalog.rows.map((r) => [r[catalog.idCol]!, r]));
    const missing = this.ids.filter((id) => !rows.has(id));
    if (missing.length > 0) {
      throw new Error(
        `galmorph serve: ${missing.length} of the ${this.ids.length} galaxies of ${embeddingsFile} are not in column '${catalog.idCol}' of ${catalog.file} (first: '${missing[0]}'); give the catalogue the embeddings were made from`,
      );
    }
    this.ids.forEach((id, i) => this.rowOf.set(id, i));
    this.catalogRows = this.ids.map((id) => rows.get(id)!);
    this.files = this.catalogRows.map((r) => catalog.imagePath(r));
    this.allowedFiles = new Set(this.files);
    this.labelsFile = path.resolve(options.labels ?? defaultLabelsFile(embeddingsFile));
    this.session = this.openSession();
  }

  private readonly catalogRows: CatalogRow[];

  static open(options: ExplorerOptions): Explorer {
    return new Explorer(options.embeddings, readEmbeddings(options.embeddings), options.catalog, options);
  }

  private openSession(): AnomalySession {
    const s = AnomalySession.open(this.embeddings, this.labelsFile, {
      embeddingsFile: this.embeddingsFile,
      batchSize: this.options.batchSize,
      initialLabels: this.options.initialLabels,
      seed: this.options.seed,
      onWarning: (w) => this.options.log?.(w),
    });
    this.labelsSize = fs.statSync(this.labelsFile).size;
    return s;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The catalogue row of a galaxy (undefined for an unknown id). */
  row(id: string): CatalogRow | undefined {
    const i = this.rowOf.get(id);
    return i === undefined ? undefined : this.catalogRows[i];
  }

  // --- images -----------------------------------------------------------------------------------

  /**
   * A JPEG of one catalogue galaxy (by id only: no path from a request ever reaches the disk).
   * Undefined for an id that is not in the catalogue.
   */
  async image(id: string, size: number): Promise<Buffer | undefined> {
    const i = this.rowOf.get(id);
    if (i === undefined) return undefined;
    const file = this.files[i]!;
    if (!this.allowedFiles.has(file)) return undefined;
    const key = `${size} ${id}`;
    const cached = this.thumbs.get(key);
    if (cached) return cached;
    const input = isFitsFile(file)
      ? await readImage(file).then((p) => sharp(p.data, { raw: { width: p.width, height: p.height, channels: 3 } }))
      : sharp(file);
    const jpeg = await input.resize(size, size, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
    if (this.thumbs.size > 5000) this.thumbs.delete(this.thumbs.keys().next().value!);
    this.thumbs.set(key, jpeg);
    return jpeg;
  }

  // --- predictions ------------------------------------------------------------------------------

  /** Predicted vote fractions of every galaxy (mean and MC-dropout std), in the background. */
  async predict(model: GalmorphModel, samples = 5): Promise<void> {
    this.predictionProgress = { done: 0, total: this.size, error: '' };
    // The words' along-the-tree fractions belong to the previous model's predictions.
    this.absolute = undefined;
    try {
      if (model instanceof FineTunedModel) {
        const p = await predictCatalog(model, this.catalog.subset(this.ids), { onProgress: (done) => (this.predictionProgress.done = done) });
        const mean = new Map<string, Float32Array>();
        p.columns.forEach((c) => mean.set(c, p.column(c)));
        this.predictions = { columns: p.columns, mean, std: new Map() };
        return;
      }
      const loaded = model as LoadedGalaxyModel;
      const A = loaded.space.size;
      const preprocess = { kind: 'galmorph', size: loaded.config.size, channels: loaded.config.channels } as const;
      const rows = await mapImageBatches(
        this.files,
        preprocess,
        2 * A,
        async (x) => {
          const n = x.shape[0];
          const { mean, std } = await predictFractions(loaded, x, samples);
          const out = new Float32Array(n * 2 * A);
          for (let i = 0; i < n; i++) {
            out.set(mean.subarray(i * A, (i + 1) * A), i * 2 * A);
            out.set(std.subarray(i * A, (i + 1) * A), i * 2 * A + A);
          }
          return out;
        },
        { skipUnreadable: true, onProgress: (done) => (this.predictionProgress.done = done) },
      );
      const columns = loaded.space.answers.map((a) => a.column);
      const mean = new Map<string, Float32Array>();
      const std = new Map<string, Float32Array>();
      columns.forEach((c, j) => {
        mean.set(c, Float32Array.from({ length: this.size }, (_, i) => rows[i * 2 * A + j]!));
        std.set(c, Float32Array.from({ length: this.size }, (_, i) => rows[i * 2 * A + A + j]!));
      });
      this.predictions = { columns, mean, std };
    } catch (err) {
      this.predictionProgress.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  /** One galaxy: catalogue columns, predicted fractions with their spread, anomaly score if any. */
  galaxy(id: string): Record<string, unknown> | undefined {
    const i = this.rowOf.get(id);
    if (i === undefined) return undefined;
    const p = this.predictions;
    const fractions = p
      ? p.columns.map((c) => ({ column: c, mean: round(p.mean.get(c)![i]!), std: p.std.has(c) ? round(p.std.get(c)![i]!) : null }))
      : [];
    return { id, index: i, row: this.catalogRows[i], fractions, label: this.session.labels().get(id) ?? null };
  }

  // --- similarity -------------------------------------------------------------------------------

  /** Nearest neighbours, exactly as `galmorph similar` (cosine, exact search, no PCA) by default. */
  similar(id: string, k: number): Neighbour[] {
    return similar(this.embeddings, id, { k });
  }

  private reduced(): { features: Float64Array; dim: number } {
    this.features ??= reduceForAnomalies(this.embeddings, ANOMALY_DEFAULTS.components);
    return this.features;
  }

  /** Every galaxy ranked by a linear probe fitted to "like these" (and "not like these"). */
  likeThese(like: string[], unlike: string[]): ScoredRow[] {
    const idx = (ids: string[]) => ids.map((id) => this.rowOf.get(id)).filter((i): i is number => i !== undefined);
    const { features, dim } = this.reduced();
    const scores = linearProbeScores(features, dim, idx(like), idx(unlike));
    return rankBy(this.ids, scores);
  }

  // --- words ------------------------------------------------------------------------------------

  /** The answers a text stands for (only those the model predicts). */
  describe(text: string): { terms: DescribeTerm[]; unknown: string[] } {
    return describeTerms(text, new Set(this.predictions?.columns ?? []));
  }

  /** Galaxies ranked by the terms' predicted fractions (`absolute`: along the decision tree). */
  rankByWords(terms: DescribeTerm[], absolute = true): ScoredRow[] {
    const p = this.predictions;
    if (!p) throw new Error('galmorph serve: no predicted vote fractions yet (start with --model, and wait for the predictions)');
    const columns: ReadonlyMap<string, ArrayLike<number>> = absolute ? (this.absolute ??= absoluteFractions(p.mean)) : p.mean;
    return rankBy(this.ids, describeScores(terms, columns, this.size));
  }

  // --- map --------------------------------------------------------------------------------------

  /** 2-D coordinates, [x0, y0, x1, y1, …]: PCA (instant) or UMAP (umap-js, seeded; computed once). */
  map(method: 'pca' | 'umap'): Promise<Float64Array> {
    let m = this.maps.get(method);
    if (!m) {
      m = method === 'pca' ? Promise.resolve(this.pcaMap()) : this.umapMap();
      m.catch(() => this.maps.delete(method));
      this.maps.set(method, m);
    }
    return m;
  }

  private pcaMap(): Float64Array {
    return Float64Array.from(RepresentationPca.fit(this.embeddings, { components: Math.min(2, this.embeddings.dim) }).transform(this.embeddings.vectors));
  }

  private async umapMap(): Promise<Float64Array> {
    const { UMAP } = await import('umap-js');
    const { features, dim } = this.reduced();
    const data = this.ids.map((_, i) => Array.from(features.subarray(i * dim, (i + 1) * dim)));
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
    const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, Math.max(2, this.size - 1)), minDist: 0.1, random });
    const xy = await umap.fitAsync(data);
    return Float64Array.from(xy.flat());
  }

  /** A numeric colour per galaxy: a catalogue column, a predicted fraction, or the anomaly score. */
  colour(name: string): (number | null)[] | undefined {
    if (name === 'anomaly') {
      const r = this.anomalyRanking();
      if (!r) return undefined;
      const by = new Map(r.map((g) => [g.id, g.predicted]));
      return this.ids.map((id) => round(by.get(id) ?? NaN));
    }
    if (this.predictions?.mean.has(name)) return Array.from(this.predictions.mean.get(name)!, (v) => round(v));
    if (!this.catalog.columns.includes(name)) return undefined;
    return this.catalogRows.map((r) => {
      const t = (r[name] ?? '').trim();
      const v = t === '' ? NaN : Number(t);
      return Number.isFinite(v) ? v : null;
    });
  }

  // --- anomaly loop -----------------------------------------------------------------------------

  /** Reopens the session when another process (galmorph anomaly, a notebook) appended to the labels file. */
  private sync(): void {
    let size = -1;
    try {
      size = fs.statSync(this.labelsFile).size;
    } catch {
      // removed: openSession creates it afresh
    }
    if (size === this.labelsSize) return;
    this.options.log?.(`${this.labelsFile} changed on disk: reloading its scores`);
    this.session = this.openSession();
    this.queue = [];
    this.rankingCache = undefined;
  }

  /** The current batch; a new one (the Gaussian process refitted on every score so far) when it is used up. */
  private fillQueue(): void {
    const labels = this.session.labels();
    this.queue = this.queue.filter((id) => !labels.has(id) && !this.skipped.has(id));
    if (this.queue.length > 0) return;
    for (const id of this.skipped) this.session.skip(id);
    this.queue = this.session.next(this.session.batchSize);
    this.batches++;
    // the live ranking is refreshed with each batch, when the Gaussian process refits
    this.rankingCache = this.session.labelledCount >= 2 ? this.session.ranking() : undefined;
  }

  anomalyRanking(): RankedGalaxy[] | undefined {
    if (!this.rankingCache && this.session.labelledCount >= 2) this.rankingCache = this.session.ranking();
    return this.rankingCache;
  }

  anomalyState(top = 20): AnomalyState {
    this.sync();
    this.fillQueue();
    const labels = [...this.session.labels()].map(([id, score]) => ({ id, score }));
    labels.sort((a, b) => b.score - a.score);
    return {
      labelsFile: this.labelsFile,
      labelled: this.session.labelledCount,
      resumed: this.session.resumed,
      size: this.size,
      phase: this.session.phase,
      batchSize: this.session.batchSize,
      queue: [...this.queue],
      batches: this.batches,
      best: labels.slice(0, 10),
      ranking: (this.anomalyRanking() ?? []).slice(0, top),
    };
  }

  /** Records a score: appended to the labels file and fsync'ed before this returns (and before the next galaxy is chosen). */
  score(id: string, score: number): void {
    if (!this.rowOf.has(id)) throw new Error(`galmorph serve: galaxy '${id}' is not among the ${this.size} galaxies`);
    if (!Number.isInteger(score) || score < MIN_SCORE || score > MAX_SCORE) throw new Error(`galmorph serve: a score is an integer from ${MIN_SCORE} to ${MAX_SCORE}, got ${JSON.stringify(score)}`);
    this.sync();
    this.session.score(id, score);
    this.labelsSize = fs.statSync(this.labelsFile).size;
    this.queue = this.queue.filter((q) => q !== id);
  }

  /** Leaves a galaxy out of the loop until the server restarts (skips are not written, as in the CLI). */
  skip(id: string): void {
    if (!this.rowOf.has(id)) throw new Error(`galmorph serve: galaxy '${id}' is not among the ${this.size} galaxies`);
    this.skipped.add(id);
    this.session.skip(id);
    this.queue = this.queue.filter((q) => q !== id);
  }
}

function round(v: number): number | null {
  return Number.isFinite(v) ? Number(v.toFixed(4)) : null;
}

/** Rows sorted by descending score (ties by row order). */
export function rankBy(ids: string[], scores: ArrayLike<number>): ScoredRow[] {
  const order = ids.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.map((i, r) => ({ id: ids[i]!, rank: r + 1, score: Number(scores[i]!.toFixed(5)) }));
}
