/**
 * The Galaxy Zoo decision trees galmorph knows by name: GZ2 (Willett et al. 2013), GZ DECaLS DR5
 * (Walmsley et al. 2022) and GZ1 (Lintott et al. 2008). Answer keys are the catalogue column stems of
 * the public data releases, so column templates such as `{answer}_count` find the columns directly.
 */
import { DecisionTree, Question, defineSchema } from './decision-tree';

type QuestionSpec = [key: string, text: string, answers: [key: string, label: string][], requires?: string[]];

/** Expands compact [key, text, answers, requires] rows; answer keys are prefixed `question_`. */
function questions(specs: QuestionSpec[], prefixAnswers: boolean): Question[] {
  return specs.map(([key, text, answers, requires]) => ({
    key,
    text,
    answers: answers.map(([a, label]) => ({ key: prefixAnswers ? `${key}_${a}` : a, label })),
    requires: requires ?? [],
  }));
}

/** GZ2: 11 questions, 37 answers (a01..a38 without a35), as in Willett et al. 2013 Table 2 / Hart et al. 2016. */
export const GZ2: DecisionTree = defineSchema({
  name: 'gz2',
  description: 'Galaxy Zoo 2 (Willett et al. 2013; Hart et al. 2016 debiasing), SDSS DR7',
  questions: questions(
    [
      ['t01_smooth_or_features', 'Is the galaxy simply smooth and rounded, with no sign of a disk?',
        [['a01_smooth', 'smooth'], ['a02_features_or_disk', 'features or disk'], ['a03_star_or_artifact', 'star or artifact']]],
      ['t02_edgeon', 'Could this be a disk viewed edge-on?', [['a04_yes', 'yes'], ['a05_no', 'no']],
        ['t01_smooth_or_features_a02_features_or_disk']],
      ['t03_bar', 'Is there a sign of a bar feature through the centre of the galaxy?', [['a06_bar', 'bar'], ['a07_no_bar', 'no bar']],
        ['t02_edgeon_a05_no']],
      ['t04_spiral', 'Is there any sign of a spiral arm pattern?', [['a08_spiral', 'spiral'], ['a09_no_spiral', 'no spiral']],
        ['t02_edgeon_a05_no']],
      ['t05_bulge_prominence', 'How prominent is the central bulge, compared with the rest of the galaxy?',
        [['a10_no_bulge', 'no bulge'], ['a11_just_noticeable', 'just noticeable'], ['a12_obvious', 'obvious'], ['a13_dominant', 'dominant']],
        ['t02_edgeon_a05_no']],
      // Asked of everyone who did not call it a star or artifact (it follows T05, T07 and T09).
      ['t06_odd', 'Is there anything odd?', [['a14_yes', 'yes'], ['a15_no', 'no']],
        ['t01_smooth_or_features_a01_smooth', 't01_smooth_or_features_a02_features_or_disk']],
      ['t07_rounded', 'How rounded is it?', [['a16_completely_round', 'completely round'], ['a17_in_between', 'in between'], ['a18_cigar_shaped', 'cigar shaped']],
        ['t01_smooth_or_features_a01_smooth']],
      ['t08_odd_feature', 'Is the odd feature a ring, or is the galaxy disturbed or irregular?',
        [['a19_ring', 'ring'], ['a20_lens_or_arc', 'lens or arc'], ['a21_disturbed', 'disturbed'], ['a22_irregular', 'irregular'],
          ['a23_other', 'other'], ['a24_merger', 'merger'], ['a38_dust_lane', 'dust lane']],
        ['t06_odd_a14_yes']],
      ['t09_bulge_shape', 'Does the galaxy have a bulge at its centre? If so, what shape?',
        [['a25_rounded', 'rounded'], ['a26_boxy', 'boxy'], ['a27_no_bulge', 'no bulge']], ['t02_edgeon_a04_yes']],
      ['t10_arms_winding', 'How tightly wound do the spiral arms appear?', [['a28_tight', 'tight'], ['a29_medium', 'medium'], ['a30_loose', 'loose']],
        ['t04_spiral_a08_spiral']],
      ['t11_arms_number', 'How many spiral arms are there?',
        [['a31_1', '1'], ['a32_2', '2'], ['a33_3', '3'], ['a34_4', '4'], ['a36_more_than_4', 'more than 4'], ['a37_cant_tell', "can't tell"]],
        ['t04_spiral_a08_spiral']],
    ],
    true,
  ),
});

