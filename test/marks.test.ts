/**
 * Marks over tidy rows (src/plots/marks.ts) and the table helpers the notebooks use with them.
 * Figure specs are compared with JSON snapshots in test/fixtures/snapshots/: a missing snapshot
 * fails, unless UPDATE_SNAPSHOTS=1 (which writes or rewrites them; review the diff before committing).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lossFigure } from '../src/plots/loss';
import { bar, dot, errorBars, figure, line, ruleX, ruleY } from '../src/plots/marks';
import type { Figure } from '../src/plots/figure';
import { formatMeanStd, summariseBy } from '../src/report/summary';
import { pivot, TableRow } from '../src/report/tables';
import { tempDir } from './support/fixtures';

const SNAPSHOTS = path.join(__dirname, 'fixtures', 'snapshots');

/** Compares a figure with `<dir>/<name>.json`; writes it instead when `update`. Throws on a mismatch or a missing snapshot. */
function checkSnapshot(dir: string, name: string, fig: Figure, update: boolean): 'matched' | 'written' {
  const file = path.join(dir, `${name}.json`);
  const text = `${JSON.stringify(fig, null, 2)}\n`;
  if (update) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, text);
    return 'written';
  }
  if (!fs.existsSync(file)) throw new Error(`snapshot ${path.relative(process.cwd(), file)} is missing: run with UPDATE_SNAPSHOTS=1 to write it`);
  assert.deepEqual(JSON.parse(text), JSON.parse(fs.readFileSync(file, 'utf8')), `figure differs from snapshot ${name}.json (UPDATE_SNAPSHOTS=1 rewrites it)`);
  return 'matched';
}

const matchesSnapshot = (name: string, fig: Figure) => checkSnapshot(SNAPSHOTS, name, fig, process.env.UPDATE_SNAPSHOTS === '1');

// A learning curve's summary rows, as summariseCurve writes them (out of x order on purpose).
const CURVE: TableRow[] = [
  { start: 'galmorph', depth: 'head', n_rings: 79, metric: 'accuracy', mean: 0.82, std: 0.03, repeats: 5 },
  { start: 'galmorph', depth: 'head', n_rings: 79, metric: 'auc', mean: 0.9, std: 0.02, repeats: 5 },
  { start: 'galmorph', depth: 'head', n_rings: 2, metric: 'accuracy', mean: 0.61, std: 0.1, repeats: 5 },
  { start: 'galmorph', depth: 'head', n_rings: 2, metric: 'auc', mean: 0.66, std: 0.12, repeats: 5 },
  { start: 'imagenet-mobilenetv2', depth: 'head', n_rings: 2, metric: 'accuracy', mean: 0.55, std: 0.08, repeats: 5 },
  { start: 'imagenet-mobilenetv2', depth: 'head', n_rings: 79, metric: 'accuracy', mean: 0.7345678, std: 0.0412, repeats: 5 },
  { start: 'scratch-galmorph-cnn', depth: 'all', n_rings: 79, metric: 'accuracy', mean: NaN, std: NaN, repeats: 5 },
];

function learningCurveFigure(): Figure {
  const colours: Record<string, string> = { galmorph: '#1f77b4', 'imagenet-mobilenetv2': '#ff7f0e' };
  return figure(
    [
      errorBars(CURVE, {
        x: 'n_rings',
        z: (r) => `${r.start} (${r.depth})`,
        filter: (r) => r.metric === 'accuracy',
        tip: ['repeats'],
        style: (r) => ({ color: colours[String(r.start)], dash: r.depth === 'all' ? 'dashdot' : 'solid' }),
      }),
      dot([{ n: 79, accuracy: 0.857, label: 'paper' }], { x: 'n', y: 'accuracy', text: 'label', name: 'paper (Walmsley et al. 2022)', textPosition: 'middle left', style: { symbol: 'star', size: 12, color: 'black' } }),
      ruleY([0.5], { name: 'random' }),
    ],
    { title: 'Rings', x: { label: 'rings', type: 'log', ticks: [2, 79] }, y: { label: 'accuracy', range: [0.4, 0.9] } },
  );
}

