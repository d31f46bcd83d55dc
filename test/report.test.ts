import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';
import { buildReport, readRunManifest, recordOutput } from '../src/report/report';
import { PAPER_VALUES } from '../src/report/paper';
import { toCsv, toMarkdown, writeTable } from '../src/report/tables';
import { tempDir } from './support/fixtures';

describe('tables and the reproduction report', () => {
  it('CSV keeps full precision and quotes what needs quoting; Markdown rounds for reading', () => {
    const rows = [{ tag: 'lens, arc', precision: 0.123456789, n: 3 }, { tag: 'ring "R"', precision: null, n: 10 }];
    const parsed = Papa.parse<Record<string, string>>(toCsv(rows), { header: true, skipEmptyLines: true }).data;
    assert.deepEqual(parsed, [{ tag: 'lens, arc', precision: '0.123456789', n: '3' }, { tag: 'ring "R"', precision: '', n: '10' }]);
    assert.equal(toMarkdown(rows), '| tag | precision | n |\n| --- | --- | --- |\n| lens, arc | 0.1235 | 3 |\n| ring "R" |  | 10 |\n');
  });

  it('puts each table beside the paper values registered under its name', () => {
    const out = tempDir();
    writeTable([{ method: 'gp', n_labels: 200, metric: 'precision@50', mean: 0.9 }], path.join(out, 'tables'), 'anomaly');
    writeTable([{ dataset: 'x', galaxies: 3 }], path.join(out, 'tables'), 'local-only');
    writeTable(Array.from({ length: 70 }, (_, i) => ({ k: i })), path.join(out, 'tables'), 'long');
    fs.mkdirSync(path.join(out, 'figures'));
    fs.writeFileSync(path.join(out, 'figures', 'f.png'), '');
    const text = buildReport({ outDir: out, notebooks: [{ notebook: 'n.ipynb', seconds: 1.25, html: path.join(out, 'notebooks', 'n.html') }], backend: 'backend: cpu', started: new Date(0) });
    assert.ok(text.includes('| n.ipynb | 1.3 | [notebooks/n.html](notebooks/n.html) |'));
    assert.ok(text.includes('| gp | 200 | precision@50 | 0.9 |'));
    for (const v of PAPER_VALUES.anomaly!.values) assert.ok(text.includes(`| ${v.quantity} | ${v.paper} |`));
    assert.ok(/### local-only[\s\S]*Paper: no counterpart/.test(text));
    assert.ok(text.includes('![f.png](figures/f.png)'));
    assert.ok(text.includes('Measured here: 70 rows, in [csv](tables/long.csv) and [md](tables/long.md).'), 'long tables are linked, not copied');
    assert.ok(!text.includes('| 69 |'));
  });

  it('with a run manifest, reports only that run\'s tables and figures, and the settings that ran', () => {
    const out = tempDir();
    const tables = path.join(out, 'tables');
    // Left by an earlier run: must not appear in this run's report.
    writeTable([{ stale: 1 }], tables, 'anomaly');
    fs.mkdirSync(path.join(out, 'figures'));
    fs.writeFileSync(path.join(out, 'figures', 'old.png'), '');
    const files = writeTable([{ start: 'galmorph', 'acc@79': '0.8 ± 0.01' }], tables, 'rings-summary');
    recordOutput(out, 'r1', { kind: 'table', name: 'rings-summary', files });
    recordOutput(out, 'r1', { kind: 'table', name: 'rings-summary', files }); // written twice: reported once
    fs.writeFileSync(path.join(out, 'figures', 'new.png'), '');
    fs.writeFileSync(path.join(out, 'figures', 'new.svg'), '');
    recordOutput(out, 'r1', { kind: 'figure', name: 'new', files: [path.join(out, 'figures', 'new.png'), path.join(out, 'figures', 'new.svg')] });
    const settings = writeTable([{ setting: 'QUICK', value: 'true' }, { setting: 'REPEATS', value: '10' }], tables, 'settings-04');
    recordOutput(out, 'r1', { kind: 'settings', name: '04', files: settings });
    recordOutput(out, 'other-run', { kind: 'table', name: 'anomaly', files: [] });
    const outputs = readRunManifest(out, 'r1');
    assert.equal(outputs.length, 3);
    const text = buildReport({ outDir: out, notebooks: [], backend: 'backend: cpu', started: new Date(0), outputs, settings: 'quick' });
    assert.ok(text.includes('- settings: quick'));
    assert.ok(/## Settings that ran\n\n### 04\n\n\| setting \| value \|[\s\S]*\| REPEATS \| 10 \|/.test(text), text);
    assert.ok(text.includes('### rings-summary'));
    assert.ok(!text.includes('### anomaly') && !text.includes('stale'), 'a table this run did not write is left out');
    assert.ok(!text.includes('### settings-04'), 'settings are not repeated as a result table');
    assert.ok(text.includes('![new.png](figures/new.png)') && text.includes('- [new.svg](figures/new.svg)'));
    assert.ok(!text.includes('old.png'));
    assert.deepEqual(readRunManifest(out, 'never-ran'), []);
    assert.throws(() => readRunManifest(out, '../x'), /run id '\.\.\/x' may use only/);
  });
});
