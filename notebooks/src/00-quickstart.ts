// Source of notebooks/00-quickstart.ipynb (regenerate with `npm run notebooks`).
// %% [markdown]
// # galmorph quickstart
//
// A first look at the real Galaxy Zoo data that galmorph ships with (through `../shared/data`, or
// wherever `GALMORPH_DATA` points): load a catalogue, look at galaxies, plot their volunteer vote
// fractions, and export a figure and a table to `out/`.
//
// The paper: Walmsley et al. 2022, *Practical galaxy morphology tools from deep supervised
// representation learning*, MNRAS 513, 1581. Later notebooks reproduce its experiments.
// %%
import * as tf from "@tensorflow/tfjs";
import * as gm from "galmorph";
import { showBackend, showGalaxies, showPlot, save, saveTable } from "galmorph/kernel";

// Every notebook starts by choosing the compute backend (GALMORPH_BACKEND=... forces one).
const backend = await gm.initBackend();
showBackend(backend);
// %% [markdown]
// ## A catalogue of Galaxy Zoo 2 galaxies
// 1,000 SDSS galaxies with the volunteers' vote fractions for all 37 answers of the GZ2 decision
// tree (Hart et al. 2016). The id column is `asset_id`; images are in the `file` column.
// %%
const gz2 = gm.readCatalog(gm.resolveDataPath("gz2-hart16-1000/catalog.csv"), { idCol: "asset_id", imageCol: "file" });
console.log(`${gz2.length} galaxies, ${gz2.columns.length} columns, from ${gz2.file}`);
// %% [markdown]
// ## Smooth and featured galaxies
// The six galaxies the volunteers found most *smooth*, then the six most *featured*
// (weighted vote fractions of the first GZ2 question).
// %%
const smooth = gz2.numbers("t01_smooth_or_features_a01_smooth_weighted_fraction");
const featured = gz2.numbers("t01_smooth_or_features_a02_features_or_disk_weighted_fraction");
const bySmooth = Array.from(smooth.keys()).sort((a, b) => smooth[b] - smooth[a]);
const picks = [...bySmooth.slice(0, 6), ...bySmooth.slice(-6)];
await showGalaxies(gz2, {
  ids: picks.map((i) => gz2.rows[i].asset_id),
  captions: picks.map((i) => `smooth ${smooth[i].toFixed(2)} · ${gz2.rows[i].gz2_class}`),
  heading: "Most smooth (top row) and most featured (bottom row)",
});
// %% [markdown]
// ## Vote fractions
// Each dot is a galaxy. Volunteers choose between *smooth*, *features or disk* and *star or artifact*,
// so the two fractions lie on or below the diagonal; colour shows how many volunteers classified it.
// The plot is interactive (hover for the id) and works offline.
// %%
const fig = gm.plot.scatter(smooth, featured, {
  x: "smooth (weighted fraction)",
  y: "features or disk (weighted fraction)",
  title: "GZ2: smooth against featured, 1,000 galaxies",
  text: gz2.ids(),
  color: gz2.numbers("total_classifications"),
  colorLabel: "volunteers",
});
await save(fig, "quickstart-smooth-vs-featured", { width: 700, height: 520 });
// %% [markdown]
// ## The data galmorph can see
// A table of the datasets in the local mirror, written to `out/tables/quickstart-datasets.csv` and `.md`.
// %%
const datasets = [
  { id: "gz2-hart16-1000", idCol: "asset_id", labels: "GZ2 vote fractions, 37 answers" },
  { id: "decals-rings-470", idCol: "iauname", labels: "ring / not ring, 3 GZ DECaLS fractions" },
  { id: "gz1-sdss-4019", idCol: "objid_dr7", labels: "one GZ1 class each" },
];
const rows = datasets.map((d) => {
  const cat = gm.readCatalog(gm.resolveDataPath(`${d.id}/catalog.csv`), { idCol: d.idCol });
  return { dataset: d.id, galaxies: cat.length, columns: cat.columns.length, labels: d.labels };
});
saveTable(rows, "quickstart-datasets");
// %% [markdown]
// ## Pixels on the compute backend
// Eight galaxies decoded with sharp at 64x64 and stacked into one tensor; the mean colour of each
// image computed on the backend chosen above (inside `tf.tidy`, so no tensor is left behind).
// %%
const sample = gz2.rows.slice(0, 8);
const images = await Promise.all(sample.map((r) => gm.readRgb(gz2.imagePath(r), 64)));
const before = tf.memory().numTensors;
const meanRgb = tf.tidy(() => {
  const batch = tf.stack(images.map((im) => tf.tensor3d(im.data, [im.height, im.width, 3], "int32"))).toFloat().div(255);
  return batch.mean([1, 2]);
});
const means = (await meanRgb.array()) as number[][];
meanRgb.dispose();
console.log(`tensors leaked: ${tf.memory().numTensors - before}`);
// %%
const COLOUR: Record<string, string> = { r: "#d62728", g: "#2ca02c", b: "#1f77b4" };
const colours = sample.flatMap((r, i) => ["r", "g", "b"].map((channel, k) => ({ asset_id: r.asset_id, channel, mean: means[i][k] })));
const bars = gm.plot.bar(colours, { x: "asset_id", y: "mean", z: "channel", style: (r) => ({ color: COLOUR[r.channel] }) });
showPlot(gm.plot.figure([bars], { title: `Mean colour of 8 galaxies (backend: ${tf.getBackend()})`, x: "asset_id", y: "mean pixel value" }));