/** GZ DECaLS DR5: 10 questions, 34 answers (Walmsley et al. 2022, Table 1; Zoobot's `decals_dr5` schema). */
export const GZ_DECALS_DR5: DecisionTree = defineSchema({
  name: 'gz-decals-dr5',
  description: 'Galaxy Zoo DECaLS, DR5 workflow (Walmsley et al. 2022)',
  questions: questions(
    [
      ['smooth-or-featured', 'Is the galaxy simply smooth and rounded, with no sign of a disk?',
        [['smooth', 'smooth'], ['featured-or-disk', 'featured or disk'], ['artifact', 'star or artifact']]],
      ['disk-edge-on', 'Could this be a disk viewed edge-on?', [['yes', 'yes'], ['no', 'no']], ['smooth-or-featured_featured-or-disk']],
      ['has-spiral-arms', 'Is there any sign of a spiral arm pattern?', [['yes', 'yes'], ['no', 'no']], ['disk-edge-on_no']],
      ['bar', 'Is there a bar feature through the centre?', [['strong', 'strong'], ['weak', 'weak'], ['no', 'no']], ['disk-edge-on_no']],
      ['bulge-size', 'How prominent is the central bulge?',
        [['dominant', 'dominant'], ['large', 'large'], ['moderate', 'moderate'], ['small', 'small'], ['none', 'none']], ['disk-edge-on_no']],
      ['how-rounded', 'How rounded is it?', [['round', 'round'], ['in-between', 'in between'], ['cigar-shaped', 'cigar shaped']],
        ['smooth-or-featured_smooth']],
      ['edge-on-bulge', 'Does the galaxy have a bulge at its centre? If so, what shape?',
        [['boxy', 'boxy'], ['none', 'none'], ['rounded', 'rounded']], ['disk-edge-on_yes']],
      ['spiral-winding', 'How tightly wound do the spiral arms appear?', [['tight', 'tight'], ['medium', 'medium'], ['loose', 'loose']],
        ['has-spiral-arms_yes']],
      ['spiral-arm-count', 'How many spiral arms are there?',
        [['1', '1'], ['2', '2'], ['3', '3'], ['4', '4'], ['more-than-4', 'more than 4'], ['cant-tell', "can't tell"]], ['has-spiral-arms_yes']],
      ['merging', 'Is the galaxy currently merging or is there any sign of tidal debris?',
        [['none', 'none'], ['minor-disturbance', 'minor disturbance'], ['major-disturbance', 'major disturbance'], ['merger', 'merger']]],
    ],
    true,
  ),
});

/** GZ1: one question, six answers (Lintott et al. 2008). Keys match the shared gz1 catalogue's class names. */
export const GZ1: DecisionTree = defineSchema({
  name: 'gz1',
  description: 'Galaxy Zoo 1 (Lintott et al. 2008): one question with six answers',
  questions: questions(
    [
      ['gz1_class', 'What kind of galaxy is this?',
        [['elliptical', 'elliptical'], ['spiral_clockwise', 'clockwise spiral'], ['spiral_anticlockwise', 'anticlockwise spiral'],
          ['edge_on', 'edge-on'], ['dont_know', "don't know"], ['merger', 'merger']]],
    ],
    false,
  ),
});

const BUILT_IN = new Map<string, DecisionTree>([GZ2, GZ_DECALS_DR5, GZ1].map((s) => [s.name, s]));

/** A built-in schema by name (`gz2`, `gz-decals-dr5`, `gz1`); the error lists the known names. */
export function schemaByName(name: string): DecisionTree {
  const s = BUILT_IN.get(name);
  if (!s) throw new Error(`galmorph: unknown Galaxy Zoo schema '${name}'. Known: ${[...BUILT_IN.keys()].join(', ')}; or build one with defineSchema()`);
  return s;
}
