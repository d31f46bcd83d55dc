// Source of notebooks/04-rings-finetune.ipynb (regenerate with `npm run notebooks`).
// %% [markdown]
// # Finding ring galaxies by fine-tuning
//
// The paper's third tool (Walmsley et al. 2022, section 6): adapt the model to a new task from a few
// labels. A new head is trained on top of an encoder, starting from galmorph's galaxy representation,
// from ImageNet weights, or from a random initialisation, on training sets of 2 to 188 ring galaxies
// (each with as many non-rings) from `decals-rings-470`, and tested on a fixed, balanced set of
// 47 rings and 47 non-rings (seed 0) that no training set touches.
//
// **Depth** (the `depth` column of `out/tables/rings.csv`):
// - `head`: frozen encoder, the head trained on features computed once (cached in `out/embeddings`);
//   the paper's "top only". For `scratch-*` starts these are the features of one fixed untrained network
//   ("random init, frozen").
// - `head-mlp`: the same with the paper's head (dense 64, dropout, dense 64, dropout, sigmoid).
// - `head-logistic-cv`: the same features with the representation benchmark's head, for every start:
//   L2 logistic regression, C chosen by 5-fold cross-validation inside each training set (never on
//   the test galaxies). The `head` rows train a network head with fixed settings; these tune the
//   regularisation to each start and training set the same way (`npm run bench:representation`).
// - `top-N`: the top N encoder blocks fine-tuned with the head, on augmented images, at a tenth of the
//   head's learning rate.
// - `all`: every layer trained on the few labels; for `scratch-galmorph-cnn` this is training from
//   scratch (a new random network for every repeat).
//
// Edit the parameters below and re-run the notebook: `QUICK` switches every run list at once (the
// quick settings are what `npm run reproduce` runs; `npm run reproduce -- --full`, or
// `GALMORPH_FULL=1`, sets it to false), and a start left out of `STARTS` is left out of every run,
// frozen, MLP and deeper. The table after the parameters shows what will run.
//
// The galmorph model never saw a ring label, but it did learn from these galaxies' images and three
// GZ DECaLS vote fractions (featured, edge-on, spiral arms) during pretraining.
// %%
const QUICK = process.env.GALMORPH_FULL !== "1"; // true: a smaller run of every list below
const HEAD: "linear" | "mlp" = "linear"; // head of the `head`, `top-N` and `all` runs
const LEARNING_RATE = 1e-3; // Adam, head (unfrozen blocks: a tenth)
const EPOCHS = 100; // frozen heads: maximum epochs (early stopping, patience 10)
const DEEP_EPOCHS = 30; // unfrozen runs: maximum epochs (patience 5)
const LABEL_COUNTS: (number | "max")[] = [2, 5, 13, 33, 79, "max"]; // rings per training set ("max": all 188)
const REPEATS = QUICK ? 10 : 20; // frozen runs (cheap)
// Starts of every run below. The ImageNet and untrained MobileNets compute their features at 224 px
// (a minute or more each, once, then cached); QUICK keeps one of each kind.
const STARTS = QUICK
  ? ["galmorph", "imagenet-mobilenetv2", "scratch-galmorph-cnn"]
  : ["galmorph", "imagenet-mobilenetv2", "imagenet-mobilenetv1", "scratch-galmorph-cnn", "scratch-mobilenetv2", "scratch-mobilenetv1"];
