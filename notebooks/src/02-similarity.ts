// Source of notebooks/02-similarity.ipynb (regenerate with `npm run notebooks`).
// %% [markdown]
// # Similarity search: one galaxy in, galaxies like it out
//
// The paper's first tool (Walmsley et al. 2022, section 4): represent every galaxy by the galaxy
// model's pooled features, and for a query galaxy return its nearest neighbours. The paper judged the
// results by eye; here each galaxy with a tag (ring, merger, lens or arc, ...) queries on its own and we
// measure how many of its neighbours carry the same tag (precision@k, mean average precision), for
// galmorph's pretrained representation, ImageNet MobileNetV2 features and a random ranking.
//
// Search: cosine distance on the first 10 principal components of the standardised features (fitted on
// all galaxies of the dataset, no labels), as in the calibration notes.
// %%
const PCA_COMPONENTS = 10;
const MAX_K = 10;
const SEARCH = { pca: PCA_COMPONENTS, scale: true, maxK: MAX_K };
// %%
import * as gm from "galmorph";
import { showBackend, showGalaxies, showSettings, save, saveTable } from "galmorph/kernel";

showBackend(await gm.initBackend());
showSettings("02-similarity", SEARCH);

/** galmorph and ImageNet MobileNetV2 embeddings of a dataset (cached under out/embeddings, shared with the other notebooks). */
async function features(id: string) {
  return { galmorph: await gm.datasetEmbeddings(id, "galmorph"), imagenet: await gm.datasetEmbeddings(id, "imagenet-mobilenetv2") };
}
// %% [markdown]
// ## Tags
// - `decals-rings-470`: the ring label (Galaxy Zoo Talk `#ring`), half the galaxies;
// - `gz2-hart16-1000`: odd features with weighted vote fraction > 0.5: ring, lens or arc, disturbed,
//   irregular, merger, dust lane;
// - `gz1-sdss-4019`: merger and edge-on classes.
// %%
const gz2 = gm.openDatasetCatalog("gz2-hart16-1000");
const rings = gm.openDatasetCatalog("decals-rings-470");
const gz1 = gm.openDatasetCatalog("gz1-sdss-4019");
const tagsOf = (cat: gm.Catalog, test: (r: Record<string, string>) => boolean) => new Set(cat.rows.filter(test).map((r) => r[cat.idCol]));
const odd = (answer: string) => tagsOf(gz2, (r) => Number(r[`t08_odd_feature_${answer}_weighted_fraction`]) > 0.5);
// %%
const tasks = [
  { dataset: "decals-rings-470", catalog: rings, tag: "ring (DECaLS)", ids: tagsOf(rings, (r) => r.ring === "1") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "ring (GZ2)", ids: odd("a19_ring") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "lens or arc", ids: odd("a20_lens_or_arc") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "disturbed", ids: odd("a21_disturbed") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "irregular", ids: odd("a22_irregular") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "merger (GZ2)", ids: odd("a24_merger") },
  { dataset: "gz2-hart16-1000", catalog: gz2, tag: "dust lane", ids: odd("a38_dust_lane") },
  { dataset: "gz1-sdss-4019", catalog: gz1, tag: "merger (GZ1)", ids: tagsOf(gz1, (r) => r.gz1_class_name === "merger") },
  { dataset: "gz1-sdss-4019", catalog: gz1, tag: "edge-on (GZ1)", ids: tagsOf(gz1, (r) => r.gz1_class_name === "edge_on") },
];
console.table(tasks.map((t) => ({ tag: t.tag, dataset: t.dataset, galaxies: t.ids.size, of: t.catalog.length })));
// %%
const feats: Record<string, { galmorph: gm.Embeddings; imagenet: gm.Embeddings }> = {};
for (const [id, cat] of [["decals-rings-470", rings], ["gz2-hart16-1000", gz2], ["gz1-sdss-4019", gz1]] as const) {
  const t0 = Date.now();
  feats[id] = await features(id);
  console.log(`${id}: ${cat.length} galaxies embedded (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}
// %%
const scored = tasks.filter((t) => t.ids.size >= 2).flatMap((t) => {
  const f = feats[t.dataset];
  const scores = {
    galmorph: gm.similarity.evaluateTag(f.galmorph, t.ids, SEARCH),
    "imagenet-mobilenetv2": gm.similarity.evaluateTag(f.imagenet, t.ids, SEARCH),
    random: gm.similarity.evaluateRandom(f.galmorph.ids, t.ids, { maxK: MAX_K }),
  };
  return Object.entries(scores).map(([features, s]) => ({ tag: t.tag, features, s }));
});
saveTable(scored.flatMap(({ tag, features, s }) => s.precision.map((p, k) => ({ tag, features, k: k + 1, precision: p, map: s.map, n_queries: s.queries }))), "similarity", { show: false });
const summary = scored.map(({ tag, features, s }) => ({ tag, features, "precision@7": s.precision[6], map: s.map, queries: s.queries }));
saveTable(summary, "similarity-summary", { maxRows: 40 });
// %%
const bars = gm.plot.bar(summary, { x: "tag", y: "precision@7", z: "features", tip: ["map", "queries"] });
const fig = gm.plot.figure([bars], { title: "Similarity search: precision of the 7 nearest neighbours", y: { label: "precision@7", range: [0, 1] } });
await save(fig, "similarity-precision7", { width: 900, height: 480 });
// %% [markdown]
// ## One ring in, rings out
// A ring galaxy from DECaLS and its 7 nearest neighbours by galmorph's representation, then by
// ImageNet's (captions: ring label of each neighbour).
// %%
const ringQuery = [...tasks[0].ids][0];
for (const name of ["galmorph", "imagenet"] as const) {
  const e = gm.similarity.project(feats["decals-rings-470"][name], PCA_COMPONENTS, true);
  const nbs = gm.similarity.similar(e, ringQuery, { k: 7 });
  await showGalaxies(rings, {
    ids: [ringQuery, ...nbs.map((n) => n.id)],
    captions: ["query", ...nbs.map((n) => (tasks[0].ids.has(n.id) ? "ring" : "not ring"))],
    columns: 8,
    size: 100,
    heading: `${name}: query and its 7 nearest neighbours`,
  });
}
