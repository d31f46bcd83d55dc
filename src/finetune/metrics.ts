/**
 * Scores of a fine-tuned classifier or regressor, on plain arrays: accuracy at a threshold, ROC AUC
 * (the probability that a random positive scores above a random negative, ties counting half),
 * regression errors, and the mean and sample standard deviation of repeated runs.
 */

/** Fraction of examples whose score falls on the right side of `threshold` (labels 0/1). */
export function binaryAccuracy(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold = 0.5): number {
  checkLengths(labels, scores);
  let right = 0;
  for (let i = 0; i < labels.length; i++) if ((scores[i]! >= threshold ? 1 : 0) === (labels[i]! > 0.5 ? 1 : 0)) right++;
  return labels.length ? right / labels.length : NaN;
}

/**
 * ROC AUC by ranks (Mann-Whitney U), with tied scores sharing their average rank. NaN when the
 * labels hold only one class.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkLengths(labels, scores);
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = avg;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i]! > 0.5) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Accuracy of class predictions (argmax of each row of `probs`, [n, classes] row-major). */
export function multiclassAccuracy(labels: ArrayLike<number>, probs: ArrayLike<number>, classes: number): number {
  if (probs.length !== labels.length * classes) throw new Error(`galmorph: ${labels.length} labels but ${probs.length / classes} rows of probabilities`);
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
    if (best === labels[i]) right++;
  }
  return labels.length ? right / labels.length : NaN;
}

export interface RegressionScores {
  mae: number;
  rmse: number;
  /** Coefficient of determination against the targets' own mean. */
  r2: number;
}

export function regressionScores(targets: ArrayLike<number>, predictions: ArrayLike<number>): RegressionScores {
  checkLengths(targets, predictions);
  const n = targets.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i]! / n;
  let abs = 0;
  let sq = 0;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const e = predictions[i]! - targets[i]!;
    abs += Math.abs(e);
    sq += e * e;
    tot += (targets[i]! - mean) ** 2;
  }
  return { mae: abs / n, rmse: Math.sqrt(sq / n), r2: tot > 0 ? 1 - sq / tot : NaN };
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`galmorph: ${a.length} labels but ${b.length} predictions`);
}
