import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedImprovement, normalCdf, topK } from '../src/anomaly/acquisition';
import { GaussianProcessRegressor, KernelParams, rationalQuadratic } from '../src/anomaly/gaussian-process';
import { averagePathLength, IsolationForest } from '../src/anomaly/isolation-forest';
import { localOutlierFactor } from '../src/anomaly/local-outlier-factor';
import { precisionAt, rankingMetrics, recallAt } from '../src/anomaly/metrics';
import { nelderMead } from '../src/anomaly/nelder-mead';
import { fitTrend, PersonalisedAnomalyFinder, reduceForAnomalies } from '../src/anomaly/personalised';
import { RepresentationPca } from '../src/representations/pca';
import { simulatePersonalised, unsupervisedBaselines } from '../src/anomaly/simulate';
import { seededRng } from '../src/data/augment';

const reference = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/anomaly/sklearn-reference.json'), 'utf8'));

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

/** Points in `dim` dimensions: a broad cloud and, for `interesting` of them, a shifted cluster. */
function cloud(n: number, dim: number, interesting: number, seed = 1): { ids: string[]; x: Float64Array; positives: Set<string> } {
  const rng = seededRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng() || 1e-12)) * Math.cos(2 * Math.PI * rng());
  const x = new Float64Array(n * dim);
  for (let i = 0; i < n * dim; i++) x[i] = gauss();
  for (let i = 0; i < interesting; i++) x[i * dim] += 4;
  const ids = Array.from({ length: n }, (_, i) => `g${i}`);
  return { ids, x, positives: new Set(ids.slice(0, interesting)) };
}

describe('Gaussian-process regression', () => {
  const p: KernelParams = { amplitude: 2, lengthScale: 0.7, alpha: 1.5, noise: 0.1 };

  it('matches the closed form for two training points', () => {
    // Hand algebra: K = [[a+s, k], [k, a+s]], K⁻¹ = [[a+s, -k], [-k, a+s]] / det.
    const x = Float64Array.from([0, 1]);
    const y = [1, -1];
    const gp = new GaussianProcessRegressor({ kernel: p, optimize: false, normalizeY: false }).fit(x, y, 1);
    const d = p.amplitude + p.noise + 1e-10;
    const k = p.amplitude * Math.pow(1 + 1 / (2 * p.alpha * p.lengthScale ** 2), -p.alpha);
    const det = d * d - k * k;
    const w = [(d * y[0]! - k * y[1]!) / det, (-k * y[0]! + d * y[1]!) / det];
    const star = 0.3;
    const ks = [rationalQuadratic(star ** 2, p), rationalQuadratic((1 - star) ** 2, p)];
    const mean = ks[0]! * w[0]! + ks[1]! * w[1]!;
    const quad = (d * ks[0]! ** 2 - 2 * k * ks[0]! * ks[1]! + d * ks[1]! ** 2) / det;
    const { mean: m, std: s } = gp.predict(Float64Array.from([star]));
    close(m[0]!, mean, 1e-10, 'mean');
    close(s[0]!, Math.sqrt(p.amplitude + p.noise - quad), 1e-10, 'std');
    const lml = -0.5 * (y[0]! * w[0]! + y[1]! * w[1]!) - 0.5 * Math.log(det) - Math.log(2 * Math.PI);
    close(gp.logMarginalLikelihood, lml, 1e-10, 'log marginal likelihood');
  });

  it('agrees with scikit-learn for a fixed kernel (normalised targets)', () => {
    const g = reference.gp;
    const gp = new GaussianProcessRegressor({ kernel: g.fixed, optimize: false }).fit(Float64Array.from(g.x), g.y, g.dim);
    const { mean, std } = gp.predict(Float64Array.from(g.xs));
    g.mean.forEach((v: number, i: number) => close(mean[i]!, v, 1e-8, `mean ${i}`));
    g.std.forEach((v: number, i: number) => close(std[i]!, v, 1e-8, `std ${i}`));
    close(gp.logMarginalLikelihood, g.logMarginalLikelihood, 1e-8, 'log marginal likelihood');
  });

  it('fits hyperparameters by marginal likelihood as well as scikit-learn', () => {
    const g = reference.gp;
    const gp = new GaussianProcessRegressor({ restarts: 3 }).fit(Float64Array.from(g.x), g.y, g.dim);
    // Same objective: our value at scikit-learn's optimum equals theirs, and our optimum is no worse.
    const atTheirs = new GaussianProcessRegressor({ kernel: g.optimum, optimize: false }).fit(Float64Array.from(g.x), g.y, g.dim);
    close(atTheirs.logMarginalLikelihood, g.optimumLogMarginalLikelihood, 1e-6, 'likelihood at the scikit-learn optimum');
    assert.ok(gp.logMarginalLikelihood >= g.optimumLogMarginalLikelihood - 1e-3, `${gp.logMarginalLikelihood} < ${g.optimumLogMarginalLikelihood}`);
    const fixed = new GaussianProcessRegressor({ optimize: false }).fit(Float64Array.from(g.x), g.y, g.dim);
    assert.ok(gp.logMarginalLikelihood > fixed.logMarginalLikelihood);
  });

  it('round-trips through toJSON and load', () => {
    const { x } = cloud(30, 3, 0);
    const y = Array.from({ length: 30 }, (_, i) => x[i * 3]!);
    const gp = new GaussianProcessRegressor().fit(x, y, 3);
    const again = GaussianProcessRegressor.load(JSON.parse(JSON.stringify(gp.toJSON())));
    const probe = cloud(5, 3, 0, 9).x;
    assert.deepEqual(Array.from(again.predict(probe).mean), Array.from(gp.predict(probe).mean));
    assert.throws(() => GaussianProcessRegressor.load({ kind: 'other' } as never), /not a saved Gaussian process/);
  });

  it('names the fault in bad input', () => {
    assert.throws(() => new GaussianProcessRegressor().fit(new Float64Array(3), [1, 2], 2), /2 targets need 4 feature values/);
    assert.throws(() => new GaussianProcessRegressor().fit(new Float64Array(4), [1, NaN], 2), /target 1 is not a number/);
  });
});

