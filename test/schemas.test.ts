import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCatalog, Catalog } from '../src/data/catalog';
import { resolveDataPath } from '../src/paths';
import { defineSchema } from '../src/schemas/decision-tree';
import { GZ1, GZ2, GZ_DECALS_DR5, schemaByName } from '../src/schemas/galaxy-zoo';
import { columnFor, questionTotal, voteCounts, voteFractions, VoteTable } from '../src/schemas/votes';
import { tempDir } from './support/fixtures';

/** Share of answered cells whose published `_fraction` is count / question votes (3 decimals), and the rows that disagree. */
function fractionAgreement(cat: Catalog, votes: VoteTable): { agree: number; badRows: Set<number> } {
  const A = votes.answers.length;
  const frac = voteFractions(votes);
  const badRows = new Set<number>();
  let ok = 0;
  let n = 0;
  votes.answers.forEach((a, j) => {
    const published = cat.numbers(columnFor('{answer}_fraction', a));
    for (let i = 0; i < cat.length; i++) {
      if (Number.isNaN(frac[i * A + j]!)) continue;
      n++;
      if (Math.abs(frac[i * A + j]! - published[i]!) <= 0.0011) ok++;
      else badRows.add(i);
    }
  });
  return { agree: ok / n, badRows };
}

const table = (rel: string, idCol: string): Catalog => readCatalog(resolveDataPath(rel), { idCol, imageCol: null });

/** Share of rows for which `pred` holds. */
function share(n: number, pred: (i: number) => boolean): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (pred(i)) k++;
  return k / n;
}

