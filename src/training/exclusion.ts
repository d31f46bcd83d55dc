/**
 * Votes left out of training, so that what the representation is evaluated on later was never one of
 * its training labels (the honest protocol of issue 14): the similarity, anomaly and ring notebooks
 * score the encoder on odd features, mergers and rings, and an encoder trained on those very votes
 * would be graded on its own labels.
 *
 * Two kinds of rule, each by schema name:
 *  - `questions`: every vote of these questions is zeroed on every galaxy (they add no loss);
 *  - `leadingAnswers`: a galaxy whose votes on a question are led by one of these answers (ties
 *    included; with one class per galaxy, whose class it is) gets zero votes on that whole question,
 *    so the model learns nothing of its class, not even "not elliptical".
 * A galaxy the rules leave with no votes at all is dropped from the training set: its image would add
 * no loss, only batch statistics, and no split would hold it. A galaxy with other votes keeps its image
 * and those votes. In gz1-sdss-4019 each galaxy has only its GZ1 class, so its 115 mergers are dropped.
 */
import { schemaByName } from '../schemas/galaxy-zoo';
import type { VoteDataset } from '../schemas/vote-datasets';

export interface ExclusionSpec {
  /** Questions whose votes are zeroed on every galaxy, by schema: `{ gz2: ['t06_odd'] }`. */
  questions?: Readonly<Record<string, readonly string[]>>;
  /** Answers that zero a galaxy's whole question where they lead its votes, by schema: `{ gz1: ['merger'] }`. */
  leadingAnswers?: Readonly<Record<string, readonly string[]>>;
}

/** Named exclusions (`galmorph train --exclude NAME`). */
export const EXCLUSION_PRESETS = {
  /**
   * What the notebooks evaluate: GZ2 "anything odd?" (t06) and "what is the odd feature?" (t08: ring,
   * lens or arc, disturbed, irregular, other, merger, dust lane), in gz2-hart16-1000 and
   * gz2-kaggle-5000 alike, and the GZ1 class of GZ1 mergers. The ring labels of decals-rings-470 are
   * never read in any case; its three GZ DECaLS fractions (featured, edge-on, spiral arms) stay.
   */
  honest: { questions: { gz2: ['t06_odd', 't08_odd_feature'] }, leadingAnswers: { gz1: ['merger'] } },
} as const satisfies Record<string, ExclusionSpec>;

export type ExclusionPreset = keyof typeof EXCLUSION_PRESETS;

export const EXCLUSION_PRESET_NAMES = Object.keys(EXCLUSION_PRESETS) as ExclusionPreset[];

/** An exclusion as training records it (config.json, the fingerprint): the preset's name, if any, and its rules. */
export interface Exclusion {
  preset: ExclusionPreset | null;
  spec: ExclusionSpec;
}

/** What an exclusion took from one dataset. */
export interface ExclusionCount {
  dataset: string;
  /** Votes zeroed. */
  votes: number;
  /** Galaxies that lost at least one vote. */
  galaxies: number;
  /** Of those, galaxies left with no votes and so dropped from training. */
  dropped: number;
}

/** A preset by name, or a spec checked against the schemas (unknown schema, question or answer is an error). */
export function resolveExclusion(exclude: ExclusionSpec | ExclusionPreset | undefined): Exclusion | null {
  if (exclude === undefined) return null;
  if (typeof exclude === 'string') {
    if (!Object.hasOwn(EXCLUSION_PRESETS, exclude)) {
      throw new Error(`galmorph: unknown exclusion '${exclude}'. Presets: ${EXCLUSION_PRESET_NAMES.join(', ')}`);
    }
    return { preset: exclude, spec: EXCLUSION_PRESETS[exclude] };
  }
  for (const [name, keys] of Object.entries(exclude.questions ?? {})) keys.forEach((k) => schemaByName(name).question(k));
  for (const [name, keys] of Object.entries(exclude.leadingAnswers ?? {})) keys.forEach((k) => schemaByName(name).questionOf(k));
  return { preset: null, spec: exclude };
}

/** One line for model cards and logs: what the rules leave out. */
export function describeExclusion(e: Exclusion): string {
  const parts = [
    ...Object.entries(e.spec.questions ?? {}).map(([s, qs]) => `every ${s} vote on ${qs.join(', ')}`),
    ...Object.entries(e.spec.leadingAnswers ?? {}).map(([s, as]) => `the ${s} question led by ${as.join(', ')} (that galaxy's whole question)`),
  ];
  return `${e.preset ? `preset '${e.preset}': ` : ''}${parts.join('; ') || 'nothing'}`;
}

/** A dataset's counts with the rules applied (a copy), which galaxies keep a vote, and what was taken. */
export function excludeVotes(d: VoteDataset, spec: ExclusionSpec): { counts: Float64Array; keep: boolean[]; count: ExclusionCount } {
  const schema = schemaByName(d.schema);
  const A = schema.answerCount;
  const index = schema.answerIndex();
  const columnsOf = (questionKey: string) => schema.question(questionKey).answers.map((a) => index.get(a.key)!);
  const counts = Float64Array.from(d.counts);
  const n = d.catalog.length;
  const zero = (i: number, cols: number[]) => cols.forEach((j) => (counts[i * A + j] = 0));
  // Leaders are judged on the votes as published, before any question is zeroed.
  for (const answer of spec.leadingAnswers?.[d.schema] ?? []) {
    const cols = columnsOf(schema.questionOf(answer).key);
    const j = index.get(answer)!;
    for (let i = 0; i < n; i++) {
      const lead = Math.max(...cols.map((c) => d.counts[i * A + c]!));
      if (lead > 0 && d.counts[i * A + j] === lead) zero(i, cols);
    }
  }
  for (const q of spec.questions?.[d.schema] ?? []) {
    const cols = columnsOf(q);
    for (let i = 0; i < n; i++) zero(i, cols);
  }
  const count: ExclusionCount = { dataset: d.id, votes: 0, galaxies: 0, dropped: 0 };
  const keep: boolean[] = [];
  for (let i = 0; i < n; i++) {
    let before = 0;
    let after = 0;
    for (let j = 0; j < A; j++) {
      before += d.counts[i * A + j]!;
      after += counts[i * A + j]!;
    }
    const lost = before - after;
    count.votes += lost;
    if (lost > 0) count.galaxies++;
    // Only the rules drop a galaxy: one that came without votes stays as it was.
    keep.push(!(lost > 0 && after === 0));
    if (!keep[i]) count.dropped++;
  }
  return { counts, keep, count };
}
