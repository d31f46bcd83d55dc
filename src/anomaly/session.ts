/**
 * One researcher's anomaly-finding session: the personalised finder (PCA + Gaussian process +
 * expected improvement) together with the append-only labels file it learns from.
 *
 *   const session = AnomalySession.open('emb.parquet', 'my-labels.jsonl');  // resumes if the file exists
 *   for (const id of session.next()) session.score(id, askTheResearcher(id)); // on disk before it returns
 *   session.ranking().slice(0, 20);
 *
 * Opening replays the stored scores into the finder, so a session that crashed or was killed
 * continues where it stopped; `score` writes to disk first and only then updates the finder.
 */
import type { Embeddings } from '../data/embeddings';
import { readEmbeddings } from '../data/embeddings';
import { checkScore, embeddingsFingerprint, LabelRecord, LabelStore, ReadLabelsOptions } from './labels';
import { ANOMALY_DEFAULTS, AnomalyFinderOptions, PersonalisedAnomalyFinder, RankedGalaxy, RankingOptions } from './personalised';

export interface AnomalySessionOptions extends AnomalyFinderOptions, ReadLabelsOptions {
  /**
   * Where in-memory embeddings came from, recorded in a new labels file's header. Default: the
   * path given to `open`, or '(in memory)'.
   */
  embeddingsFile?: string;
  /** Create the labels file when it does not exist. Default true. */
  create?: boolean;
  /** Only read the labels file (ranking): it is never created, repaired or appended to. Default false. */
  readOnly?: boolean;
}

/** A ranking; `note` says why it is incomplete (fewer than 2 scores). */
export type Ranking = RankedGalaxy[] & { note?: string };

/** How the next galaxies are chosen: at random until `initialLabels` are scored, then by expected improvement. */
export type AnomalyPhase = 'random' | 'expected-improvement';

/** Scores to record at once: `{ id: score }`, a Map, or [id, score] pairs. */
export type ScoreSet = Record<string, number> | Map<string, number> | Iterable<readonly [string, number]>;

export class AnomalySession {
  /** Scores replayed from the labels file when the session opened. */
  readonly resumed: number;
  private readonly known: Set<string>;
  private readonly skipped = new Set<string>();
  /** Scores given through this object, latest last, each with the galaxy's score before it (for undo). */
  private readonly given: { id: string; before: number | undefined }[] = [];

  constructor(
    readonly finder: PersonalisedAnomalyFinder,
    readonly store: LabelStore,
    private readonly options: AnomalySessionOptions = {},
  ) {
    this.known = new Set(finder.ids);
    const lines = new Map<string, LabelRecord>();
    for (const r of store.records()) lines.set(r.id, r);
    for (const [id, score] of store.labels()) {
      if (!this.known.has(id)) {
        throw new Error(`galmorph: ${store.file}, line ${lines.get(id)?.line ?? '?'}: galaxy '${id}' is not among the ${finder.ids.length} galaxies of the embeddings`);
      }
      finder.label(id, score);
    }
    this.resumed = store.count;
  }

  /**
   * Opens a session on embeddings (a file from `galmorph embed`, or in memory) and a labels file:
   * a new file gets a header fingerprinting the embeddings; an existing one is checked against them
   * and its scores are replayed.
   */
  static open(embeddings: Embeddings | string, labelsFile: string, options: AnomalySessionOptions = {}): AnomalySession {
    const e = typeof embeddings === 'string' ? readEmbeddings(embeddings) : embeddings;
    const source = options.embeddingsFile ?? (typeof embeddings === 'string' ? embeddings : undefined);
    const store = LabelStore.open(labelsFile, { embeddings: embeddingsFingerprint(e, source), create: options.create, readOnly: options.readOnly, onWarning: options.onWarning });
    return new AnomalySession(PersonalisedAnomalyFinder.fromEmbeddings(e, options), store, options);
  }

  /** The labels file (absolute path). */
  get labelsFile(): string {
    return this.store.file;
  }

  /** Galaxies scored, resumed ones included. */
  get labelledCount(): number {
    return this.finder.labelledCount;
  }

  /** Galaxies in the embeddings. */
  get size(): number {
    return this.finder.ids.length;
  }

  /** Galaxies per batch (the finder's `batchSize`, default 10). */
  get batchSize(): number {
    return this.options.batchSize ?? ANOMALY_DEFAULTS.batchSize;
  }

  get phase(): AnomalyPhase {
    return this.labelledCount < (this.options.initialLabels ?? ANOMALY_DEFAULTS.initialLabels) ? 'random' : 'expected-improvement';
  }

  /** The latest score per galaxy. */
  labels(): Map<string, number> {
    return this.store.labels();
  }

