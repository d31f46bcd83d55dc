/**
 * From catalogue columns to vote counts per answer of a decision tree.
 *
 * Four sources, in this order of preference:
 *  1. count columns (`counts` template, e.g. `{answer}_count` in GZ2 Table 5, `{answer}` in GZ DECaLS);
 *  2. fraction columns plus a total (`fractions` + `total`), reconstructed down the tree (below);
 *  3. the Kaggle Galaxy Challenge's cumulative columns (`kaggle`, GZ2 only; src/schemas/kaggle.ts):
 *     per-question fractions (value / question sum) reconstructed the same way from a nominal total
 *     of volunteers (`nominalTotal`, default 43), as the format has no totals; a question whose
 *     columns are absent gets no votes (no loss), never a guess;
 *  4. one class per galaxy (`classColumn`, e.g. GZ1 majority classes): one vote for that answer.
 *
 * Every numeric cell goes through one check (numericCell): blank or 'NaN' is missing, anything else
 * that is not a finite number ('abc', 'Infinity') is an error naming file, row, id and column.
 *
 * Reconstruction from fractions (GZ2's public tables give fractions and `total_classifications`, not
 * per-question counts). Questions are visited in asking order:
 *  - a question every volunteer sees gets N = the `total` column;
 *  - a deeper question gets N = the summed (already reconstructed) counts of the answers that lead to it
 *    (e.g. GZ2 T02 "edge-on?" gets N = count of T01 "features or disk"), so the expected number of
 *    volunteers who reached it is the total times the product of fractions along its path;
 *  - its answers get N x fraction, with the question's fractions normalised to sum to 1 and rounded by
 *    largest remainder, so the counts are whole, never negative, and sum exactly to N;
 *  - a question whose fractions are all blank (nobody reached it) gets zero votes; one blank among
 *    numbers is an error.
 * On GZ2 Table 5 (which has both), this recovers the published counts closely (see test/schemas.test.ts).
 */
import { Catalog, numericCell, requireColumns, VoteColumns } from '../data/catalog';
import { DecisionTree, Question } from './decision-tree';
import { GZ2 } from './galaxy-zoo';
import { kaggleFractions, NOMINAL_GZ2_VOTES, readKaggleCumulative } from './kaggle';

export type { VoteColumns } from '../data/catalog';

export interface VoteTable {
  schema: DecisionTree;
  ids: string[];
  /** Answer keys, the column order of `counts`. */
  answers: string[];
  /** Row-major `ids.length x answers.length` vote counts. */
  counts: Float64Array;
  /** How the counts were obtained. */
  method: 'counts' | 'fractions' | 'kaggle' | 'class';
  /** What `method` alone does not say, for model cards (the Kaggle nominal total and absent questions). */
  detail?: string;
}

/** Fills `{answer}` in a column template. */
export function columnFor(template: string, answer: string): string {
  return template.replaceAll('{answer}', answer);
}

/** Parses a vote cell; blank is NaN, anything non-numeric an error naming row and column. */
function cell(cat: Catalog, i: number, column: string): number {
  return numericCell(cat.rows[i]![column]!, () => where(cat, i, column));
}

function where(cat: Catalog, i: number, column: string): string {
  return cat.describeCell(i, column);
}

/**
 * Fills one galaxy's `row` (indexed by `index`) down the tree, questions in asking order: N = `total`
 * for a question everyone is asked, else the summed counts of the answers leading to it; then N x
 * the question's fractions (`fractionsOf`, NaN = blank) by largest remainder.
 */
function countDownTree(schema: DecisionTree, index: Map<string, number>, row: Float64Array, total: number, fractionsOf: (q: Question) => number[]): void {
  for (const q of schema.questions) {
    const n = q.requires.length === 0 ? Math.round(total) : q.requires.reduce((s, r) => s + row[index.get(r)!]!, 0);
    largestRemainder(n, fractionsOf(q)).forEach((c, k) => (row[index.get(q.answers[k]!.key)!] = c));
  }
}

