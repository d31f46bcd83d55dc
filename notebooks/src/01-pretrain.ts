// Source of notebooks/01-pretrain.ipynb (regenerate with `npm run notebooks`).
// %% [markdown]
// # The galaxy model: learning from Galaxy Zoo votes
//
// Walmsley et al. 2022 train a CNN to predict, for every question of the Galaxy Zoo decision tree, how
// the volunteers voted: the output is a Dirichlet concentration per answer, the loss the
// Dirichlet-multinomial likelihood of the vote counts. Its pooled features are the *representation*
// every later notebook reuses.
//
// galmorph's prediction model (`models/galmorph-all`, committed) learned from the real data in
// `../shared/data` as one multi-campaign model: GZ2 votes (37 answers), the Kaggle Galaxy Challenge's
// GZ2 votes (5 questions), GZ1 classes and three GZ DECaLS vote fractions of the ring galaxies (never
// their ring labels). This notebook shows how it trained and how well it predicts
// volunteers on galaxies it never saw. (The representation notebooks 02-04 evaluate is another model,
// `models/galmorph-honest`, trained without any label they evaluate.)
// %%
// Parameters: set RETRAIN = true (or GALMORPH_RETRAIN=1) to train a new model instead of loading the
// committed one: MobileNetV2 started from ImageNet's weights, 128 px, the committed model's recipe
// (10 epochs: 35 minutes on a 2-core Xeon with AMX, about 70 on a 2-core AVX2 machine, where 6
// epochs took 61 minutes). QUICK (what `npm run reproduce` runs; `--full`, GALMORPH_FULL=1, sets it
// to false) switches the sizes below together.
const QUICK = process.env.GALMORPH_FULL !== "1";
const RETRAIN = process.env.GALMORPH_RETRAIN === "1";
const EPOCHS = 10; // when retraining (cosine learning-rate schedule over these epochs): the committed model's
const MC_SAMPLES = QUICK ? 5 : 20; // Monte Carlo dropout samples per test galaxy
const ARCH = "mobilenetv2-imagenet";
const SIZE = 128;
const LEARNING_RATE = 5e-4; // ImageNet's weights are a good start: a smaller step than from scratch
const CONCENTRATION_FLOOR = 0.1; // lets rare answers be predicted near 0 (Zoobot's floor is 1)
// %%
import * as path from "path";
import * as gm from "galmorph";
import { showBackend, showGalaxies, showSettings, showTable, save, saveTable } from "galmorph/kernel";
showBackend(await gm.initBackend());
// Written out (not `{ QUICK, … }`): tslab does not resolve shorthand properties naming an earlier cell's variables.
showSettings("01-pretrain", { QUICK: QUICK, RETRAIN: RETRAIN, ...(RETRAIN ? { EPOCHS: EPOCHS, ARCH: ARCH, SIZE: SIZE, LEARNING_RATE: LEARNING_RATE, CONCENTRATION_FLOOR: CONCENTRATION_FLOOR } : {}), MC_SAMPLES: MC_SAMPLES });
let modelDir = gm.defaultModelDir();
if (RETRAIN) {
  modelDir = path.join(gm.outDir(), "models", "galmorph-retrained");
  const datasets = ["gz2-hart16-1000", "gz2-kaggle-5000", "decals-rings-470", "gz1-sdss-4019"].map((id) => gm.loadVoteDataset(id));
  await gm.trainGalaxyModel({
    datasets, out: modelDir, model: { arch: ARCH, size: SIZE, channels: 3, dropout: 0.25, concentrationFloor: CONCENTRATION_FLOOR },
    epochs: EPOCHS, patience: EPOCHS, learningRate: LEARNING_RATE, schedule: "cosine", overwrite: true,
  });
}
const loaded = await gm.loadGalaxyModel(modelDir);
console.log(`model: ${loaded.config.arch} at ${loaded.config.size} px, outputs ${loaded.config.schemas.join(", ")} (${loaded.space.size} answers), from ${modelDir}`);
// %% [markdown]
// ## Training curves
// Mean Dirichlet-multinomial loss per galaxy, each epoch. Validation galaxies are never trained on; the
// model kept is the epoch with the lowest validation loss. (Validation is measured without augmentation
// and with batch norm's running statistics, so it need not sit below the training curve.)
// %%
await save(gm.plot.lossFigure(gm.readTrainLog(modelDir), "Training the galaxy model"), "pretrain-loss", { width: 700, height: 420 });
// %% [markdown]
// ## Predicted against volunteer vote fractions (GZ2 test galaxies)
// Each galaxy of the test split is predicted with `MC_SAMPLES` Monte Carlo dropout samples. The mean absolute error
// per answer is compared with a baseline that always predicts the training galaxies' mean fraction.
// %%
const result = await gm.evaluateOnGz2Test(loaded, gm.readSplit(modelDir), MC_SAMPLES);
const ev = result.evaluation;
console.log(`${result.galaxies} GZ2 test galaxies: mean MAE ${ev.mean_mae.toFixed(3)} against ${ev.mean_baseline_mae.toFixed(3)} for the mean-prediction baseline`);
saveTable(ev.answers.map((a) => ({ answer: a.answer, galaxies: a.n, mae: a.mae, baseline_mae: a.baseline_mae, mean_predicted: a.mean_predicted, mean_volunteers: a.mean_volunteers })), "pretrain-gz2-mae", { maxRows: 40 });
// %%
const A = result.space.size;
const answerIndex = result.space.answers.map((a) => a.answer);
const shown = ["t01_smooth_or_features_a01_smooth", "t02_edgeon_a04_yes", "t03_bar_a06_bar", "t04_spiral_a08_spiral", "t06_odd_a14_yes"];
// Tidy rows: one per (answer, test galaxy) the volunteers answered.
const points = shown.flatMap((answer) => {
  const j = answerIndex.indexOf(answer);
  return result.ids.map((id, i) => ({ answer: answer.replace(/^t\d+_/, ""), id, volunteer: result.truth[i * A + j], predicted: result.predicted[i * A + j] }));
});
const dots = gm.plot.dot(points.filter((p) => !Number.isNaN(p.volunteer)), { x: "volunteer", y: "predicted", z: "answer", title: "id", style: { opacity: 0.7 } });
const perfect = gm.plot.line([{ f: 0 }, { f: 1 }], { x: "f", y: "f", name: "perfect", markers: false, style: { dash: "dot", color: "grey" } });
const fig = gm.plot.figure([dots, perfect], { title: "GZ2 test galaxies: predicted against volunteer fraction", x: "volunteer fraction", y: "predicted fraction" });
await save(fig, "pretrain-predicted-vs-volunteer", { width: 760, height: 560 });
// %%
showTable(ev.questions.map((q) => ({ question: q.question, "confident galaxies": q.n, accuracy: q.accuracy })), { caption: `Accuracy where volunteers agreed (> ${ev.threshold})` });
// %% [markdown]
// ## Galaxies and their predictions
// Twelve test galaxies with the predicted and the volunteers' *smooth* fraction.
// %%
const smoothJ = answerIndex.indexOf("t01_smooth_or_features_a01_smooth");
const gz2 = gm.readCatalog(gm.resolveDataPath("gz2-hart16-1000/catalog.csv"), { idCol: "asset_id" });
const picks = result.ids.slice(0, 12).map((id, i) => ({ id: id.split(":")[1], i }));
await showGalaxies(gz2, {
  ids: picks.map((p) => p.id),
  captions: picks.map((p) => `smooth: model ${result.predicted[p.i * A + smoothJ].toFixed(2)}, volunteers ${result.truth[p.i * A + smoothJ].toFixed(2)}`),
  heading: "GZ2 test galaxies (never trained on)",
});
