// Source of notebooks/03-anomaly.ipynb (regenerate with `npm run notebooks`).
// %% [markdown]
// # Personalised anomaly detection
//
// The paper's second tool (Walmsley et al. 2022, section 5): "anomalous" means different things to
// different researchers, so rank galaxies by what *this* researcher finds interesting, learnt from a
// few hundred of their scores. Representations are reduced to 40 principal components; a Gaussian
// process (rational-quadratic plus white-noise kernel, hyperparameters fitted by marginal
// likelihood) regresses the researcher's 0-5 scores; expected improvement (trade-off 0.5) picks the
// next 10 galaxies to show, after 10 random ones.
//
// Beyond the paper, by default (`PRIOR` below): the process starts from an isolation forest's
// anomaly score on the same components. It models the scores as a + b·(forest score) plus the
// process, b ≥ 0 fitted to the labels so far, and ranks ties by the forest: while the labels say
// nothing (a rare class, few labels) the ranking is the unsupervised one, where Astronomaly starts,
// and the labels take over as they come. `PRIOR = "none"` is the paper's finder (the method then
// reads `gp-active` instead of `gp-active+iforest`).
//
// The researcher is simulated, as in the paper:
// - **GZ2 odd**: score = round(5 × fraction of volunteers answering "yes, something odd"); positives
//   are galaxies with that fraction > 0.9 (44 of the 1,000 in `gz2-hart16-1000`).
// - **GZ1 mergers**: in `gz1-sdss-4019`, score 5 for the 115 GZ1 mergers, 0 otherwise.
//
// Metrics over the whole ranking, mean and std over repeats with different random starts (run side
// by side, one per core), at each label budget of the parameter cell (50, 100 and 200 by default):
// `known-scores` ranks the galaxies already scored by their score, those scored 0 last, and the rest
// by the prediction (what the researcher would see), and `model-only` by the prediction alone. Beside them: isolation forest, local outlier factor and a
// random ranking (no labels), on the same 40 components.
//
// The galmorph features come from `models/galmorph-honest`, pretrained without either task's labels:
// no GZ2 "odd" or "odd feature" votes and no GZ1 merger class (its model card lists what was
// excluded), as the paper's encoder never saw its evaluation labels. It did see these galaxies'
// other votes (smooth or featured, edge-on, bars, spirals, bulges, roundness). The ImageNet rows have
// seen no galaxy at all.
// %%
// QUICK (what `npm run reproduce` runs) switches every list below at once; `npm run reproduce --
// --full` (GALMORPH_FULL=1) sets it to false.
const QUICK = process.env.GALMORPH_FULL !== "1";
const REPEATS = QUICK ? 10 : 30;
const BUDGETS = QUICK ? [50, 100, 200] : [50, 100, 200, 400];
const COMPONENTS = 40;
const TRADEOFF = 0.5;
const FEATURES = ["galmorph", "imagenet"] as const;
// "isolation-forest": the finder starts from the forest's score (see above); "none": the paper's finder.
const PRIOR = "isolation-forest" as "isolation-forest" | "none";
// %%
import * as gm from "galmorph";
import { anomalyForm, showBackend, showGalaxies, showHeading, showSettings, save, saveTable } from "galmorph/kernel";

