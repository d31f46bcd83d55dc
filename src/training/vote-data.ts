/**
 * Training data for the galaxy model: images and vote counts from one or more vote datasets
 * (src/data/vote-datasets.ts), laid out on the model's multi-schema output (AnswerSpace).
 */
import { AnswerSpace } from '../models/galaxy-model';
import { seededRng, shuffle } from '../data/augment';
import type { VoteDataset } from '../schemas/vote-datasets';
import { Exclusion, ExclusionCount, excludeVotes } from './exclusion';

export interface TrainingSet {
  ids: string[];
  files: string[];
  /** Index into `datasets` of each galaxy. */
  source: number[];
  /** Row of each galaxy in its dataset's catalogue (galaxies an exclusion dropped leave gaps). */
  rows: number[];
  datasets: string[];
  /** Row-major [galaxies, space.size] counts, zero outside each galaxy's own schema. */
  counts: Float32Array;
  space: AnswerSpace;
  /** The votes left out (src/training/exclusion.ts) and what they took from each dataset; null: none. */
  exclusion: (Exclusion & { counts: ExclusionCount[] }) | null;
}

/** Lays the datasets' votes out on one multi-schema output, after leaving out what `exclusion` names. */
export function assemble(datasets: VoteDataset[], space: AnswerSpace, exclusion: Exclusion | null = null): TrainingSet {
  const parts = datasets.map((d) => (exclusion ? excludeVotes(d, exclusion.spec) : { counts: d.counts, keep: d.catalog.rows.map(() => true), count: null }));
  const n = parts.reduce((s, p) => s + p.keep.filter(Boolean).length, 0);
  const counts = new Float32Array(n * space.size);
  const set: TrainingSet = {
    ids: [], files: [], source: [], rows: [], datasets: datasets.map((d) => d.id), counts, space,
    exclusion: exclusion && { ...exclusion, counts: parts.map((p) => p.count!) },
  };
  let row = 0;
  datasets.forEach((d, di) => {
    const cols = space.indicesOf(d.schema);
    const { counts: votes, keep } = parts[di]!;
    d.catalog.rows.forEach((r, i) => {
      if (!keep[i]) return;
      set.ids.push(`${d.id}:${r[d.catalog.idCol]}`);
      set.files.push(d.catalog.imagePath(r));
      set.source.push(di);
      set.rows.push(i);
      cols.forEach((c, j) => (counts[row * space.size + c] = votes[i * cols.length + j]!));
      row++;
    });
  });
  return set;
}

/** Deterministic train/validation/test split of indices 0..n-1 (fractions of the whole). */
export function splitIndices(n: number, seed: number, fractions: { val: number; test: number }): { train: number[]; val: number[]; test: number[] } {
  const rand = seededRng(seed);
  const order = shuffle(Array.from({ length: n }, (_, i) => i), rand);
  const nTest = Math.round(n * fractions.test);
  const nVal = Math.round(n * fractions.val);
  return { test: order.slice(0, nTest), val: order.slice(nTest, nTest + nVal), train: order.slice(nTest + nVal) };
}
