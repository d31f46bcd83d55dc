/**
 * How well a galaxy model predicts volunteer vote fractions on held-out galaxies: per-answer mean
 * absolute error beside a baseline that always predicts the training-set mean, and accuracy on the
 * galaxies where volunteers were confident (the winning answer's fraction above a threshold).
 */
import { AnswerSpace } from './galaxy-model';

export interface AnswerMetric {
  answer: string;
  question: string;
  /** Galaxies where the question was answered. */
  n: number;
  mae: number;
  baseline_mae: number;
  /** Mean predicted and mean volunteer fraction over those galaxies: whether the model is biased. */
  mean_predicted: number;
  mean_volunteers: number;
}

export interface QuestionAccuracy {
  question: string;
  /** Galaxies whose leading answer had fraction > threshold. */
  n: number;
  accuracy: number;
}

export interface Evaluation {
  schema: string;
  galaxies: number;
  answers: AnswerMetric[];
  mean_mae: number;
  mean_baseline_mae: number;
  threshold: number;
  questions: QuestionAccuracy[];
}

/** Vote fractions per question from counts ([n, answers] of one schema); NaN where unanswered. */
export function fractionsFromCounts(counts: Float32Array | Float64Array, n: number, space: AnswerSpace, schema: string): Float64Array {
  const cols = space.indicesOf(schema);
  const A = cols.length;
  const out = new Float64Array(n * A).fill(NaN);
  const groups = space.groups.filter((g) => cols.includes(g[0]!)).map((g) => g.map((c) => cols.indexOf(c)));
  for (let i = 0; i < n; i++) {
    for (const g of groups) {
      const total = g.reduce((s, j) => s + counts[i * A + j]!, 0);
      if (total > 0) g.forEach((j) => (out[i * A + j] = counts[i * A + j]! / total));
    }
  }
  return out;
}

/** Metrics of predicted against volunteer fractions ([n, answers] each, NaN = unanswered). */
export function compareFractions(
  space: AnswerSpace,
  schema: string,
  predicted: Float32Array | Float64Array,
  truth: Float64Array,
  trainMean: Float64Array,
  threshold = 0.8,
): Evaluation {
  const cols = space.indicesOf(schema);
  const A = cols.length;
  const n = truth.length / A;
  const answers: AnswerMetric[] = cols.map((c, j) => {
    let sum = 0;
    let base = 0;
    let sumPredicted = 0;
    let sumTruth = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const t = truth[i * A + j]!;
      if (Number.isNaN(t)) continue;
      const p = predicted[i * A + j]!;
      sum += Math.abs(p - t);
      base += Math.abs(trainMean[j]! - t);
      sumPredicted += p;
      sumTruth += t;
      count++;
    }
    const a = space.answers[c]!;
    const mean = (x: number) => (count ? x / count : NaN);
    return { answer: a.answer, question: a.question, n: count, mae: mean(sum), baseline_mae: mean(base), mean_predicted: mean(sumPredicted), mean_volunteers: mean(sumTruth) };
  });
  const scored = answers.filter((a) => a.n > 0);
  const questions: QuestionAccuracy[] = space.groups
    .filter((g) => cols.includes(g[0]!))
    .map((g) => {
      const js = g.map((c) => cols.indexOf(c));
      let right = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const t = js.map((j) => truth[i * A + j]!);
        if (t.some(Number.isNaN)) continue;
        const best = t.indexOf(Math.max(...t));
        if (t[best]! <= threshold) continue;
        const p = js.map((j) => predicted[i * A + j]!);
        if (p.indexOf(Math.max(...p)) === best) right++;
        count++;
      }
      return { question: space.answers[g[0]!]!.question, n: count, accuracy: count ? right / count : NaN };
    });
  return {
    schema,
    galaxies: n,
    answers,
    mean_mae: scored.reduce((s, a) => s + a.mae, 0) / scored.length,
    mean_baseline_mae: scored.reduce((s, a) => s + a.baseline_mae, 0) / scored.length,
    threshold,
    questions,
  };
}

/** Mean volunteer fraction of each answer over galaxies that answered its question. */
export function meanFractions(truth: Float64Array, answers: number): Float64Array {
  const n = truth.length / answers;
  const out = new Float64Array(answers);
  for (let j = 0; j < answers; j++) {
    let s = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const t = truth[i * answers + j]!;
      if (!Number.isNaN(t)) {
        s += t;
        c++;
      }
    }
    out[j] = c ? s / c : NaN;
  }
  return out;
}
