import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';
import { buildReport } from '../src/report/report';
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
});