/** Vote counts for every answer of `schema`, from the catalogue columns described by `cols`. */
export function voteCounts(cat: Catalog, schema: DecisionTree, cols: VoteColumns): VoteTable {
  const answers = schema.answerKeys();
  const counts = new Float64Array(cat.length * answers.length);
  const base = { schema, ids: cat.ids(), answers, counts };
  if (cols.counts) {
    const names = answers.map((a) => columnFor(cols.counts!, a));
    requireColumns(cat.file, cat.columns, names);
    for (let i = 0; i < cat.length; i++) {
      names.forEach((c, j) => {
        const v = cell(cat, i, c);
        if (Number.isNaN(v)) throw new Error(`${where(cat, i, c)} is blank or NaN: vote counts must be numbers`);
        if (v < 0) throw new Error(`${where(cat, i, c)} holds ${v}: vote counts cannot be negative`);
        counts[i * answers.length + j] = v;
      });
    }
    return { ...base, method: 'counts' };
  }
  if (cols.fractions) {
    if (!cols.total) throw new Error(`galmorph: reconstructing counts from fractions needs a 'total' column (volunteers per galaxy)`);
    requireColumns(cat.file, cat.columns, [cols.total, ...answers.map((a) => columnFor(cols.fractions!, a))]);
    const index = schema.answerIndex();
    for (let i = 0; i < cat.length; i++) {
      const total = cell(cat, i, cols.total);
      if (Number.isNaN(total) || total < 0) throw new Error(`${where(cat, i, cols.total)} holds '${cat.rows[i]![cols.total]}': the total must be a number >= 0`);
      countDownTree(schema, index, counts.subarray(i * answers.length, (i + 1) * answers.length), total, (q) => {
        const f = q.answers.map((a) => fraction(cat, i, columnFor(cols.fractions!, a.key)));
        // All blank: nobody reached the question. Some blank: a missing vote, never renormalised away.
        const blank = f.findIndex((x) => Number.isNaN(x));
        if (blank >= 0 && f.some((x) => !Number.isNaN(x))) {
          throw new Error(`${where(cat, i, columnFor(cols.fractions!, q.answers[blank]!.key))} is blank or NaN while other answers of question '${q.key}' have fractions: NaN votes are errors`);
        }
        return f;
      });
    }
    return { ...base, method: 'fractions' };
  }
  if (cols.kaggle) {
    if (schema.name !== GZ2.name) throw new Error(`galmorph: the Kaggle Galaxy Challenge columns hold GZ2 answers: use schema '${GZ2.name}', not '${schema.name}'`);
    const nominal = cols.nominalTotal ?? NOMINAL_GZ2_VOTES;
    if (!(Number.isInteger(nominal) && nominal > 0)) throw new Error(`galmorph: the nominal total of Kaggle votes must be a positive whole number of volunteers, got ${nominal}`);
    const kaggle = readKaggleCumulative(cat);
    const index = schema.answerIndex();
    for (let i = 0; i < cat.length; i++) {
      countDownTree(schema, index, counts.subarray(i * answers.length, (i + 1) * answers.length), nominal, (q) => kaggleFractions(kaggle, i, q));
    }
    const absent = schema.questions.filter((q) => !kaggle.questions.some((k) => k.question === q)).map((q) => q.key);
    const detail =
      `Kaggle cumulative columns (Class${kaggle.questions.map((q) => q.number).join(', Class')}) x ${nominal} nominal volunteers (assumed: the format has no totals), down the GZ2 tree` +
      (absent.length > 0 ? `; no votes for ${absent.join(', ')} (absent)` : '');
    return { ...base, method: 'kaggle', detail };
  }
  if (cols.classColumn) {
    requireColumns(cat.file, cat.columns, [cols.classColumn]);
    const index = schema.answerIndex();
    for (let i = 0; i < cat.length; i++) {
      const v = cat.rows[i]![cols.classColumn]!.trim();
      const key = cols.classValues ? cols.classValues[v] : v;
      const j = key === undefined ? undefined : index.get(key);
      if (j === undefined) throw new Error(`${where(cat, i, cols.classColumn)} holds '${v}', which is no answer of schema '${schema.name}' (${[...index.keys()].join(', ')})`);
      counts[i * answers.length + j] = 1;
    }
    return { ...base, method: 'class' };
  }
  throw new Error(`galmorph: vote columns need one of 'counts', 'fractions' (+ 'total'), 'kaggle' or 'classColumn'`);
}

/** A fraction cell: blank allowed (question not reached), otherwise within [0, 1]. */
function fraction(cat: Catalog, i: number, column: string): number {
  const v = cell(cat, i, column);
  if (v < 0 || v > 1 + 1e-6) throw new Error(`${where(cat, i, column)} holds ${v}: a vote fraction must lie in [0, 1]`);
  return v;
}

/** Splits n votes in proportion to `f` (blank = 0), whole numbers summing exactly to n. */
function largestRemainder(n: number, f: number[]): number[] {
  const w = f.map((x) => (Number.isNaN(x) ? 0 : x));
  const sum = w.reduce((a, b) => a + b, 0);
  if (n <= 0 || sum <= 0) return w.map(() => 0);
  const exact = w.map((x) => (n * x) / sum);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, k) => [x - Math.floor(x), k] as const).sort((a, b) => b[0] - a[0]);
  for (const [, k] of order) {
    if (left <= 0) break;
    out[k]!++;
    left--;
  }
  return out;
}

/** Each question's answer fractions from a vote table (NaN where nobody answered the question). */
export function voteFractions(table: VoteTable): Float64Array {
  const A = table.answers.length;
  const out = new Float64Array(table.counts.length);
  const index = table.schema.answerIndex();
  for (let i = 0; i < table.ids.length; i++) {
    for (const q of table.schema.questions) {
      const js = q.answers.map((a) => index.get(a.key)!);
      const n = js.reduce((s, j) => s + table.counts[i * A + j]!, 0);
      for (const j of js) out[i * A + j] = n > 0 ? table.counts[i * A + j]! / n : NaN;
    }
  }
  return out;
}

/** Number of volunteers who answered `q` for row i of a vote table. */
export function questionTotal(table: VoteTable, i: number, q: Question): number {
  const index = table.schema.answerIndex();
  return q.answers.reduce((s, a) => s + table.counts[i * table.answers.length + index.get(a.key)!]!, 0);
}
