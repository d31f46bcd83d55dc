/**
 * The Kaggle "Galaxy Zoo - The Galaxy Challenge" format (Dieleman et al. 2015; GZ2 votes, Willett et
 * al. 2013): 37 columns `Class{Q}.{A}`, one per GZ2 answer, CUMULATIVE down the decision tree. An
 * answer's value is its question's vote fraction times the share of volunteers who reached the
 * question, so Class2.* sums to Class1.2, Class7.* to Class1.1, Class8.* to Class6.1, Class3-5.* to
 * Class2.2, Class9.* to Class2.1, Class10-11.* to Class4.1, and Class1.* and Class6.* to 1. Q6
 * ("anything odd?") is the one place the format's tree differs from GZ2's: the competition normalised
 * it over every volunteer (Class6.* sums to 1 on every row), although GZ2 asks it only after smooth or
 * features. So a question's per-question fraction is value / question sum, and its reach (the share
 * who got there) is 1 for Class1 and Class6 and the summed values of the answers leading to it
 * otherwise.
 *
 * Here: the column mapping (KAGGLE_QUESTIONS, KAGGLE_COLUMNS), reading and checking a catalogue's
 * columns (readKaggleCumulative; voteCounts turns them into counts, src/schemas/votes.ts), the inverse
 * for predictions (toKaggleCumulative) and the competition's metric (kaggleRmse).
 */
import type { Catalog } from '../data/catalog';
import type { Question } from './decision-tree';
import { GZ2 } from './galaxy-zoo';

/**
 * Volunteers assumed per galaxy where Kaggle-format votes become counts (the format has no totals):
 * the median `total_classifications` of the gz2-hart16-1000 galaxies; GZ2 galaxies had about 40-50.
 */
export const NOMINAL_GZ2_VOTES = 43;

/** Values may exceed 1 or their parent's by float noise up to these (the shared data: about 1e-6). */
const VALUE_SLACK = 1e-3;
const SUM_TOLERANCE = 1e-2;

/**
 * Kaggle question Q (1-11, the list's order) and its answers Class{Q}.1, .2, ... mapped to GZ2 keys by
 * meaning, in the competition's order (its decision-tree page). Every order agrees with GZ2's; it is
 * spelled out so that a change on either side fails here, at load, rather than silently shifting votes.
 */
const KAGGLE_TO_GZ2: [question: string, answers: string[]][] = [
  ['t01_smooth_or_features', ['a01_smooth', 'a02_features_or_disk', 'a03_star_or_artifact']],
  ['t02_edgeon', ['a04_yes', 'a05_no']],
  ['t03_bar', ['a06_bar', 'a07_no_bar']],
  ['t04_spiral', ['a08_spiral', 'a09_no_spiral']],
  ['t05_bulge_prominence', ['a10_no_bulge', 'a11_just_noticeable', 'a12_obvious', 'a13_dominant']],
  ['t06_odd', ['a14_yes', 'a15_no']],
  ['t07_rounded', ['a16_completely_round', 'a17_in_between', 'a18_cigar_shaped']],
  // ring, lens or arc, disturbed, irregular, other, merger, dust lane (GZ2 numbers dust lane a38).
  ['t08_odd_feature', ['a19_ring', 'a20_lens_or_arc', 'a21_disturbed', 'a22_irregular', 'a23_other', 'a24_merger', 'a38_dust_lane']],
  ['t09_bulge_shape', ['a25_rounded', 'a26_boxy', 'a27_no_bulge']],
  ['t10_arms_winding', ['a28_tight', 'a29_medium', 'a30_loose']],
  ['t11_arms_number', ['a31_1', 'a32_2', 'a33_3', 'a34_4', 'a36_more_than_4', 'a37_cant_tell']],
];

/** GZ2 questions whose Kaggle values sum to 1: everyone reaches them in the format's tree. */
const KAGGLE_ROOTS = new Set(['t01_smooth_or_features', 't06_odd']);

export interface KaggleQuestion {
  /** Q of `Class{Q}.*`. */
  number: number;
  /** The GZ2 question. */
  question: Question;
  /** `Class{Q}.1`, `Class{Q}.2`, ... */
  columns: string[];
  /** The GZ2 answer key of each column. */
  answers: string[];
  /** Columns whose values sum to the share of volunteers who reached the question; empty: everyone. */
  reach: string[];
}

