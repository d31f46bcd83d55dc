import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { dirichletMultinomialNLL, expectedFractions, lgamma, questionMatrix } from '../src/models/dirichlet';

/** ln Γ in double precision by another method: upward recurrence, then Stirling's series. */
function lgammaRef(x: number): number {
  let shift = 0;
  while (x < 15) {
    shift += Math.log(x);
    x += 1;
  }
  const x2 = x * x;
  const series = 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x * x2 * x2) - 1 / (1680 * x * x2 * x2 * x2);
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/**
 * −log p of one question's votes by the Pólya urn, with no Γ function at all: the probability of
 * one ordering of the draws times the number of orderings N!/Π k_i!.
 */
function nllPolya(k: number[], alpha: number[]): number {
  const total = alpha.reduce((a, b) => a + b, 0);
  let logp = 0;
  let drawn = 0;
  k.forEach((ki, i) => {
    for (let j = 0; j < ki; j++) {
      logp += Math.log(alpha[i]! + j) - Math.log(total + drawn);
      drawn++;
    }
  });
  const logFact = (n: number) => Array.from({ length: n }, (_, i) => Math.log(i + 1)).reduce((a, b) => a + b, 0);
  return -(logp + logFact(drawn) - k.reduce((s, ki) => s + logFact(ki), 0));
}

describe('Dirichlet-multinomial loss', () => {
  before(() => initBackend('wasm'));

  it('lgamma matches an independent double-precision reference from 1 to 500', async () => {
    const xs = [1, 1.5, 2, 2.5, 3.7, 5, 10, 17.25, 33, 64.5, 101, 150, 237.3, 500];
    const got = await lgamma(tf.tensor1d(xs)).data();
    xs.forEach((x, i) => {
      const ref = lgammaRef(x);
      // float32: relative precision ~1e-7 of the value, and lnΓ is 0 at 1 and 2
      assert.ok(Math.abs(got[i]! - ref) <= 2e-6 * Math.max(1, Math.abs(ref)), `lgamma(${x}) = ${got[i]} vs ${ref}`);
    });
    // exact values: lnΓ(n) = ln (n−1)!, lnΓ(½) = ln √π
    assert.ok(Math.abs(lgammaRef(7) - Math.log(720)) < 1e-12);
    assert.ok(Math.abs(lgammaRef(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-12);
  });

  it('equals the Pólya-urn probability of the votes, question by question, and ignores unanswered questions', async () => {
    // two questions: 3 answers, then 2 answers
    const groups = [[0, 1, 2], [3, 4]];
    const counts = [
      [12, 3, 0, 2, 1],
      [0, 0, 1, 0, 0],
      [5, 5, 5, 0, 0], // second question unanswered
    ];
    const alpha = [
      [20.5, 3.2, 1.1, 7, 2],
      [1.5, 80, 2.5, 3, 99],
      [10, 10, 10, 1.01, 100.9],
    ];
    const q = questionMatrix(groups, 5);
    const nll = await dirichletMultinomialNLL(tf.tensor2d(counts), tf.tensor2d(alpha), q).data();
    counts.forEach((k, b) => {
      const ref = groups.reduce((s, g) => s + (g.some((a) => k[a]! > 0) ? nllPolya(g.map((a) => k[a]!), g.map((a) => alpha[b]![a]!)) : 0), 0);
      assert.ok(Math.abs(nll[b]! - ref) < 2e-4 * Math.max(1, Math.abs(ref)), `galaxy ${b}: ${nll[b]} vs ${ref}`);
    });
    // no votes at all: exactly zero
    const none = await dirichletMultinomialNLL(tf.zeros([1, 5]) as tf.Tensor2D, tf.tensor2d([alpha[0]!]), q).data();
    assert.ok(none[0] === 0, `${none[0]}`); // -0 counts: === treats it as 0
  });

  it('has the gradient of its finite differences with respect to the concentrations', async () => {
    const groups = [[0, 1, 2], [3, 4]];
    const k = [7, 2, 1, 3, 6];
    const alpha = [4.2, 1.7, 12.5, 2.2, 30.1];
    const q = questionMatrix(groups, 5);
    const grad = await tf.grad((a: tf.Tensor) => tf.sum(dirichletMultinomialNLL(tf.tensor2d([k]), a as tf.Tensor2D, q)))(tf.tensor2d([alpha])).data();
    const ref = (a: number[]) => groups.reduce((s, g) => s + nllPolya(g.map((i) => k[i]!), g.map((i) => a[i]!)), 0);
    alpha.forEach((_, i) => {
      const h = 1e-5;
      const up = [...alpha];
      const down = [...alpha];
      up[i]! += h;
      down[i]! -= h;
      const fd = (ref(up) - ref(down)) / (2 * h);
      assert.ok(Math.abs(grad[i]! - fd) < 1e-3 * Math.max(1, Math.abs(fd)), `d/dα${i}: ${grad[i]} vs ${fd}`);
    });
  });

  it('expected fractions sum to one within each question', async () => {
    const f = await expectedFractions(tf.tensor2d([[1, 3, 4, 10, 30]]), questionMatrix([[0, 1, 2], [3, 4]], 5)).data();
    const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;
    assert.ok(close(f[0]!, 1 / 8) && close(f[1]!, 3 / 8) && close(f[2]!, 0.5) && close(f[3]!, 0.25) && close(f[4]!, 0.75));
  });
});
