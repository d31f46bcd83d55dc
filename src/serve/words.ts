/**
 * "Describe in words": free text ("ring", "barred spiral", "edge-on with a bulge", "merger") mapped
 * to Galaxy Zoo answers, and galaxies ranked by the model's predicted vote fractions of them.
 *
 * Each phrase of the vocabulary names answers of the schemas the model predicts (gz2, gz-decals-dr5,
 * gz1). A phrase found in the text becomes a term; a term scores a galaxy by the weighted mean of its
 * answers' fractions, and the terms combine by a weighted geometric mean (all of them must hold: a
 * "barred spiral" is barred and spiral). With `absolute` (the default) an answer's fraction is
 * multiplied by the fractions of the answers that lead to its question in the decision tree, so
 * "ring" (asked only of galaxies called odd) counts P(odd) x P(ring | odd), not P(ring | odd) alone.
 */
import { schemaByName } from '../schemas/galaxy-zoo';

/** One answer a description uses: `schema/answer` as the model names it, and its weight. */
export interface UsedAnswer {
  column: string;
  weight: number;
}

/** A phrase found in the text, with the answers it stands for. */
export interface DescribeTerm {
  phrase: string;
  answers: UsedAnswer[];
}

/** Phrases (lower case, longest matched first) and the answers they stand for, by schema. */
const VOCABULARY: [phrases: string[], answers: string[]][] = [
  [['ring', 'rings', 'ringed', 'ring galaxy'], ['gz2/t08_odd_feature_a19_ring']],
  [['no bar', 'unbarred', 'without a bar'], ['gz2/t03_bar_a07_no_bar', 'gz-decals-dr5/bar_no']],
  [['strong bar', 'strongly barred'], ['gz-decals-dr5/bar_strong', 'gz2/t03_bar_a06_bar']],
  [['weak bar', 'weakly barred'], ['gz-decals-dr5/bar_weak']],
  [['bar', 'barred', 'bars'], ['gz2/t03_bar_a06_bar', 'gz-decals-dr5/bar_strong', 'gz-decals-dr5/bar_weak']],
  [['no spiral', 'no arms'], ['gz2/t04_spiral_a09_no_spiral', 'gz-decals-dr5/has-spiral-arms_no']],
  [['spiral', 'spirals', 'spiral arms', 'arms'], ['gz2/t04_spiral_a08_spiral', 'gz-decals-dr5/has-spiral-arms_yes']],
  [['tightly wound', 'tight arms', 'tight'], ['gz2/t10_arms_winding_a28_tight', 'gz-decals-dr5/spiral-winding_tight']],
  [['loosely wound', 'loose arms', 'loose'], ['gz2/t10_arms_winding_a30_loose', 'gz-decals-dr5/spiral-winding_loose']],
  [['two arms', 'two-armed', '2 arms', 'grand design'], ['gz2/t11_arms_number_a32_2', 'gz-decals-dr5/spiral-arm-count_2']],
  [['edge-on', 'edge on', 'edgeon'], ['gz2/t02_edgeon_a04_yes', 'gz-decals-dr5/disk-edge-on_yes', 'gz1/edge_on']],
  [['face-on', 'face on'], ['gz2/t02_edgeon_a05_no', 'gz-decals-dr5/disk-edge-on_no']],
  [['no bulge', 'bulgeless'], ['gz2/t05_bulge_prominence_a10_no_bulge', 'gz2/t09_bulge_shape_a27_no_bulge', 'gz-decals-dr5/bulge-size_none', 'gz-decals-dr5/edge-on-bulge_none']],
  [['boxy bulge', 'boxy', 'peanut'], ['gz2/t09_bulge_shape_a26_boxy', 'gz-decals-dr5/edge-on-bulge_boxy']],
  [['bulge', 'bulges', 'big bulge', 'large bulge'],
    ['gz2/t05_bulge_prominence_a12_obvious', 'gz2/t05_bulge_prominence_a13_dominant', 'gz2/t09_bulge_shape_a25_rounded', 'gz2/t09_bulge_shape_a26_boxy',
      'gz-decals-dr5/bulge-size_large', 'gz-decals-dr5/bulge-size_dominant', 'gz-decals-dr5/edge-on-bulge_rounded', 'gz-decals-dr5/edge-on-bulge_boxy']],
  [['merger', 'mergers', 'merging', 'interacting'], ['gz2/t08_odd_feature_a24_merger', 'gz-decals-dr5/merging_merger', 'gz-decals-dr5/merging_major-disturbance', 'gz1/merger']],
  [['disturbed', 'tidal', 'tidal debris', 'disturbance'], ['gz2/t08_odd_feature_a21_disturbed', 'gz-decals-dr5/merging_minor-disturbance', 'gz-decals-dr5/merging_major-disturbance']],
  [['irregular'], ['gz2/t08_odd_feature_a22_irregular']],
  [['lens', 'arc', 'lensed', 'lens or arc'], ['gz2/t08_odd_feature_a20_lens_or_arc']],
  [['dust lane', 'dusty'], ['gz2/t08_odd_feature_a38_dust_lane']],
  [['odd', 'unusual', 'strange', 'weird'], ['gz2/t06_odd_a14_yes']],
  [['smooth', 'elliptical', 'ellipticals'], ['gz2/t01_smooth_or_features_a01_smooth', 'gz-decals-dr5/smooth-or-featured_smooth', 'gz1/elliptical']],
  [['round', 'completely round', 'circular'], ['gz2/t07_rounded_a16_completely_round', 'gz-decals-dr5/how-rounded_round']],
  [['cigar', 'cigar-shaped', 'elongated'], ['gz2/t07_rounded_a18_cigar_shaped', 'gz-decals-dr5/how-rounded_cigar-shaped']],
  [['disk', 'disc', 'featured', 'features'], ['gz2/t01_smooth_or_features_a02_features_or_disk', 'gz-decals-dr5/smooth-or-featured_featured-or-disk']],
  [['star', 'artifact', 'artefact'], ['gz2/t01_smooth_or_features_a03_star_or_artifact', 'gz-decals-dr5/smooth-or-featured_artifact']],
];

