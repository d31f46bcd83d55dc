/**
 * Vote-labelled datasets: a catalogue with Galaxy Zoo volunteer votes on one schema's answers, as
 * counts (from counts, fractions and a total, Kaggle cumulative columns, or one class per galaxy; see
 * src/schemas/votes.ts).
 * What training, evaluation and fine-tuning on vote trees read.
 */
import { Catalog } from '../data/catalog';
import { getManifest, openDatasetCatalog } from '../data/manifests';
import { GZ_DECALS_DR5, schemaByName } from './galaxy-zoo';
import { VoteColumns, voteCounts } from './votes';

export interface VoteDataset {
  /** Dataset (manifest) id, or the catalogue file for user catalogues. */
  id: string;
  catalog: Catalog;
  schema: string;
  /** Row-major [galaxies, schema answers] vote counts. */
  counts: Float64Array;
  /** How the counts were obtained, for model cards. */
  method: string;
}

/** Volunteers per galaxy assumed where a catalogue has fractions but no totals (GZ DECaLS DR5 collected about 40). */
export const NOMINAL_DECALS_VOTES = 40;

/**
 * decals-rings-470 has three GZ DECaLS fractions and no totals, so counts are rebuilt down the
 * tree from a nominal 40 volunteers: featured = round(40·f), the rest counted as smooth; the
 * edge-on question is asked of the featured volunteers, the spiral-arm question of the not-edge-on
 * ones. Every other DECaLS question stays unanswered (no loss). The ring label is never read.
 */
function decalsThreeFractions(catalog: Catalog): { counts: Float64Array; method: string } {
  const schema = GZ_DECALS_DR5;
  const index = schema.answerIndex();
  const featured = catalog.numbers('smooth-or-featured_featured-or-disk_fraction');
  const notEdgeOn = catalog.numbers('disk-edge-on_no_fraction');
  const noArms = catalog.numbers('has-spiral-arms_no_fraction');
  const A = schema.answerCount;
  const counts = new Float64Array(catalog.length * A);
  const set = (i: number, key: string, v: number) => (counts[i * A + index.get(key)!] = v);
  for (let i = 0; i < catalog.length; i++) {
    for (const [name, f] of [['featured', featured[i]!], ['not edge-on', notEdgeOn[i]!], ['no spiral arms', noArms[i]!]] as const) {
      if (!(f >= 0 && f <= 1)) throw new Error(`galmorph: ${catalog.file}, row ${i + 2}: the ${name} fraction is ${f}, not in [0, 1]`);
    }
    const nFeatured = Math.round(NOMINAL_DECALS_VOTES * featured[i]!);
    set(i, 'smooth-or-featured_featured-or-disk', nFeatured);
    set(i, 'smooth-or-featured_smooth', NOMINAL_DECALS_VOTES - nFeatured);
    const nNo = Math.round(nFeatured * notEdgeOn[i]!);
    set(i, 'disk-edge-on_no', nNo);
    set(i, 'disk-edge-on_yes', nFeatured - nNo);
    const nNoArms = Math.round(nNo * noArms[i]!);
    set(i, 'has-spiral-arms_no', nNoArms);
    set(i, 'has-spiral-arms_yes', nNo - nNoArms);
  }
  return { counts, method: `three GZ DECaLS fractions x ${NOMINAL_DECALS_VOTES} nominal volunteers, down the tree` };
}

/** A dataset from its manifest: catalogue, schema and vote columns as the manifest describes them. */
export function loadVoteDataset(id: string): VoteDataset {
  const manifest = getManifest(id);
  const catalog = openDatasetCatalog(id);
  const spec = manifest.catalog!;
  if (id === 'decals-rings-470') {
    return { id, catalog, schema: GZ_DECALS_DR5.name, ...decalsThreeFractions(catalog) };
  }
  if (!spec.schema || !spec.votes) {
    throw new Error(`galmorph: dataset '${id}' (${manifest.source}) declares no schema and vote columns, so it cannot train the galaxy model`);
  }
  return fromCatalog(catalog, spec.schema, spec.votes, id);
}

/** A user catalogue with vote columns (counts, fractions + total, or one class per galaxy). */
export function fromCatalog(catalog: Catalog, schemaName: string, votes: VoteColumns, id = catalog.file): VoteDataset {
  const schema = schemaByName(schemaName);
  const table = voteCounts(catalog, schema, votes);
  return { id, catalog, schema: schema.name, counts: table.counts, method: table.detail ?? table.method };
}