const inStarts = (start: string) => STARTS.includes(start);
// Also with the paper's MLP head (frozen).
const MLP_STARTS = ["galmorph", "imagenet-mobilenetv2"].filter(inStarts);
// Also with the cross-validated logistic head (frozen), on every start. At "max" every repeat has
// the same 188 + 188 galaxies and this head has no random initialisation: it runs once there.
const LOGISTIC_CV = true;
// Deeper runs: these train on images and cost minutes each on a 2-core CPU.
type DeepRun = { start: string; depth: "all" | `top-${number}`; counts: (number | "max")[]; repeats: number };
const DEEP_RUNS = (!QUICK
  ? [
      { start: "galmorph", depth: "top-1", counts: LABEL_COUNTS, repeats: 10 },
      { start: "galmorph", depth: "top-2", counts: LABEL_COUNTS, repeats: 5 },
      { start: "imagenet-mobilenetv1", depth: "top-1", counts: [13, 79, "max"], repeats: 3 },
      { start: "scratch-galmorph-cnn", depth: "all", counts: LABEL_COUNTS, repeats: 10 },
    ] as DeepRun[]
  : [
      // QUICK: two label counts (galmorph's encoder is MobileNetV2 at 128 px: every count costs minutes)
      { start: "galmorph", depth: "top-1", counts: [13, 79], repeats: 5 },
      { start: "scratch-galmorph-cnn", depth: "all", counts: [13, 79], repeats: 5 },
    ] as DeepRun[]
).filter((r) => inStarts(r.start));
// %%
import * as path from "path";
import * as gm from "galmorph";
import { showBackend, showGalaxies, showHeading, showSettings, showTable, save, saveTable } from "galmorph/kernel";
showBackend(await gm.initBackend());
// Written out (not `{ QUICK, … }`): tslab does not resolve shorthand properties naming an earlier cell's variables.
showSettings("04-rings-finetune", {
  QUICK: QUICK, HEAD: HEAD, LEARNING_RATE: LEARNING_RATE, EPOCHS: EPOCHS, DEEP_EPOCHS: DEEP_EPOCHS,
  LABEL_COUNTS: LABEL_COUNTS, REPEATS: REPEATS, STARTS: STARTS, MLP_STARTS: MLP_STARTS, LOGISTIC_CV: LOGISTIC_CV,
  DEEP_RUNS: DEEP_RUNS.map((r) => `${r.start} ${r.depth}: ${r.repeats} repeats at ${r.counts.join(", ")} rings`).join("; ") || "none",
});
const rings = gm.openDatasetCatalog("decals-rings-470");
const cacheDir = path.join(gm.outDir(), "embeddings");
const finetuneOptions: gm.finetuning.FinetuneOptions = { head: HEAD, learningRate: LEARNING_RATE };
const log = (line: string) => console.log(line);
const common = { catalog: rings, dataset: "decals-rings-470", labelCol: "ring", positive: "1", testPerClass: 47, seed: 0, cacheDir, finetune: finetuneOptions, log };
const split = gm.finetuning.balancedSplit(rings.column("ring").map((v) => (v === "1" ? 1 : 0)), 47, 0);
console.table({ test: { rings: 47, "non-rings": 47 }, "training pool": { rings: split.pool.positive.length, "non-rings": split.pool.negative.length } });
// %% [markdown]
// ## Frozen encoders
// Features of the 470 galaxies are computed once per start (ImageNet ones at 224 px take a minute each;
// the galmorph and MobileNetV2 features are shared with the similarity notebook); each network head
// then trains in about a second. The cross-validated logistic head fits 5 folds × 11 values of C per
// training set: milliseconds at 2 rings, about 13 s at 188 on 1,280-d features.
// %%
showHeading(`${STARTS.length} starts × ${LABEL_COUNTS.length} label counts × ${REPEATS} repeats, ${HEAD} head` + (MLP_STARTS.length ? `; the MLP head on ${MLP_STARTS.join(", ")}` : "") + (LOGISTIC_CV ? "; the cross-validated logistic head on every start" : ""));
const t0 = Date.now();
const frozen = await gm.finetuning.learningCurve({
  ...common,
  counts: LABEL_COUNTS, repeats: REPEATS,
  runs: [
    ...STARTS.map((start) => ({ start, depth: "head" as const, options: { epochs: EPOCHS } })),
    ...MLP_STARTS.map((start) => ({ start, depth: "head" as const, label: "head-mlp", options: { epochs: EPOCHS, head: "mlp" as const } })),
    ...(!LOGISTIC_CV ? [] : STARTS.flatMap((start) => {
      const probe = { start, depth: "head" as const, label: "head-logistic-cv", head: "logistic-cv" as const };
      const below = LABEL_COUNTS.filter((c) => c !== "max");
      return [
        ...(below.length ? [{ ...probe, counts: below }] : []),
        ...(LABEL_COUNTS.includes("max") ? [{ ...probe, counts: ["max" as const], repeats: 1 }] : []),
      ];
    })),
  ],
  onRun: gm.finetuning.curveProgress(common.log),
});
console.log(`frozen runs: ${frozen.records.length} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
// %% [markdown]
// ## Deeper: unfreezing the top of the galaxy encoder, and training from scratch
// The runs of `DEEP_RUNS` (none, if it is empty).
// %%
showHeading(DEEP_RUNS.length ? DEEP_RUNS.map((r) => `${r.start} ${r.depth} (${r.repeats} repeats)`).join(", ") : "no deeper runs (DEEP_RUNS is empty)");
const t1 = Date.now();
// With DEEP_RUNS empty nothing is called, so no empty progress bar is left behind.
const deepRecords = DEEP_RUNS.length === 0 ? [] : (await gm.finetuning.learningCurve({
  ...common,
  runs: DEEP_RUNS.map((r) => ({ ...r, options: { epochs: DEEP_EPOCHS } })),
  onRun: gm.finetuning.curveProgress(common.log),
})).records;
console.log(`deeper runs: ${deepRecords.length} in ${((Date.now() - t1) / 1000).toFixed(0)} s`);
// %% [markdown]
// ## Results
// Accuracy and ROC AUC on the 94 test galaxies, mean and standard deviation over the repeats (each
// repeat draws its own training set; at "max" every repeat has the same 188 + 188 galaxies and only the
// initialisation and batch order differ).
// %%
const records = [...frozen.records, ...deepRecords];
const table = gm.finetuning.summariseCurve(records);
saveTable(table, "rings", { show: false });
const counts = [...new Set(records.map((r) => r.n))].sort((a, b) => a - b);
// AUC at 79 rings, the paper's comparison point, when that count ran; else at the largest count that did.
const aucAt = counts.includes(79) ? 79 : Math.max(...counts);
const summary = gm.pivot(table.filter((r) => r.metric === "accuracy" || r.n_rings === aucAt), {
  row: ["start", "depth"],
  column: (r) => `${r.metric === "auc" ? "auc" : "acc"}@${r.n_rings}`,
  value: gm.formatMeanStd,
  columns: [...counts.map((n) => `acc@${n}`), `auc@${aucAt}`],
});
saveTable(summary, "rings-summary", { caption: `accuracy (mean ± std over the repeats: ${REPEATS} frozen${LOGISTIC_CV && LABEL_COUNTS.includes("max") ? ", 1 for head-logistic-cv at the largest count" : ""}${DEEP_RUNS.length ? ", each deeper run its own" : ""}) by number of rings in the training set; AUC at ${aucAt} rings` });
// %%
const COLOURS: Record<string, string> = {
  galmorph: "#1f77b4", "imagenet-mobilenetv2": "#ff7f0e", "imagenet-mobilenetv1": "#2ca02c",
  "scratch-galmorph-cnn": "#555555", "scratch-mobilenetv2": "#bcbd22", "scratch-mobilenetv1": "#8c564b",
};
// top-N runs: long dash and dot
const DASH: Record<string, string> = { head: "solid", "head-mlp": "dot", "head-logistic-cv": "dash", all: "dashdot" };
const style = (r: gm.TableRow) => ({ color: COLOURS[String(r.start)] ?? "#000000", dash: DASH[String(r.depth)] ?? "longdashdot", width: String(r.start).startsWith("scratch-mobilenet") ? 1 : 2 });
const curves = (metric: string) => gm.plot.errorBars(table, { x: "n_rings", z: (r) => `${r.start} (${r.depth})`, filter: (r) => r.metric === metric, tip: ["repeats"], style });
const axes = (metric: string): gm.plot.FigureOptions => ({
  title: `Ring galaxies: test ${metric} against the number of rings in the training set`,
  x: { label: "rings in the training set (as many non-rings)", type: "log", ticks: counts },
  y: { label: `${metric} (94 test galaxies)`, range: [0.4, 0.9] }, layout: { legend: { font: { size: 10 } } },
});
// %%
const paper = [
  { n: 79, accuracy: 0.857, label: "GZ-pretrained, top only" },
  { n: 79, accuracy: 0.8, label: "ImageNet (about 0.80)" },
  { n: 79, accuracy: 0.5, label: "scratch (about 0.5)" },
];
const paperDots = gm.plot.dot(paper, { x: "n", y: "accuracy", text: "label", textPosition: "middle left", name: "paper (Walmsley et al. 2022)", style: { symbol: "star", size: 12, color: "black" } });
await save(gm.plot.figure([curves("accuracy"), paperDots], axes("accuracy")), "rings-learning-curve", { width: 1000, height: 560 });
await save(gm.plot.figure([curves("auc")], axes("ROC AUC")), "rings-learning-curve-auc", { width: 1000, height: 560 });
// %% [markdown]
// ## The galaxies the model gets most wrong
// galmorph's frozen encoder with the head trained on the largest training set that ran: the test
// galaxies whose mean predicted ring probability (over the repeats) is furthest from their label.
// %%
const maxN = Math.max(...frozen.records.map((r) => r.n));
const wrong = gm.finetuning.mostWrong(frozen, (r) => r.start === "galmorph" && r.depth === "head" && r.n === maxN, 12);
if (wrong.length === 0) console.log("galmorph is not in STARTS: no frozen galmorph runs to show");
else await showGalaxies(rings, {
  ids: wrong.map((w) => w.id),
  captions: wrong.map((w) => `${w.label ? "ring" : "not ring"}, p(ring) ${w.score.toFixed(2)}`),
  columns: 6,
  size: 120,
  heading: `most wrong test galaxies (galmorph, frozen, ${HEAD} head, ${maxN} training rings, ${REPEATS} repeats)`,
});
// %% [markdown]
// ## One fine-tuned model to keep
// The same recipe through the API the CLI uses (`galmorph finetune`): galmorph's encoder, frozen,
// the linear head trained on the whole training pool and measured on the test galaxies, saved for
// `galmorph predict --model out/models/rings-finetuned --catalog ...`.
// %%
const trainIds = new Set([...split.pool.positive, ...split.pool.negative].map((i) => rings.ids()[i]));
const testIds = split.test.map((i) => rings.ids()[i]);
const kept = await gm.finetuning.finetuneCatalog({
  catalog: rings.subset([...trainIds]), labelCol: "ring", head: HEAD, learningRate: LEARNING_RATE,
  featureCache: gm.embeddingCachePath("decals-rings-470-train-pool", { id: "galmorph" }, cacheDir),
  out: path.join(gm.outDir(), "models", "rings-finetuned"),
});
// %%
const testCat = rings.subset(testIds);
const testScores = (await gm.predictCatalog(kept.model, testCat)).column("p_1");
const testLabels = testCat.column("ring").map(Number);
const training = kept.model.config.training;
const measured = { accuracy: gm.finetuning.binaryAccuracy(testLabels, testScores), auc: gm.finetuning.rocAuc(testLabels, testScores) };
showTable([{ model: "out/models/rings-finetuned", ...measured, "training galaxies": training.trainExamples, "validation galaxies": training.validationExamples, "best epoch": training.bestEpoch }]);
kept.model.dispose();