  /** The highest score given so far (the latest such galaxy on a tie), or undefined before any. */
  best(): { id: string; score: number } | undefined {
    let best: { id: string; score: number } | undefined;
    for (const [id, score] of this.store.labels()) if (!best || score >= best.score) best = { id, score };
    return best;
  }

  /**
   * The next galaxies to show, never one already scored or skipped in this session: random ones
   * until `initialLabels` are scored (then at most the number still missing), afterwards those of
   * highest expected improvement (the Gaussian process is refitted when the labels changed).
   */
  next(count = this.batchSize): string[] {
    if (!Number.isInteger(count) || count < 1) throw new Error(`galmorph: next() needs a positive integer count, got ${count}`);
    const proposed = this.finder.next(count + this.skipped.size).filter((id) => !this.skipped.has(id));
    if (proposed.length > 0 || this.skipped.size === 0) return proposed.slice(0, count);
    // Every random pick was skipped earlier: fall back to the first galaxies still open.
    const labelled = this.finder.labelsById();
    return this.finder.ids.filter((id) => !labelled.has(id) && !this.skipped.has(id)).slice(0, count);
  }

  /** Leaves a galaxy out of `next` for the rest of this session (skips are not written to disk). */
  skip(id: string): void {
    this.requireKnown(id);
    this.skipped.add(id);
  }

  /**
   * Records a score 0-5: appended to the labels file and fsync'ed first, then given to the finder.
   * A later score of the same galaxy replaces the earlier one.
   */
  score(id: string, score: number): LabelRecord {
    this.requireKnown(id);
    checkScore(id, score);
    this.given.push({ id, before: this.store.get(id) });
    const record = this.store.append(id, score);
    this.finder.label(id, score);
    this.skipped.delete(id);
    return record;
  }

  /**
   * Takes back the latest score given in this session: the galaxy gets its score from before it
   * (written again) or, if it had none, is unscored (a withdrawal line in the labels file) and may
   * be proposed again. Returns what was undone, or undefined when nothing is left to undo (scores
   * resumed from the file are not undone, only those given since it was opened).
   */
  undo(): { id: string; score: number; restored: number | undefined } | undefined {
    const last = this.given.pop();
    if (!last) return undefined;
    const score = this.store.get(last.id)!;
    if (last.before === undefined) {
      this.store.withdraw(last.id);
      this.finder.unlabel(last.id);
    } else {
      this.store.append(last.id, last.before);
      this.finder.label(last.id, last.before);
    }
    return { id: last.id, score, restored: last.before };
  }

  /** Several scores (`{ id: score }`, a Map or pairs); all are checked before any is written. */
  scoreMany(scores: ScoreSet): LabelRecord[] {
    const pairs: (readonly [string, number])[] =
      scores instanceof Map ? [...scores] : Symbol.iterator in Object(scores) ? [...(scores as Iterable<readonly [string, number]>)] : Object.entries(scores);
    for (const [id, s] of pairs) {
      this.requireKnown(id);
      checkScore(id, s);
    }
    return pairs.map(([id, s]) => this.score(id, s));
  }

  /**
   * Every galaxy ranked by its score where given, else by the prediction (see `RankingOptions`). The Gaussian process
   * needs 2 or more scores: before that, the ranking holds what is known (the scored galaxy first,
   * then the rest in the embeddings' order, predicted NaN) and its `note` says why.
   */
  ranking(options: RankingOptions = {}): Ranking {
    if (this.labelledCount >= 2) return this.finder.ranking(options);
    const labels = this.finder.labelsById();
    const scored = this.finder.ids.filter((id) => labels.has(id));
    const rest = this.finder.ids.filter((id) => !labels.has(id));
    const rows: Ranking = [...scored, ...rest].map((id, r) => ({ id, rank: r + 1, predicted: NaN, std: NaN, label: labels.get(id) }));
    rows.note = `galmorph: ${this.labelledCount} ${this.labelledCount === 1 ? 'galaxy' : 'galaxies'} scored of the 2 the Gaussian process needs to predict the others: ${
      this.labelledCount === 0 ? 'every galaxy is' : 'the scored galaxy first, the rest are'
    } in the embeddings' order, predicted NaN. Score ${2 - this.labelledCount} more (session.score(id, s)) and rank again.`;
    return rows;
  }

  /** One line on where the session stands. */
  summary(): string {
    const best = this.best();
    const resumed = this.resumed > 0 ? ` (${this.resumed} resumed)` : '';
    return `${this.labelledCount} of ${this.size} galaxies scored${resumed}${best ? `; best so far: ${best.score} (galaxy ${best.id})` : ''}`;
  }

  private requireKnown(id: string): void {
    if (!this.known.has(id)) throw new Error(`galmorph: galaxy '${id}' is not among the ${this.size} galaxies of this session's embeddings`);
  }
}