/** Every phrase the vocabulary knows, for the page's hint. */
export function knownPhrases(): string[] {
  return VOCABULARY.map(([p]) => p[0]!);
}

/**
 * The terms a text stands for: phrases matched longest first on word boundaries (each stretch of
 * text used once), keeping only answers the model predicts (`available`: `schema/answer` names).
 */
export function describeTerms(text: string, available: ReadonlySet<string>): { terms: DescribeTerm[]; unknown: string[] } {
  let rest = ` ${text.toLowerCase().replace(/[^a-z0-9\- ]+/g, ' ').replace(/\s+/g, ' ').trim()} `;
  const found: { at: number; term: DescribeTerm }[] = [];
  const phrases = VOCABULARY.flatMap(([ps, answers]) => ps.map((p) => ({ p, answers }))).sort((a, b) => b.p.length - a.p.length);
  for (const { p, answers } of phrases) {
    const at = rest.indexOf(` ${p} `);
    if (at < 0) continue;
    const used = answers.filter((a) => available.has(a)).map((column) => ({ column, weight: 1 }));
    rest = `${rest.slice(0, at + 1)}${'_'.repeat(p.length)}${rest.slice(at + 1 + p.length)}`;
    if (used.length > 0) found.push({ at, term: { phrase: p, answers: used } });
  }
  const filler = new Set(['a', 'an', 'the', 'with', 'and', 'of', 'galaxy', 'galaxies', 'that', 'is', 'has', 'in', 'very', 'some', 'like', 'looks']);
  const unknown = rest.split(' ').filter((w) => w !== '' && !/^_+$/.test(w) && !filler.has(w));
  return { terms: found.sort((a, b) => a.at - b.at).map((f) => f.term), unknown };
}

/** Predicted fractions by `schema/answer`, each [galaxies]. */
export type FractionColumns = ReadonlyMap<string, Float32Array>;

/**
 * Fractions multiplied along the decision tree: an answer's fraction times the summed absolute
 * fractions of the answers its question requires (either of them leads there).
 */
export function absoluteFractions(fractions: FractionColumns): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  const questionOf = new Map<string, { schema: string; requires: string[] }>();
  const schemas = new Set([...fractions.keys()].map((c) => c.split('/')[0]!));
  for (const name of schemas) {
    let tree;
    try {
      tree = schemaByName(name);
    } catch {
      continue;
    }
    for (const q of tree.questions) for (const a of q.answers) questionOf.set(`${name}/${a.key}`, { schema: name, requires: q.requires });
  }
  const visit = (column: string, depth: number): Float64Array => {
    const done = out.get(column);
    if (done) return done;
    const f = fractions.get(column);
    if (!f) throw new Error(`galmorph: no predicted fraction for ${column}`);
    const value = Float64Array.from(f);
    const q = questionOf.get(column);
    if (q && q.requires.length > 0 && depth < 20) {
      const reach = new Float64Array(value.length);
      for (const r of q.requires) {
        const key = `${q.schema}/${r}`;
        if (!fractions.has(key)) continue;
        const ra = visit(key, depth + 1);
        for (let i = 0; i < reach.length; i++) reach[i]! += ra[i]!;
      }
      for (let i = 0; i < value.length; i++) value[i]! *= Math.min(1, reach[i]!);
    }
    out.set(column, value);
    return value;
  };
  for (const c of fractions.keys()) visit(c, 0);
  return out;
}

/** Scores of every galaxy for the terms: weighted geometric mean over terms of each term's weighted mean fraction. */
export function describeScores(terms: DescribeTerm[], columns: ReadonlyMap<string, ArrayLike<number>>, n: number): Float64Array {
  const score = new Float64Array(n);
  let totalWeight = 0;
  for (const term of terms) {
    const answers = term.answers.filter((a) => a.weight > 0 && columns.has(a.column));
    const w = answers.reduce((s, a) => s + a.weight, 0);
    if (w === 0) continue;
    totalWeight += 1;
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (const a of answers) v += a.weight * columns.get(a.column)![i]!;
      score[i]! += Math.log(Math.max(v / w, 1e-6));
    }
  }
  if (totalWeight === 0) return score.fill(0);
  for (let i = 0; i < n; i++) score[i] = Math.exp(score[i]! / totalWeight);
  return score;
}