function kaggleQuestions(): KaggleQuestion[] {
  const columnOf = new Map<string, string>();
  return KAGGLE_TO_GZ2.map(([key, suffixes], qi) => {
    const question = GZ2.question(key);
    const answers = suffixes.map((s) => `${key}_${s}`);
    const known = question.answers.map((a) => a.key);
    if (answers.length !== known.length || answers.some((a) => !known.includes(a))) {
      throw new Error(`galmorph: the Kaggle mapping of Class${qi + 1} (${answers.join(', ')}) does not cover GZ2 question '${key}' (${known.join(', ')})`);
    }
    const columns = answers.map((a, k) => `Class${qi + 1}.${k + 1}`);
    answers.forEach((a, k) => columnOf.set(a, columns[k]!));
    // Parents precede children in both trees, so every required answer already has its column.
    const reach = KAGGLE_ROOTS.has(key) ? [] : question.requires.map((r) => columnOf.get(r)!);
    return { number: qi + 1, question, columns, answers, reach };
  });
}

/** The 11 Kaggle questions in order, Class1 to Class11. */
export const KAGGLE_QUESTIONS: readonly KaggleQuestion[] = kaggleQuestions();

/** The competition's 37 columns in order (`Class1.1` ... `Class11.6`): the layout of every array here. */
export const KAGGLE_COLUMNS: readonly string[] = KAGGLE_QUESTIONS.flatMap((q) => q.columns);

const COLUMN_INDEX = new Map(KAGGLE_COLUMNS.map((c, j) => [c, j]));
const GZ2_INDEX = GZ2.answerIndex();
const K = KAGGLE_COLUMNS.length;

export interface KaggleCumulative {
  /** The questions whose columns the catalogue has, in order. */
  questions: KaggleQuestion[];
  /** Their columns. */
  columns: string[];
  /** Row-major [rows, 37] values in KAGGLE_COLUMNS order; NaN in the columns of absent questions. */
  values: Float64Array;
}

/** Sum of row i's values in `columns` (indices into KAGGLE_COLUMNS). */
function rowSum(values: ArrayLike<number>, i: number, columns: readonly string[]): number {
  return columns.reduce((s, c) => s + values[i * K + COLUMN_INDEX.get(c)!]!, 0);
}

/**
 * Which questions a header holds, refusing a partial question (naming its missing columns) and a
 * question whose parent question is absent (its volunteers could not be counted down the tree).
 */
function presentQuestions(cat: Catalog): KaggleQuestion[] {
  const present: KaggleQuestion[] = [];
  for (const q of KAGGLE_QUESTIONS) {
    const missing = q.columns.filter((c) => !cat.columns.includes(c));
    if (missing.length === q.columns.length) continue;
    if (missing.length > 0) {
      throw new Error(`galmorph: ${cat.file}: Kaggle question Class${q.number} (${q.question.key}) is partial: column(s) ${missing.map((c) => `'${c}'`).join(', ')} missing; give all of a question's columns or none`);
    }
    present.push(q);
  }
  const has = (c: string) => present.some((p) => p.columns.includes(c));
  if (!has('Class1.1')) {
    throw new Error(`galmorph: ${cat.file} has no Kaggle question Class1 (columns ${KAGGLE_QUESTIONS[0]!.columns.join(', ')}): every other question's volunteers are counted from it. Columns present: ${cat.columns.join(', ')}`);
  }
  for (const q of present) {
    const absent = q.reach.filter((c) => !has(c));
    if (absent.length > 0) throw new Error(`galmorph: ${cat.file} has Kaggle question Class${q.number} but not ${absent.join(', ')}, which lead(s) to it: its volunteers cannot be counted`);
  }
  return present;
}

/**
 * A catalogue's Kaggle columns, checked row by row: every value a finite number in [0, 1] (float
 * slack 1e-3); Class1.* and Class6.* summing to 1, and every deeper question to its reach, within
 * 1e-2. Errors name the file, row, id and column.
 */