describe('Galaxy Zoo schemas', () => {
  it('have the published shapes: GZ2 11/37, GZ DECaLS DR5 10/34, GZ1 1/6', () => {
    assert.deepEqual([GZ2.questions.length, GZ2.answerCount], [11, 37]);
    assert.deepEqual([GZ_DECALS_DR5.questions.length, GZ_DECALS_DR5.answerCount], [10, 34]);
    assert.deepEqual([GZ1.questions.length, GZ1.answerCount], [1, 6]);
    assert.deepEqual(GZ1.questions[0]!.answers.map((a) => a.label),
      ['elliptical', 'clockwise spiral', 'anticlockwise spiral', 'edge-on', "don't know", 'merger']);
    assert.equal(schemaByName('gz2'), GZ2);
    assert.throws(() => schemaByName('gz3'), /unknown Galaxy Zoo schema 'gz3'\. Known: gz2, gz-decals-dr5, gz1/);
  });

  it('GZ2 Table 5 (Willett+13, Stripe 82): counts match fractions, and each question is asked of its parent answer', () => {
    const cat = table('tables/gz2-willett13-stripe82/table5.csv.gz', 'objid');
    assert.equal(cat.length, 19761);
    assert.equal(cat.ids()[0], '8647474690312307154');
    const votes = voteCounts(cat, GZ2, { counts: '{answer}_count' });
    const A = votes.answers.length;
    // Published fractions are the counts over the question's votes, rounded to 3 decimals, for most
    // cells; in this co-add table some galaxies' fractions differ from their counts beyond rounding
    // (row 8: 4 smooth of 12 but fraction 0.295), so we require agreement for the bulk (measured 89.5%).
    const { agree } = fractionAgreement(cat, votes);
    assert.ok(agree > 0.88, `fractions equal count / question votes for ${(agree * 100).toFixed(1)}% of cells`);
    const total = cat.numbers('total_classifications');
    assert.equal(share(cat.length, (i) => questionTotal(votes, i, GZ2.questions[0]!) === total[i]), 1, 'T01 is asked of every classification');
    const index = GZ2.answerIndex();
    for (const q of GZ2.questions.filter((x) => x.requires.length > 0)) {
      const agree = share(cat.length, (i) => questionTotal(votes, i, q) === q.requires.reduce((s, r) => s + votes.counts[i * A + index.get(r)!]!, 0));
      // T06 comes last in a volunteer's path, so classifications abandoned early lower it (96% agree).
      assert.ok(agree > 0.95, `${q.key}: votes equal its parent answers' count in ${(agree * 100).toFixed(1)}% of galaxies`);
    }
  });

  it('reconstructs GZ2 counts from fractions and total_classifications close to the published counts', () => {
    const cat = table('tables/gz2-willett13-stripe82/table5.csv.gz', 'objid').subset(3000);
    const truth = voteCounts(cat, GZ2, { counts: '{answer}_count' });
    const rec = voteCounts(cat, GZ2, { fractions: '{answer}_fraction', total: 'total_classifications' });
    assert.equal(rec.method, 'fractions');
    // Judge the method on galaxies whose published fractions match their counts (see above).
    const { badRows } = fractionAgreement(cat, truth);
    const A = truth.answers.length;
    let exact = 0;
    let absErr = 0;
    let n = 0;
    for (let i = 0; i < cat.length; i++) {
      if (badRows.has(i)) continue;
      for (let j = 0; j < A; j++) {
        const d = Math.abs(truth.counts[i * A + j]! - rec.counts[i * A + j]!);
        exact += d === 0 ? 1 : 0;
        absErr += d;
        n++;
      }
    }
    assert.ok(n > 1000 * A, `${n / A} consistent galaxies`);
    assert.ok(exact / n > 0.99, `exact for ${((exact / n) * 100).toFixed(2)}% of cells`);
    assert.ok(absErr / n < 0.02, `mean absolute error ${(absErr / n).toFixed(4)} votes`);
    rec.counts.forEach((c) => assert.ok(Number.isInteger(c) && c >= 0));
  });

  it('GZ DECaLS DR5 full-tree export: all 34 answer columns, counts over total-votes give the published fractions', () => {
    const cat = table('tables/gz-decals-dr5-votes/example_panoptes_fulltree_votes_1618.csv', 'subject_id');
    const votes = voteCounts(cat, GZ_DECALS_DR5, { counts: '{answer}' });
    const A = votes.answers.length;
    for (const q of GZ_DECALS_DR5.questions) {
      const totals = cat.numbers(`${q.key}_total-votes`);
      for (const a of q.answers) {
        const j = votes.answers.indexOf(a.key);
        const f = cat.numbers(`${a.key}_fraction`);
        for (let i = 0; i < cat.length; i++) {
          if (totals[i]! > 0) assert.ok(Math.abs(votes.counts[i * A + j]! / totals[i]! - f[i]!) < 1e-9, `${a.key} row ${i + 2}`);
        }
      }
      // This 2018 export still carries the retired merging answers (*-v1), which also count towards
      // merging_total-votes; every other question's answers add up to its total exactly.
      const complete = share(cat.length, (i) => questionTotal(votes, i, q) === totals[i]);
      if (q.key === 'merging') assert.ok(complete < 1);
      else assert.equal(complete, 1, q.key);
    }
  });

  it('a user-defined one-question schema reads the 4,000-galaxy GZ DECaLS first-question export', () => {
    const first = defineSchema({ name: 'decals-first', questions: [GZ_DECALS_DR5.question('smooth-or-featured')] });
    const cat = readCatalog(resolveDataPath('tables/gz-decals-dr5-votes/panoptes_smooth_votes_4000.csv'), { idCol: 'subject_id', imageCol: null });
    const votes = voteCounts(cat, first, { counts: '{answer}' });
    const totals = cat.numbers('smooth-or-featured_total-votes');
    assert.equal(share(cat.length, (i) => questionTotal(votes, i, first.questions[0]!) === totals[i]), 1);
  });

  it('GZ2 (Hart+16) weighted fractions of the image set reconstruct to whole counts down the tree', () => {
    const cat = readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'asset_id', checkImages: false });
    const votes = voteCounts(cat, GZ2, { fractions: '{answer}_weighted_fraction', total: 'total_classifications' });
    const total = cat.numbers('total_classifications');
    const [t01, t02] = GZ2.questions;
    const A = votes.answers.length;
    for (let i = 0; i < cat.length; i++) {
      assert.equal(questionTotal(votes, i, t01!), total[i]);
      // T02 is asked of "features or disk" voters; all-blank or all-zero T02 fractions (nobody answered) give none.
      const n2 = questionTotal(votes, i, t02!);
      const reached = t02!.answers.some((a) => Number(cat.rows[i]![`${a.key}_weighted_fraction`]) > 0);
      assert.equal(n2, reached ? votes.counts[i * A + 1] : 0, `row ${i + 2}`);
    }
  });

  it('GZ1 classes become one vote each, matching the shared catalogue\'s class counts', () => {
    const cat = readCatalog(resolveDataPath('gz1-sdss-4019/catalog.csv'), { idCol: 'objid_dr7', checkImages: false });
    const votes = voteCounts(cat, GZ1, { classColumn: 'gz1_class_name' });
    const perAnswer = votes.answers.map((_, j) => share(cat.length, (i) => votes.counts[i * 6 + j] === 1) * cat.length);
    assert.deepEqual(perAnswer.map(Math.round), [2000, 414, 436, 998, 56, 115]);
    const codes = voteCounts(cat, GZ1, { classColumn: 'gz1_class', classValues: Object.fromEntries(GZ1.answerKeys().map((k, i) => [String(i), k])) });
    assert.deepEqual(codes.counts, votes.counts, 'numeric codes 0-5 follow the same order');
  });

  it('NaN, negative and non-answer votes are refused, naming file, row and column', () => {
    const file = path.join(tempDir(), 'votes.csv');
    const one = defineSchema({ name: 'one', questions: [{ key: 'q', text: '?', requires: [], answers: [{ key: 'yes', label: 'yes' }, { key: 'no', label: 'no' }] }] });
    fs.writeFileSync(file, 'id,yes,no,cls\na,3,1,yes\nb,-2,1,no\n');
    const cat = readCatalog(file, { imageCol: null });
    assert.throws(() => voteCounts(cat, one, { counts: '{answer}' }), new RegExp(`votes\\.csv, row 3 \\(id b\\): column 'yes' holds -2: vote counts cannot be negative`));
    fs.writeFileSync(file, 'id,yes,no,cls\na,3,NaN,maybe\n');
    assert.throws(() => voteCounts(readCatalog(file, { imageCol: null }), one, { counts: '{answer}' }), /row 2 \(id a\): column 'no' is blank or NaN/);
    assert.throws(() => voteCounts(readCatalog(file, { imageCol: null }), one, { classColumn: 'cls' }), /column 'cls' holds 'maybe', which is no answer of schema 'one' \(yes, no\)/);
    assert.throws(() => voteCounts(readCatalog(file, { imageCol: null }), one, { counts: '{answer}_count' }), /has no column 'yes_count', 'no_count'\. Columns present: id, yes, no, cls/);
  });

  it('user-defined schemas are checked: unknown parents and duplicate answers are named', () => {
    const q = (key: string, requires: string[] = []) => ({ key, text: key, requires, answers: [{ key: `${key}_a`, label: 'a' }] });
    assert.throws(() => defineSchema({ name: 'bad', questions: [q('x', ['y_a']), q('y')] }), /question 'x' requires answer 'y_a', which no earlier question has/);
    assert.throws(() => defineSchema({ name: 'bad', questions: [q('x'), { ...q('y'), answers: [{ key: 'x_a', label: 'again' }] }] }), /answer 'x_a' is defined twice/);
    assert.equal(defineSchema({ name: 'ok', questions: [q('x'), q('y', ['x_a'])] }).answerCount, 2);
  });
});
