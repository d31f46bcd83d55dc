import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCatalog } from '../src/data/catalog';
import { resolveDataPath } from '../src/paths';
import { GZ2 } from '../src/schemas/galaxy-zoo';
import { KAGGLE_COLUMNS, KAGGLE_QUESTIONS, kaggleRmse, readKaggleCumulative, toKaggleCumulative } from '../src/schemas/kaggle';
import { loadVoteDataset } from '../src/schemas/vote-datasets';
import { questionTotal, voteCounts, voteFractions } from '../src/schemas/votes';
import { tempDir } from './support/fixtures';

const K = KAGGLE_COLUMNS.length;

describe('Kaggle Galaxy Challenge format', () => {
  const cat = readCatalog(resolveDataPath('gz2-kaggle-5000/catalog.csv'), { checkImages: false });
  const truth = readKaggleCumulative(cat);

  it('maps Class1.1...Class11.6 to the 37 GZ2 answers by meaning (the competition\'s answer order)', () => {
    const kaggleOrder = [
      ['smooth', 'features or disk', 'star or artifact'], ['yes', 'no'], ['bar', 'no bar'], ['spiral', 'no spiral'],
      ['no bulge', 'just noticeable', 'obvious', 'dominant'], ['yes', 'no'], ['completely round', 'in between', 'cigar shaped'],
      ['ring', 'lens or arc', 'disturbed', 'irregular', 'other', 'merger', 'dust lane'], ['rounded', 'boxy', 'no bulge'],
      ['tight', 'medium', 'loose'], ['1', '2', '3', '4', 'more than 4', "can't tell"],
    ];
    const label = new Map(GZ2.questions.flatMap((q) => q.answers.map((a) => [a.key, a.label] as const)));
    assert.deepEqual(KAGGLE_QUESTIONS.map((q) => q.answers.map((a) => label.get(a))), kaggleOrder);
    assert.deepEqual(KAGGLE_QUESTIONS.map((q) => q.question.key), GZ2.questions.map((q) => q.key));
    assert.equal(K, 37);
    assert.deepEqual(truth.columns, ['Class1', 'Class2', 'Class6', 'Class7', 'Class8'].flatMap((q) => KAGGLE_COLUMNS.filter((c) => c.startsWith(`${q}.`))));
  });

  it('every row of the 4,997-galaxy catalogue round-trips: cumulative -> counts -> fractions -> cumulative', () => {
    const present = truth.columns;
    const t06 = GZ2.question('t06_odd');
    for (const nominal of [43, 1e6]) {
      const votes = voteCounts(cat, GZ2, { kaggle: true, nominalTotal: nominal });
      const back = toKaggleCumulative(voteFractions(votes));
      let worst = 0;
      for (let i = 0; i < cat.length; i++) {
        // Each column is one or two roundings to whole votes deep (Class1 -> Class2/7, Class6 -> Class8),
        // each off by less than one vote of the question's root: nominal for Class1, the t06 votes for Class6.
        const tolerance = 2 / questionTotal(votes, i, t06) + 1e-5;
        for (const c of present) {
          const j = i * K + KAGGLE_COLUMNS.indexOf(c);
          const d = Math.abs(back[j]! - truth.values[j]!);
          worst = Math.max(worst, d);
          assert.ok(d <= tolerance, `row ${i + 2}, ${c}: ${back[j]} against ${truth.values[j]} (nominal ${nominal})`);
        }
      }
      // With a million volunteers rounding vanishes: what is left is the catalogue's own 1e-6 noise.
      if (nominal === 1e6) assert.ok(worst < 5e-6, `worst ${worst}`);
      assert.ok(kaggleRmse(back, truth.values, present) < (nominal === 43 ? 0.01 : 1e-5));
    }
  });

  it('the manifest gives GZ2 counts of 43 nominal volunteers, and absent questions no votes', () => {
    const d = loadVoteDataset('gz2-kaggle-5000');
    assert.equal(d.schema, 'gz2');
    assert.match(d.method, /x 43 nominal volunteers \(assumed.*no votes for t03_bar, t04_spiral, t05_bulge_prominence, t09_bulge_shape, t10_arms_winding, t11_arms_number/);
    const table = { schema: GZ2, ids: d.catalog.ids(), answers: GZ2.answerKeys(), counts: d.counts, method: 'kaggle' as const };
    const A = GZ2.answerCount;
    for (let i = 0; i < d.catalog.length; i++) {
      assert.equal(questionTotal(table, i, GZ2.question('t01_smooth_or_features')), 43);
      // GZ2 asks t06 after smooth or features, so star/artifact voters do not reach it.
      assert.equal(questionTotal(table, i, GZ2.question('t06_odd')), 43 - d.counts[i * A + 2]!);
      for (const q of ['t03_bar', 't04_spiral', 't05_bulge_prominence', 't09_bulge_shape', 't10_arms_winding', 't11_arms_number']) {
        assert.equal(questionTotal(table, i, GZ2.question(q)), 0, `${q}, row ${i + 2}`);
      }
    }
  });

  it('refuses a bad value, inconsistent sums and a partial question, naming row and column', () => {
    const file = path.join(tempDir(), 'kaggle.csv');
    const header = 'id,Class1.1,Class1.2,Class1.3,Class2.1,Class2.2';
    const check = (rows: string[], message: RegExp, head = header) => {
      fs.writeFileSync(file, [head, ...rows].join('\n') + '\n');
      assert.throws(() => voteCounts(readCatalog(file, { imageCol: null }), GZ2, { kaggle: true }), message);
    };
    const good = 'a,0.5,0.4,0.1,0.1,0.3';
    check([good, 'b,0.5,1.5,0.1,0.1,0.3'], /kaggle\.csv, row 3 \(id b\): column 'Class1\.2' holds 1\.5: a Kaggle value must be a number in \[0, 1\]/);
    check([good, 'c,0.5,0.4,0.1,abc,0.3'], /row 3 \(id c\): column 'Class2\.1' holds 'abc', not a number/);
    check([good, 'd,0.5,0.3,0.1,0.1,0.2'], /row 3 \(id d\): column 'Class1\.\*' sums to 0\.9.*not 1/);
    check([good, 'e,0.5,0.4,0.1,0.2,0.3'], /row 3 \(id e\): column 'Class2\.\*' sums to 0\.5.*but Class1\.2, the share who reached the question, is 0\.4/);
    check(['a,0.5,0.4,0.1,0.1'], /kaggle\.csv: Kaggle question Class2 \(t02_edgeon\) is partial: column\(s\) 'Class2\.2' missing/, 'id,Class1.1,Class1.2,Class1.3,Class2.1');
    check([`${good},0,0,0,0,0,0,0`], /has Kaggle question Class8 but not Class6\.1, which lead\(s\) to it/, `${header},Class8.1,Class8.2,Class8.3,Class8.4,Class8.5,Class8.6,Class8.7`);
    check(['a,0.5,0.5,0'], /has no Kaggle question Class1 \(columns Class1\.1, Class1\.2, Class1\.3\)/, 'id,Class7.1,Class7.2,Class7.3');
    // Only whole questions, and a question nobody reached (sum 0) gets no votes.
    fs.writeFileSync(file, `${header}\n${good}\nz,1,0,0,0,0\n`);
    const votes = voteCounts(readCatalog(file, { imageCol: null }), GZ2, { kaggle: true, nominalTotal: 10 });
    assert.deepEqual([...votes.counts.subarray(0, 5)], [5, 4, 1, 1, 3]);
    assert.deepEqual([...votes.counts.subarray(37, 42)], [10, 0, 0, 0, 0]);
    assert.throws(() => voteCounts(readCatalog(file, { imageCol: null }), GZ2, { kaggle: true, nominalTotal: 4.5 }), /positive whole number of volunteers, got 4\.5/);
  });

  it('toKaggleCumulative multiplies each question by its reach (a hand-computed galaxy), and kaggleRmse scores the given columns', () => {
    const f: Record<string, number[]> = {
      t01_smooth_or_features: [0.5, 0.4, 0.1], t02_edgeon: [0.25, 0.75], t03_bar: [0.2, 0.8], t04_spiral: [0.6, 0.4],
      t05_bulge_prominence: [0.1, 0.2, 0.3, 0.4], t06_odd: [0.2, 0.8], t07_rounded: [0.5, 0.3, 0.2],
      t08_odd_feature: [0.5, 0, 0, 0, 0, 0.25, 0.25], t09_bulge_shape: [1, 0, 0], t10_arms_winding: [0.5, 0.5, 0], t11_arms_number: [0, 0.5, 0, 0, 0, 0.5],
    };
    const out = toKaggleCumulative(GZ2.questions.flatMap((q) => f[q.key]!));
    const expected = [
      0.5, 0.4, 0.1, // Class1: everyone
      0.1, 0.3, // Class2 x Class1.2 = 0.4
      0.06, 0.24, 0.18, 0.12, 0.03, 0.06, 0.09, 0.12, // Class3, 4, 5 x Class2.2 = 0.3
      0.2, 0.8, // Class6: everyone
      0.25, 0.15, 0.1, // Class7 x Class1.1 = 0.5
      0.1, 0, 0, 0, 0, 0.05, 0.05, // Class8 x Class6.1 = 0.2
      0.1, 0, 0, // Class9 x Class2.1 = 0.1
      0.09, 0.09, 0, 0, 0.09, 0, 0, 0, 0.09, // Class10, 11 x Class4.1 = 0.18
    ];
    expected.forEach((v, j) => assert.ok(Math.abs(out[j]! - v) < 1e-12, `${KAGGLE_COLUMNS[j]}: ${out[j]} against ${v}`));
    const moved = Float64Array.from(out);
    moved[0] += 0.3; // Class1.1
    moved[36] += 0.4; // Class11.6
    assert.ok(Math.abs(kaggleRmse(moved, out) - Math.sqrt((0.09 + 0.16) / 37)) < 1e-12);
    assert.ok(Math.abs(kaggleRmse(moved, out, ['Class1.1', 'Class1.2']) - Math.sqrt(0.09 / 2)) < 1e-12);
    assert.throws(() => kaggleRmse(moved, out, ['Class12.1']), /no Kaggle column Class12\.1/);
    assert.throws(() => kaggleRmse(moved, toKaggleCumulative(new Float64Array(37).fill(NaN))), /galaxy 0, column Class1\.1: the true value is NaN/);
  });
});