export function readKaggleCumulative(cat: Catalog): KaggleCumulative {
  const questions = presentQuestions(cat);
  const columns = questions.flatMap((q) => q.columns);
  const values = new Float64Array(cat.length * K).fill(NaN);
  for (const c of columns) {
    const j = COLUMN_INDEX.get(c)!;
    cat.numbers(c).forEach((v, i) => {
      if (!(v >= 0 && v <= 1 + VALUE_SLACK)) {
        throw new Error(`${cat.describeCell(i, c)} holds ${Number.isNaN(v) ? 'a blank or NaN' : v}: a Kaggle value must be a number in [0, 1] (0 where nobody reached the question)`);
      }
      values[i * K + j] = v;
    });
  }
  for (let i = 0; i < cat.length; i++) {
    for (const q of questions) {
      const sum = rowSum(values, i, q.columns);
      const expected = q.reach.length === 0 ? 1 : rowSum(values, i, q.reach);
      if (Math.abs(sum - expected) > SUM_TOLERANCE) {
        const what = q.reach.length === 0 ? 'not 1 (everyone reaches this question)' : `but ${q.reach.join(' + ')}, the share who reached the question, is ${expected}`;
        throw new Error(`${cat.describeCell(i, `Class${q.number}.*`)} sums to ${sum}, ${what}: Kaggle values are cumulative down the tree and must agree within ${SUM_TOLERANCE}`);
      }
    }
  }
  return { questions, columns, values };
}

/**
 * Row i's per-question fractions of GZ2 question `q` (its answers' order): value / question sum; all
 * NaN where the question is absent from the catalogue; all 0 where nobody reached it (sum 0).
 */
export function kaggleFractions(k: KaggleCumulative, i: number, q: Question): number[] {
  const kq = k.questions.find((x) => x.question.key === q.key);
  if (!kq) return q.answers.map(() => NaN);
  const sum = rowSum(k.values, i, kq.columns);
  return q.answers.map((a) => {
    const v = k.values[i * K + COLUMN_INDEX.get(kq.columns[kq.answers.indexOf(a.key)]!)!]!;
    return sum > 0 ? v / sum : 0;
  });
}

/**
 * The 37 Kaggle columns from per-question fractions on the GZ2 answers: row-major [galaxies, 37] in
 * `GZ2.answerKeys()` order (predictions, or voteFractions of a GZ2 vote table) to row-major
 * [galaxies, 37] in KAGGLE_COLUMNS order. Each question's fractions are multiplied by its reach
 * (1 for Class1 and Class6, else the summed values of the answers leading to it). A question nobody
 * reached (reach 0) gives 0; a reached one with NaN fractions (no votes known) gives NaN.
 */
export function toKaggleCumulative(fractions: ArrayLike<number>): Float64Array {
  const A = GZ2.answerCount;
  if (fractions.length % A !== 0) throw new Error(`galmorph: toKaggleCumulative needs rows of the ${A} GZ2 answers; got ${fractions.length} values`);
  const n = fractions.length / A;
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    for (const q of KAGGLE_QUESTIONS) {
      const reach = q.reach.length === 0 ? 1 : rowSum(out, i, q.reach);
      q.columns.forEach((c, k) => {
        out[i * K + COLUMN_INDEX.get(c)!] = reach === 0 ? 0 : fractions[i * A + GZ2_INDEX.get(q.answers[k]!)!]! * reach;
      });
    }
  }
  return out;
}

/**
 * The competition's metric: root mean squared error over every galaxy and every one of `columns`
 * (default all 37; give a catalogue's `columns` when it has only some questions) of two row-major
 * [galaxies, 37] arrays in KAGGLE_COLUMNS order. A NaN in a scored column is an error naming it.
 */
export function kaggleRmse(predicted: ArrayLike<number>, truth: ArrayLike<number>, columns: readonly string[] = KAGGLE_COLUMNS): number {
  if (predicted.length !== truth.length || truth.length % K !== 0) {
    throw new Error(`galmorph: kaggleRmse needs two [galaxies, ${K}] arrays of the same size; got ${predicted.length} and ${truth.length} values`);
  }
  const unknown = columns.filter((c) => !COLUMN_INDEX.has(c));
  if (unknown.length > 0 || columns.length === 0) throw new Error(`galmorph: kaggleRmse: ${unknown.length > 0 ? `no Kaggle column ${unknown.join(', ')}` : 'no columns to score'}; the columns are ${KAGGLE_COLUMNS.join(', ')}`);
  const n = truth.length / K;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (const c of columns) {
      const j = i * K + COLUMN_INDEX.get(c)!;
      const d = predicted[j]! - truth[j]!;
      if (Number.isNaN(d)) throw new Error(`galmorph: kaggleRmse: galaxy ${i}, column ${c}: ${Number.isNaN(truth[j]!) ? 'the true value' : 'the prediction'} is NaN`);
      sum += d * d;
    }
  }
  return Math.sqrt(sum / (n * columns.length));
}
