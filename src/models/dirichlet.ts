/**
 * Zoobot's loss: the volunteers' votes on each question are a draw from a Dirichlet-multinomial
 * whose concentrations the network predicts. For one question with vote counts k (N = Σk) and
 * concentrations α (A = Σα):
 *   log p(k | α) = lnΓ(N+1) − Σ lnΓ(k_i+1) + lnΓ(A) − lnΓ(N+A) + Σ [lnΓ(k_i+α_i) − lnΓ(α_i)]
 * The loss is −log p summed over questions. A question with no votes contributes exactly 0 (every
 * term cancels), so galaxies from several campaigns share one output layer: each has counts only
 * for its own campaign's answers.
 */
import * as tf from '@tensorflow/tfjs';

// Lanczos approximation (g = 7, 9 terms; Numerical Recipes / Boost), accurate to about 1e-15 in
// double precision for x ≥ 0.5; tfjs has no lgamma op.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/**
 * ln Γ(x), elementwise, for x ≥ 0.5 (the loss only evaluates it at values ≥ 1). Built from tfjs ops,
 * so it has gradients (the digamma function) through autodiff.
 */
export function lgamma(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.sub(x, 1);
    let series: tf.Tensor = tf.fill(x.shape, LANCZOS[0]!);
    for (let i = 1; i < LANCZOS.length; i++) series = tf.add(series, tf.div(LANCZOS[i]!, tf.add(z, i)));
    const t = tf.add(z, LANCZOS_G + 0.5);
    return tf.add(tf.sub(tf.add(HALF_LOG_TWO_PI, tf.mul(tf.add(z, 0.5), tf.log(t))), t), tf.log(series));
  });
}

/** A [answers, questions] 0/1 matrix: which question each answer belongs to. */
export function questionMatrix(groups: number[][], answers: number): tf.Tensor2D {
  const m = new Float32Array(answers * groups.length);
  groups.forEach((g, q) => g.forEach((a) => (m[a * groups.length + q] = 1)));
  return tf.tensor2d(m, [answers, groups.length]);
}

/**
 * Dirichlet-multinomial negative log-likelihood per galaxy, summed over questions.
 * @param counts [batch, answers] vote counts (zeros where a galaxy has no votes)
 * @param concentrations [batch, answers] predicted α > 0
 * @param questions [answers, questions] from `questionMatrix`
 * @returns [batch]
 */
export function dirichletMultinomialNLL(counts: tf.Tensor2D, concentrations: tf.Tensor2D, questions: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const n = tf.matMul(counts, questions); // votes per question
    const a = tf.matMul(concentrations, questions); // concentration per question
    const perQuestion = tf.sub(tf.add(lgamma(tf.add(n, 1)), lgamma(a)), lgamma(tf.add(n, a)));
    const perAnswer = tf.sub(tf.sub(lgamma(tf.add(counts, concentrations)), lgamma(concentrations)), lgamma(tf.add(counts, 1)));
    const logp = tf.add(perQuestion, tf.matMul(perAnswer, questions)); // [b, q]
    // Unanswered questions cancel only up to float32 round-off of lnΓ(1): mask them to exactly 0.
    const answered = tf.cast(tf.greater(n, 0), 'float32');
    return tf.neg(tf.sum(tf.mul(logp, answered), 1)) as tf.Tensor1D;
  });
}

/** Expected vote fraction of each answer within its question: α_i / Σ_question α. */
export function expectedFractions(concentrations: tf.Tensor2D, questions: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const perQuestion = tf.matMul(concentrations, questions); // [b, q]
    const total = tf.matMul(perQuestion, questions, false, true); // back to [b, answers]
    return tf.div(concentrations, total) as tf.Tensor2D;
  });
}