describe('Nelder-Mead', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const m = nelderMead(([a, b]) => (1 - a!) ** 2 + 100 * (b! - a! * a!) ** 2, [-1.2, 1], { maxEvaluations: 2000, tolerance: 1e-14 });
    close(m.x[0]!, 1, 1e-3, 'x');
    close(m.x[1]!, 1, 1e-3, 'y');
  });
});

describe('expected improvement', () => {
  it('matches hand-computed values', () => {
    // Φ(-0.5) = 0.3085375387, φ(0.5) = 0.3520653268, Φ(1) = 0.8413447461, φ(1) = 0.2419707245.
    const ei = expectedImprovement([1, 2, 0.5, 3], [1, 0.5, 0, 0], 1, 0.5);
    close(ei[0]!, -0.5 * 0.3085375387 + 0.3520653268, 1e-7, 'EI, gain below zero');
    close(ei[1]!, 0.5 * 0.8413447461 + 0.5 * 0.2419707245, 1e-7, 'EI, gain above zero');
    assert.equal(ei[2], 0);
    assert.equal(ei[3], 1.5);
    close(normalCdf(1.959963985), 0.975, 1e-7, 'Φ(1.96)');
  });

  it('topK orders by value then index', () => {
    assert.deepEqual(topK([0.1, 0.5, 0.5, 0.9], 3), [3, 1, 2]);
  });
});

describe('unsupervised baselines', () => {
  it('isolation forest scores clear outliers highest', () => {
    const pts = Float64Array.from(reference.lof.points);
    const forest = IsolationForest.fit(pts, reference.lof.dim, { seed: 3 });
    const score = forest.score(pts);
    assert.deepEqual(topK(score, 3).sort(), [0, 1, 2]);
    close(averagePathLength(256), 2 * (Math.log(255) + 0.5772156649) - (2 * 255) / 256, 1e-9, 'c(256)');
    const again = IsolationForest.load(JSON.parse(JSON.stringify(forest.toJSON())));
    assert.deepEqual(Array.from(again.score(pts)), Array.from(score));
  });

  it('local outlier factor agrees with scikit-learn', () => {
    const l = reference.lof;
    const lof = localOutlierFactor(Float64Array.from(l.points), l.dim, { neighbours: l.neighbours });
    l.lof.forEach((v: number, i: number) => close(lof[i]!, v, 1e-6, `LOF of point ${i}`));
  });
});