describe('marks over tidy rows', () => {
  it('a learning curve: one series per z in first-seen order, sorted by x, mean ± std error bars, gaps for NaN', () => {
    const fig = learningCurveFigure();
    assert.deepEqual(fig.data.map((t) => t.name), ['galmorph (head)', 'imagenet-mobilenetv2 (head)', 'scratch-galmorph-cnn (all)', 'paper (Walmsley et al. 2022)', 'random']);
    const [galmorph, imagenet, scratch] = fig.data;
    assert.deepEqual(galmorph!.x, [2, 79]);
    assert.deepEqual(galmorph!.y, [0.61, 0.82]);
    assert.deepEqual((galmorph!.error_y as { array: number[] }).array, [0.1, 0.03]);
    assert.deepEqual(imagenet!.customdata, [['0.080', '5'], ['0.041', '5']]);
    assert.deepEqual(scratch!.y, [null]);
    assert.equal((galmorph!.line as { color: string }).color, '#1f77b4');
    assert.equal(galmorph!.hovertemplate, '<b>galmorph (head)</b><br>n_rings: %{x:.3~f}<br>mean: %{y:.3f} ± %{customdata[0]}<br>repeats: %{customdata[1]}<extra></extra>');
    const layout = fig.layout as Record<string, Record<string, unknown>>;
    assert.deepEqual(layout.xaxis!.range, undefined);
    assert.equal(layout.xaxis!.type, 'log');
    assert.deepEqual(layout.xaxis!.tickvals, [2, 79]);
    assert.deepEqual(layout.yaxis!.range, [0.4, 0.9]);
    // The reference line spans the plot on a hidden overlaying axis, whatever the data's x range.
    assert.deepEqual(fig.data[4]!.x, [0, 1]);
    assert.deepEqual(fig.data[4]!.y, [0.5, 0.5]);
    assert.equal(fig.data[4]!.xaxis, 'x2');
    assert.deepEqual(layout.xaxis2, { overlaying: 'x', range: [0, 1], visible: false, fixedrange: true });
    assert.equal(matchesSnapshot('learning-curve', fig), process.env.UPDATE_SNAPSHOTS === '1' ? 'written' : 'matched');
  });

  it('is deterministic: the same rows give the same spec', () => {
    assert.equal(JSON.stringify(learningCurveFigure()), JSON.stringify(learningCurveFigure()));
  });

  it('grouped bars on a categorical axis, with horizontal rules from rows', () => {
    const rows = [
      { tag: 'ring', features: 'galmorph', 'precision@7': 0.61 },
      { tag: 'ring', features: 'random', 'precision@7': 0.5 },
      { tag: '1237', features: 'galmorph', 'precision@7': 0.2 },
      { tag: '1237', features: 'random', 'precision@7': 0.05 },
    ];
    const baselines = [{ method: 'isolation forest', mean: 0.3 }];
    const fig = figure([bar(rows, { x: 'tag', y: 'precision@7', z: 'features' }), ruleY(baselines, { y: 'mean', z: 'method' })], { y: { label: 'precision@7', range: [0, 1] } });
    assert.deepEqual(fig.data.map((t) => [t.type, t.name]), [['bar', 'galmorph'], ['bar', 'random'], ['scatter', 'isolation forest']]);
    assert.deepEqual(fig.data[1]!.x, ['ring', '1237']);
    const layout = fig.layout as Record<string, Record<string, unknown> | string | boolean>;
    assert.equal(layout.barmode, 'group');
    // Digit-only ids stay categories instead of becoming numbers.
    assert.equal((layout.xaxis as Record<string, unknown>).type, 'category');
    assert.equal(layout.showlegend, true);
    assert.equal((fig.data[2]!.line as { dash: string }).dash, 'dot');
    assert.equal(matchesSnapshot('grouped-bars', fig), process.env.UPDATE_SNAPSHOTS === '1' ? 'written' : 'matched');
  });

  it('dots with a galaxy id in the hover label and a vertical rule', () => {
    const rows = [
      { id: 'g1', answer: 'smooth', volunteer: 0.2, predicted: 0.25123 },
      { id: 'g2', answer: 'smooth', volunteer: 0.8, predicted: 0.7 },
      { id: 'g1', answer: 'bar', volunteer: 0.1, predicted: 0.3 },
    ];
    const fig = figure(
      [dot(rows, { x: 'volunteer', y: 'predicted', z: 'answer', title: 'id', digits: 2 }), line([{ v: 0 }, { v: 1 }], { x: 'v', y: 'v', name: 'perfect', markers: false, style: { dash: 'dot', color: 'grey' } }), ruleX([0.5])],
      { x: 'volunteer fraction', y: 'predicted fraction' },
    );
    assert.deepEqual(fig.data.map((t) => t.name), ['smooth', 'bar', 'perfect', '']);
    assert.deepEqual(fig.data[0]!.customdata, [['g1'], ['g2']]);
    assert.equal(fig.data[0]!.hovertemplate, '<b>%{customdata[0]}</b><br>volunteer: %{x:.2~f}<br>predicted: %{y:.2f}<extra>smooth</extra>');
    assert.equal(fig.data[2]!.mode, 'lines');
    assert.equal(fig.data[3]!.showlegend, false);
    assert.equal(fig.data[3]!.yaxis, 'y2');
    assert.ok((fig.layout as Record<string, unknown>).yaxis2);
    assert.equal(matchesSnapshot('dots-and-rules', fig), process.env.UPDATE_SNAPSHOTS === '1' ? 'written' : 'matched');
  });

  it('the loss curve: train and validation series from training records', () => {
    const fig = lossFigure(
      [
        { epoch: 1, train_loss: 10.5, val_loss: 11.25 },
        { epoch: 2, train_loss: 9.125, val_loss: 10.75 },
      ],
      'Training',
    );
    assert.deepEqual(fig.data.map((t) => [t.name, t.x, t.y]), [['train', [1, 2], [10.5, 9.125]], ['validation', [1, 2], [11.25, 10.75]]]);
    assert.equal(matchesSnapshot('loss-curve', fig), process.env.UPDATE_SNAPSHOTS === '1' ? 'written' : 'matched');
  });

  it('a missing snapshot fails unless asked to write it; a changed figure fails', () => {
    const dir = tempDir();
    const fig = figure([line([{ a: 1, b: 2 }], { x: 'a', y: 'b' })]);
    assert.throws(() => checkSnapshot(dir, 'new', fig, false), /snapshot .*new\.json is missing: run with UPDATE_SNAPSHOTS=1/);
    assert.equal(checkSnapshot(dir, 'new', fig, true), 'written');
    assert.equal(checkSnapshot(dir, 'new', fig, false), 'matched');
    assert.throws(() => checkSnapshot(dir, 'new', figure([line([{ a: 1, b: 3 }], { x: 'a', y: 'b' })]), false), /differs from snapshot new\.json/);
  });
});

