/**
 * How well the explorer's rankings find a tagged class (e.g. the `ring` column of decals-rings-470):
 * precision at k of "describe in words", of "like these" from one tagged galaxy (averaged over
 * several of them), and the base rate a random order has.
 */
import { seededRng, shuffle } from '../data/augment';
import type { Explorer, ScoredRow } from './explorer';

export interface RankingPrecision {
  k: number[];
  /** Fraction of tagged galaxies: what a random order scores on average. */
  random: number;
  words: number[];
  /** Mean over `seeds` single-galaxy "like these" rankings (the seed itself left out). */
  likeOne: number[];
  seeds: number;
  /** Answers the words used. */
  answers: string[];
}

function precisionAt(rows: ScoredRow[], tagged: ReadonlySet<string>, k: number): number {
  const top = rows.slice(0, k);
  return top.filter((r) => tagged.has(r.id)).length / top.length;
}

/** Precision at each k of the words' ranking and of one-example "like these" rankings. */
export function rankingPrecision(explorer: Explorer, text: string, tagged: ReadonlySet<string>, options: { k?: number[]; seeds?: number; seed?: number } = {}): RankingPrecision {
  const ks = options.k ?? [10, 25, 50, 100];
  const { terms } = explorer.describe(text);
  const words = explorer.rankByWords(terms);
  const candidates = explorer.ids.filter((id) => tagged.has(id));
  const seeds = shuffle(candidates, seededRng(options.seed ?? 0)).slice(0, options.seeds ?? 20);
  const likeOne = ks.map(() => 0);
  for (const s of seeds) {
    const rows = explorer.likeThese([s], []).filter((r) => r.id !== s);
    ks.forEach((k, j) => (likeOne[j]! += precisionAt(rows, tagged, k) / seeds.length));
  }
  return {
    k: ks,
    random: candidates.length / explorer.size,
    words: ks.map((k) => precisionAt(words, tagged, k)),
    likeOne,
    seeds: seeds.length,
    answers: terms.flatMap((t) => t.answers.map((a) => a.column)),
  };
}