describe('ranking metrics', () => {
  it('precision, recall and average precision by hand', () => {
    const ranked = ['a', 'x', 'b', 'y', 'z'];
    const pos = new Set(['a', 'b', 'c']);
    assert.equal(precisionAt(ranked, pos, 2), 0.5);
    assert.equal(recallAt(ranked, pos, 3), 2 / 3);
    close(rankingMetrics(ranked, pos).average_precision, (1 + 2 / 3) / 2, 1e-12, 'AP');
  });
});

describe('personalised anomaly finder', () => {
  const { ids, x, positives } = cloud(300, 5, 15);
  const scores = new Map(ids.map((id) => [id, positives.has(id) ? 5 : 0]));

  it('starts random, then never proposes a scored galaxy, and ranks scored galaxies by their score when asked', () => {
    const finder = new PersonalisedAnomalyFinder(ids, x, 5, { seed: 2 });
    const first = finder.next();
    assert.equal(first.length, 10);
    for (const id of first) finder.label(id, scores.get(id)!);
    const second = finder.next();
    assert.equal(second.filter((id) => first.includes(id)).length, 0);
    for (const id of second) finder.label(id, scores.get(id)!);
    const ranked = finder.ranking({ knownScores: true });
    const dull = ranked.filter((g) => g.label === 0);
    const rest = ranked.filter((g) => g.label !== 0);
    const value = (g: { label?: number; predicted: number }) => g.label ?? g.predicted;
    assert.ok(rest.every((g, i) => i === 0 || value(g) <= value(rest[i - 1]!)), 'by known score, else by prediction');
    assert.ok(dull.length > 0 && rest.some((g) => g.label === undefined && g.predicted < 0), 'some unscored galaxies are predicted below 0, for the next check to mean anything');
    assert.ok(dull.every((g) => rest.every((p) => p.rank < g.rank)), 'galaxies scored 0 below every unscored one, even those predicted below 0');
    assert.ok(dull.every((g, i) => i === 0 || g.predicted <= dull[i - 1]!.predicted), 'scored 0: by prediction among themselves');
    const modelOnly = finder.ranking({ knownScores: false });
    assert.ok(modelOnly.every((g, i) => i === 0 || g.predicted <= modelOnly[i - 1]!.predicted));
    assert.throws(() => finder.label('nope', 3), /galaxy 'nope' is not among the 300/);
  });

  it('with an unsupervised prior, ranks by it while the scores say nothing, and follows the scores where they disagree with it', () => {
    const prior = ids.map((_, i) => (i % 7) / 7); // unrelated to the interesting cluster
    const finder = new PersonalisedAnomalyFinder(ids, x, 5, { seed: 1, prior, gp: { optimize: false } });
    const dull = ids.filter((id) => !positives.has(id)).slice(0, 12);
    for (const id of dull) finder.label(id, 0);
    const flat = finder.ranking({ knownScores: false });
    const unscored = flat.filter((g) => g.label === undefined);
    const priorOf = (id: string) => prior[ids.indexOf(id)]!;
    assert.ok(unscored.every((g, i) => i === 0 || priorOf(g.id) <= priorOf(unscored[i - 1]!.id)), 'all scores 0: the prior decides the order');
    assert.deepEqual(fitTrend([0, 1, 2, 3], [1, 3, 5, 7]), { a: 1, b: 2 });
    assert.deepEqual(fitTrend([0, 1, 2, 3], [7, 5, 3, 1]), { a: 4, b: 0 }, 'the slope is never negative');
    const found = ids.filter((id) => positives.has(id)).slice(0, 5);
    for (const id of found) finder.label(id, 5);
    const learnt = finder.ranking({ knownScores: false }).filter((g) => g.label === undefined).slice(0, 20);
    const hits = learnt.filter((g) => positives.has(g.id)).length;
    assert.ok(hits >= 10, `the scores lead once they say something: ${hits} of the top 20 are interesting`);
    assert.throws(() => new PersonalisedAnomalyFinder(ids, x, 5, { prior: [1, 2] }), /the prior has 2 scores for 300 galaxies/);
    const byForest = new PersonalisedAnomalyFinder(ids, x, 5, { seed: 3, priorFrom: 'isolation-forest', gp: { optimize: false } });
    for (const id of dull) byForest.label(id, 0);
    const forest = IsolationForest.fit(x, 5, { seed: 3 }).score(x);
    const first = byForest.ranking({ knownScores: false }).find((g) => g.label === undefined)!;
    const unscoredForest = ids.map((id, i) => ({ id, s: forest[i]! })).filter((g) => !dull.includes(g.id));
    assert.equal(first.id, unscoredForest.sort((a, b) => b.s - a.s)[0]!.id, "priorFrom 'isolation-forest': the forest's most anomalous unscored galaxy leads");
  });

  it('reduces each embeddings object once, and afresh when its vectors change', () => {
    const rng = seededRng(3);
    const e = { ids: Array.from({ length: 60 }, (_, i) => `r${i}`), vectors: Float32Array.from({ length: 60 * 8 }, () => rng() - 0.5), dim: 8 };
    let fits = 0;
    const fit = RepresentationPca.fit;
    RepresentationPca.fit = (...args: Parameters<typeof fit>) => (fits++, fit.apply(RepresentationPca, args));
    try {
      const first = reduceForAnomalies(e, 4);
      assert.equal(reduceForAnomalies(e, 4).features, first.features, 'the same array for the same vectors');
      assert.equal(fits, 1);
      const copy = reduceForAnomalies({ ...e, vectors: Float32Array.from(e.vectors) }, 4);
      assert.deepEqual(Array.from(copy.features), Array.from(first.features), 'a fresh fit of equal vectors gives the same features');
      e.vectors[5] = 3; // changed in place
      const changed = reduceForAnomalies(e, 4);
      assert.equal(fits, 3);
      assert.notDeepEqual(Array.from(changed.features), Array.from(first.features));
      reduceForAnomalies(e, 3);
      assert.equal(fits, 4, 'another number of components is another reduction');
    } finally {
      RepresentationPca.fit = fit;
    }
  });

  it('refits when a galaxy is scored again', () => {
    const finder = new PersonalisedAnomalyFinder(ids, x, 5, { seed: 4, gp: { optimize: false } });
    for (const id of ids.slice(0, 12)) finder.label(id, scores.get(id)!);
    const before = finder.ranking().find((g) => g.id === 'g0')!;
    finder.label('g0', 0);
    const after = finder.ranking().find((g) => g.id === 'g0')!;
    assert.equal(after.label, 0);
    assert.ok(after.predicted < before.predicted, `${after.predicted} vs ${before.predicted}`);
  });

  it('finds the interesting cluster from the simulated researcher far better than chance, with the same rows on worker threads', async () => {
    const e = { ids, vectors: Float32Array.from(x), dim: 5 };
    const task = { name: 'synthetic', scores, positives };
    let calls = 0;
    const rows = await simulatePersonalised(e, task, { budgets: [20, 40], repeats: 3, components: 5, workers: 1 });
    const threaded = await simulatePersonalised(e, task, { budgets: [20, 40], repeats: 3, components: 5, workers: 2, onProgress: () => calls++ });
    assert.deepEqual(threaded, rows, 'repeats on 2 worker threads give exactly the rows of repeats run in turn');
    assert.equal(calls, 3, 'progress after each repeat');
    await assert.rejects(simulatePersonalised(e, task, { budgets: [20], repeats: 1, workers: 0.5 }), /workers must be a whole number from 1, got 0.5/);
    const ap = rows.find((r) => r.n_labels === 40 && r.ranking === 'model-only' && r.metric === 'average_precision')!;
    const random = unsupervisedBaselines(e, task, { repeats: 2, components: 5 }).find((r) => r.method === 'random' && r.metric === 'average_precision')!;
    assert.equal(ap.repeats, 3);
    assert.ok(ap.mean > 0.8, `AP ${ap.mean}`);
    assert.ok(random.mean < 0.3, `random AP ${random.mean}`);
  });
});
