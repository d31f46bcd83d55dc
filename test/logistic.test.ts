import { strict as assert } from 'node:assert';
import { seededRng } from '../src/data/augment';
import { Embeddings } from '../src/data/embeddings';
import { balancedSplit, probeCurve } from '../src/finetune/experiment';
import { chooseC, fitLinearProbe, fitLogistic, fitStandardiser, probeScores, stratifiedFolds } from '../src/finetune/logistic';

/** n rows of `dim` Gaussian features; labels from a noisy linear rule on the first 3 (seeded). */
function problem(n: number, dim: number, seed: number): { x: Float64Array; y: number[] } {
  const rng = seededRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const x = Float64Array.from({ length: n * dim }, () => 2 * gauss() + 0.5);
  const y = Array.from({ length: n }, (_, i) => (x[i * dim]! - x[i * dim + 1]! + 0.5 * x[i * dim + 2]! + gauss() > 0.5 ? 1 : 0));
  return { x, y };
}

/** The gradient of C·Σ log-loss + ½‖w‖² (intercept unpenalised) at the fit, written out directly. */
function gradient(x: Float64Array, dim: number, y: number[], c: number, w: Float64Array, b: number): number[] {
  const g = Array.from(w);
  let gb = 0;
  y.forEach((yi, i) => {
    let t = b;
    for (let j = 0; j < dim; j++) t += x[i * dim + j]! * w[j]!;
    const e = c * (1 / (1 + Math.exp(-t)) - yi);
    for (let j = 0; j < dim; j++) g[j]! += e * x[i * dim + j]!;
    gb += e;
  });
  return [...g, gb];
}

describe('logistic regression (the benchmark linear head)', () => {
  it('solves a hand-checked problem: two points at ±1', () => {
    // By symmetry b = 0, and the optimum satisfies w = 2C·σ(−w): for C = 1, w = 0.6748316… (bisection).
    const m = fitLogistic(Float64Array.from([1, -1]), 1, [1, 0], { c: 1 });
    assert.ok(Math.abs(m.weights[0]! - 0.6748316143423994) < 1e-9, `w = ${m.weights[0]}`);
    assert.ok(Math.abs(m.intercept) < 1e-9, `b = ${m.intercept}`);
    assert.ok(m.converged);
  });

  for (const [n, dim] of [
    [80, 6],
    [30, 200],
  ] as const) {
    it(`reaches the optimum (zero gradient), ${n} rows of ${dim} features${dim > n ? ' (fitted in the span of the rows)' : ''}`, () => {
      const { x, y } = problem(n, dim, 3);
      for (const c of [1e-3, 1, 100]) {
        const m = fitLogistic(x, dim, y, { c });
        assert.ok(m.converged, `C = ${c} did not converge`);
        const g = gradient(x, dim, y, c, m.weights, m.intercept);
        const scale = Math.max(1, ...Array.from(m.weights, Math.abs));
        assert.ok(Math.max(...g.map(Math.abs)) < 1e-6 * scale, `C = ${c}: gradient ${Math.max(...g.map(Math.abs))}`);
      }
    });
  }

  it('deals stratified folds: disjoint, covering, both classes in each', () => {
    const y = [...new Array<number>(13).fill(1), ...new Array<number>(13).fill(0)];
    const folds = stratifiedFolds(y, 5, 0);
    assert.deepEqual(folds.flat().sort((a, b) => a - b), y.map((_, i) => i));
    for (const f of folds) {
      const pos = f.filter((i) => y[i] === 1).length;
      assert.ok(pos >= 2 && pos <= 3 && f.length - pos >= 2 && f.length - pos <= 3, `fold ${f.join(',')}`);
    }
  });

  it('chooses C from the grid, with no more folds than the smaller class has rows', () => {
    const { x, y } = problem(40, 8, 5);
    const y3 = y.map((_, i) => (i < 3 ? 1 : 0));
    const cv = chooseC(x, 8, y3, { grid: [0.01, 0.1, 1], folds: 5 });
    assert.equal(cv.folds, 3);
    assert.ok(cv.grid.includes(cv.c));
    assert.equal(cv.logLoss.length, 3);
    assert.throws(() => chooseC(x, 8, y.map((_, i) => (i === 0 ? 1 : 0))), /at least 2 rows of each class/);
  });

  it('the probe standardises on its training rows: the same fit whatever scale the features come in', () => {
    const { x, y } = problem(60, 5, 9);
    const scaled = x.map((v, k) => v * (k % 5 === 0 ? 1000 : 0.01) + 7);
    const a = fitLinearProbe(x, 5, y);
    const b = fitLinearProbe(scaled, 5, y);
    assert.equal(a.cv.c, b.cv.c);
    const pa = probeScores(a, x);
    const pb = probeScores(b, scaled);
    pa.forEach((p, i) => assert.ok(Math.abs(p - pb[i]!) < 1e-9, `row ${i}: ${p} against ${pb[i]}`));
    assert.deepEqual(fitStandardiser(Float64Array.from([2, 2, 2]), 1).scale, Float64Array.from([1]));
  });

  describe('the test rows never reach the chooser or the fit', () => {
    const n = 120;
    const dim = 150;
    const { x, y } = problem(n, dim, 11);
    const features: Embeddings = { ids: y.map((_, i) => `g${i}`), vectors: Float32Array.from(x), dim };
    const split = balancedSplit(y, 15, 0);
    const options = { start: 'synthetic', counts: [8, 20], repeats: 3, cv: { grid: [0.001, 0.01, 0.1, 1, 10] } };
    const base = probeCurve(features, y, split, options);

    it('flipped test labels: the same C, cross-validation losses and test scores; accuracy mirrored', () => {
      const flipped = y.map((v, i) => (split.test.includes(i) ? 1 - v : v));
      const other = probeCurve(features, flipped, split, options);
      base.forEach((r, k) => {
        const o = other[k]!;
        assert.equal(o.c, r.c);
        assert.deepEqual(o.cv.logLoss, r.cv.logLoss);
        assert.deepEqual(o.scores, r.scores);
        assert.ok(Math.abs(o.accuracy - (1 - r.accuracy)) < 1e-12);
        assert.ok(Math.abs(o.auc - (1 - r.auc)) < 1e-12);
      });
    });

    it('test features replaced by noise: the same C and cross-validation losses', () => {
      const rng = seededRng(99);
      const noisy = Float32Array.from(features.vectors);
      for (const i of split.test) for (let j = 0; j < dim; j++) noisy[i * dim + j] = 50 * rng();
      const other = probeCurve({ ...features, vectors: noisy }, y, split, options);
      base.forEach((r, k) => {
        assert.equal(other[k]!.c, r.c);
        assert.deepEqual(other[k]!.cv.logLoss, r.cv.logLoss);
      });
    });

    it('learns the rule: better than chance with 20 of each class', () => {
      const at20 = base.filter((r) => r.n === 20);
      assert.ok(at20.reduce((s, r) => s + r.auc, 0) / at20.length > 0.6, `AUC ${at20.map((r) => r.auc.toFixed(2)).join(', ')}`);
    });
  });
});