showBackend(await gm.initBackend());
// Written out (not `{ QUICK, … }`): tslab does not resolve shorthand properties naming an earlier cell's variables.
showSettings("03-anomaly", { QUICK: QUICK, REPEATS: REPEATS, BUDGETS: BUDGETS, COMPONENTS: COMPONENTS, TRADEOFF: TRADEOFF, FEATURES: FEATURES, PRIOR: PRIOR });
// The budget the summary, the session and its galaxies are shown at.
const TOP_BUDGET = Math.max(...BUDGETS);
// The encoder behind each feature set (ImageNet: MobileNetV2, as in notebook 02).
const ENCODER = { galmorph: "galmorph", imagenet: "imagenet-mobilenetv2" } as const;
const SIMULATION = { components: COMPONENTS, budgets: BUDGETS, repeats: REPEATS, tradeoff: TRADEOFF, priorFrom: PRIOR };
const METHOD = PRIOR === "none" ? "gp-active" : "gp-active+iforest";
// %% [markdown]
// ## The two simulated researchers
// %%
const gz2 = gm.openDatasetCatalog("gz2-hart16-1000");
const gz1 = gm.openDatasetCatalog("gz1-sdss-4019");
const oddFraction = new Map(gz2.rows.map((r) => [r[gz2.idCol], Number(r.t06_odd_a14_yes_weighted_fraction)]));
const mergers = new Set(gz1.rows.filter((r) => r.gz1_class_name === "merger").map((r) => r[gz1.idCol]));
const gz2Odd: gm.anomaly.ResearcherTask = {
  name: "gz2-odd",
  scores: new Map([...oddFraction].map(([id, f]) => [id, Math.round(5 * f)])),
  positives: new Set([...oddFraction].filter(([, f]) => f > 0.9).map(([id]) => id)),
};
const gz1Mergers: gm.anomaly.ResearcherTask = { name: "gz1-mergers", scores: new Map(gz1.rows.map((r) => [r[gz1.idCol], mergers.has(r[gz1.idCol]) ? 5 : 0])), positives: mergers };
const tasks = [{ dataset: "gz2-hart16-1000", catalog: gz2, task: gz2Odd }, { dataset: "gz1-sdss-4019", catalog: gz1, task: gz1Mergers }];
console.table(tasks.map((t) => ({ task: t.task.name, galaxies: t.catalog.length, positives: t.task.positives.size })));
// %%
await showGalaxies(gz2, {
  ids: [...tasks[0].task.positives].slice(0, 8),
  captions: [...tasks[0].task.positives].slice(0, 8).map((id) => `odd ${oddFraction.get(id)!.toFixed(2)}`),
  columns: 8,
  size: 100,
  heading: "GZ2 positives: volunteers' odd fraction > 0.9",
});
// %% [markdown]
// ## Runs
// For each simulated researcher: the unsupervised baselines, then GP + active learning on each feature
// set. Representations come from the cache that notebook 02 fills (computed here if missing).
// %%
async function runTask(dataset: string, task: gm.anomaly.ResearcherTask): Promise<gm.anomaly.AnomalyRow[]> {
  const feats = Object.fromEntries(await Promise.all(FEATURES.map(async (f) => [f, await gm.datasetEmbeddings(dataset, ENCODER[f])] as const)));
  let t0 = Date.now();
  const rows = gm.anomaly.unsupervisedBaselines(feats.galmorph, task, { components: COMPONENTS, repeats: REPEATS }).map((r) => ({ ...r, method: r.method === "random" ? r.method : `${r.method} (galmorph)` }));
  console.log(`${task.name}: baselines in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const f of FEATURES) {
    t0 = Date.now();
    rows.push(...(await gm.anomaly.simulatePersonalised(feats[f], task, SIMULATION)).map((r) => ({ ...r, method: `${r.method} (${f})` })));
    console.log(`${task.name}: GP + active learning on ${f} features, ${REPEATS} repeats in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return rows;
}
// %%
const rows: gm.anomaly.AnomalyRow[] = [];
for (const { dataset, task } of tasks) rows.push(...(await runTask(dataset, task)));
saveTable(rows, "anomaly", { show: false });
// %% [markdown]
// ## Summary at the largest label budget
// `mean ± std` over the repeats (sample standard deviation, n − 1).
// %%
showHeading(`${TOP_BUDGET} labels, ${REPEATS} repeats`);
const SUMMARY_METRICS = ["precision@10", "precision@50", "precision@200", "recall@200", "average_precision"];
const variants = [
  ...FEATURES.flatMap((f) => ["known-scores", "model-only"].map((ranking) => ({ method: `${METHOD} (${f})`, labels: TOP_BUDGET, ranking }))),
  ...["isolation-forest (galmorph)", "local-outlier-factor (galmorph)", "random"].map((method) => ({ method, labels: 0, ranking: "unsupervised" })),
];
const summary = gm.pivot(rows.map((r) => ({ ...r, labels: r.n_labels })), {
  row: ["task", "method", "labels", "ranking"], column: "metric", value: gm.formatMeanStd, columns: SUMMARY_METRICS,
  rows: tasks.flatMap(({ task }) => variants.map((v) => ({ task: task.name, ...v }))),
});
saveTable(summary, "anomaly-summary", { maxRows: 40 });
// %% [markdown]
// ## Average precision against the number of labels
// Solid: galaxies already scored ranked by their score; dashed: the model's ranking alone; dotted: baselines (no labels).
// %%
for (const { task } of tasks) {
  const ap = rows.filter((r) => r.task === task.name && r.metric === "average_precision");
  const gp = gm.plot.errorBars(ap.filter((r) => r.ranking !== "unsupervised"), {
    x: "n_labels", z: (r) => `GP ${r.method.replace(/^gp-active(\+iforest)? \((.*)\)$/, "$2")}, ${r.ranking}`, tip: ["repeats"],
    style: (r) => ({ dash: r.ranking === "known-scores" ? "solid" : "dash" }),
  });
  const baselines = gm.plot.ruleY(ap.filter((r) => r.ranking === "unsupervised"), { y: "mean", z: "method" });
  const fig = gm.plot.figure([gp, baselines], { title: `${task.name}: average precision of the ranking`, x: "labels given by the researcher", y: { label: "average precision", range: [0, 1] } });
  await save(fig, `anomaly-${task.name}`, { width: 820, height: 460 });
}
// %% [markdown]
// ## What one simulated session shows the researcher
// One GZ2 session on galmorph features, at the largest label budget: the 16 unscored galaxies the
// model ranks highest (captions: volunteers' odd fraction; the researcher has not seen these yet).
// %%
const e2 = await gm.datasetEmbeddings("gz2-hart16-1000", "galmorph");
const finder = gm.anomaly.PersonalisedAnomalyFinder.fromEmbeddings(e2, { components: COMPONENTS, tradeoff: TRADEOFF, seed: 0, priorFrom: PRIOR });
while (finder.labelledCount < TOP_BUDGET) for (const id of finder.next()) finder.label(id, tasks[0].task.scores.get(id)!);
const fresh = finder.ranking({ knownScores: false }).filter((g) => g.label === undefined).slice(0, 16);
console.log(`session: ${[...finder.labelsById().values()].filter((s) => s === 5).length} galaxies scored 5 among the ${finder.labelledCount} shown`);
await showGalaxies(gz2, {
  ids: fresh.map((g) => g.id),
  captions: fresh.map((g) => `pred ${g.predicted.toFixed(1)} · odd ${oddFraction.get(g.id)!.toFixed(2)}`),
  columns: 8,
  size: 100,
  heading: `Top unscored galaxies after ${finder.labelledCount} labels`,
});
// %% [markdown]
// ## Your own session
// The same finder for a real researcher. The labels file is append-only: every score is on disk the
// moment it is given, and reopening the file resumes the session. In classic Jupyter Notebook the
// buttons score a galaxy through the kernel; anywhere else, call `session.score(id, s)` in a cell.
// Each galaxy shows its GZ2 class; click an image to zoom, "skip" one you cannot judge, "undo last
// score" to take one back, "next batch" (or run the cell again) for more: the first 10 are random,
// then the Gaussian process chooses, and the form warns while it still predicts every galaxy alike.
// From a terminal: `npx galmorph anomaly --interactive --embeddings … --labels …`. The labels file is
// named after the encoder: scores belong to the representation they were made with, and galmorph
// refuses to mix them with another's.
// %%
const session = gm.anomaly.AnomalySession.open(gm.embeddingCachePath("gz2-hart16-1000", { id: "galmorph" }), `${gm.outDir()}/anomaly/my-gz2-labels-${gm.cacheName({ id: "galmorph" })}.jsonl`);
// %%
// The form in a cell of its own: "next batch" runs this cell again, keeping the session (and its skips).
await anomalyForm(session, gz2, { count: 5, captions: (r) => `GZ2 class ${r.gz2_class}` });