describe('tables for notebooks: pivot and mean ± std', () => {
  it('formats a summary as mean ± std to 3 decimals', () => {
    assert.equal(formatMeanStd({ mean: 0.81234, std: 0.0345 }), '0.812 ± 0.035');
    assert.equal(formatMeanStd({ mean: 2, std: 0 }, 1), '2.0 ± 0.0');
  });

  it('pivots long summary rows into a wide mean ± std table, first-seen order by default', () => {
    const wide = pivot(CURVE, { row: ['start', 'depth'], column: (r) => `${r.metric === 'auc' ? 'auc' : 'acc'}@${r.n_rings}`, value: formatMeanStd });
    assert.deepEqual(wide, [
      { start: 'galmorph', depth: 'head', 'acc@79': '0.820 ± 0.030', 'auc@79': '0.900 ± 0.020', 'acc@2': '0.610 ± 0.100', 'auc@2': '0.660 ± 0.120' },
      { start: 'imagenet-mobilenetv2', depth: 'head', 'acc@79': '0.735 ± 0.041', 'auc@79': '', 'acc@2': '0.550 ± 0.080', 'auc@2': '' },
      { start: 'scratch-galmorph-cnn', depth: 'all', 'acc@79': 'NaN ± NaN', 'auc@79': '', 'acc@2': '', 'auc@2': '' },
    ]);
  });

  it('takes the rows and columns to show, in order, filling the cells with no data', () => {
    const wide = pivot(CURVE.filter((r) => r.metric === 'accuracy'), {
      row: ['start', 'depth'],
      column: 'n_rings',
      value: 'mean',
      columns: ['2', '79', '188'],
      rows: [{ start: 'imagenet-mobilenetv2', depth: 'head' }, { start: 'scratch-mobilenetv1', depth: 'head' }],
      missing: null,
    });
    assert.deepEqual(wide, [
      { start: 'imagenet-mobilenetv2', depth: 'head', '2': 0.55, '79': 0.7345678, '188': null },
      { start: 'scratch-mobilenetv1', depth: 'head', '2': null, '79': null, '188': null },
    ]);
  });

  it('refuses two rows for one cell', () => {
    assert.throws(() => pivot(CURVE, { row: ['start'], column: 'n_rings', value: 'mean' }), /pivot has two rows for \["galmorph"\], column '79'; filter the rows first/);
  });

  it('summariseBy gives mean, sample std (n − 1) and repeats per group, which errorBars reads', () => {
    const runs = [
      { start: 'a', n: 2, accuracy: 0.5 },
      { start: 'a', n: 2, accuracy: 0.7 },
      { start: 'a', n: 5, accuracy: 0.9 },
    ];
    const table = summariseBy(runs, ['start', 'n'], (r) => r.accuracy);
    assert.equal(table.length, 2);
    assert.ok(Math.abs((table[0]!.std as number) - Math.sqrt(0.02)) < 1e-12);
    const [trace] = errorBars(table, { x: 'n', z: 'start' });
    assert.deepEqual(trace!.x, [2, 5]);
    assert.ok(Math.abs((trace!.y as number[])[0]! - 0.6) < 1e-12);
    assert.deepEqual((trace!.error_y as { array: number[] }).array, [table[0]!.std, 0]);
  });
});
