import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import {
  galaxyGrid,
  galaxyGridHtml,
  plotHtml,
  resetPlotBundle,
  resultsDir,
  save,
  saveTable,
  setDisplay,
  showGalaxies,
  showPlot,
  showSettings,
  tableHtml,
} from '../kernel/index';
import { readRunManifest } from '../src/report/report';
import { scatter } from '../src/plots/figure';
import { gz2Sample, tempDir } from './support/fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';

type Env = Record<string, string | undefined>;
function setEnv(vars: Env): Env {
  const prev: Env = {};
  for (const [k, v] of Object.entries(vars)) {
    prev[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return prev;
}
function withEnv<T>(vars: Env, fn: () => T): T {
  const prev = setEnv(vars);
  try {
    return fn();
  } finally {
    setEnv(prev);
  }
}
async function withEnvAsync<T>(vars: Env, fn: () => Promise<T>): Promise<T> {
  const prev = setEnv(vars);
  try {
    return await fn();
  } finally {
    setEnv(prev);
  }
}

/** Captures what the helpers send to the notebook. */
function captureDisplay() {
  const outputs: { kind: 'html' | 'text'; value: string }[] = [];
  const prev = setDisplay({ html: (s) => outputs.push({ kind: 'html', value: s }), text: (s) => outputs.push({ kind: 'text', value: s }) });
  return { outputs, restore: () => setDisplay(prev) };
}

describe('kernel display helpers', () => {
  it('galaxy grid embeds each galaxy as a decodable JPEG thumbnail with its id and caption', async () => {
    const cat = gz2Sample(3);
    const ids = cat.ids();
    const html = await galaxyGrid(cat, { ids, captions: (r) => `class ${r.gz2_class} <b>`, size: 96 });
    const imgs = [...html.matchAll(/<img src="data:image\/jpeg;base64,([^"]+)" width="96"/g)];
    assert.equal(imgs.length, 3);
    for (const m of imgs) {
      const meta = await sharp(Buffer.from(m[1]!, 'base64')).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.equal(meta.width, 96);
      assert.equal(meta.height, 96);
    }
    for (const id of ids) assert.ok(html.includes(`>${id}</div>`), `id ${id} shown`);
    assert.ok(html.includes(`class ${cat.rows[0]!.gz2_class} &lt;b&gt;`), 'captions are shown and HTML-escaped');
  });

  it('galaxy grid names an unknown id and a caption count mismatch', async () => {
    const cat = gz2Sample(2);
    await assert.rejects(galaxyGrid(cat, { ids: ['no-such-galaxy'] }), /id 'no-such-galaxy' is not in column 'asset_id'/);
    await assert.rejects(galaxyGrid(cat, { ids: cat.ids(), captions: ['one'] }), /1 captions for 2 galaxies/);
  });

  it('showGalaxies sends the grid to the notebook display', async () => {
    const cap = captureDisplay();
    try {
      await showGalaxies(gz2Sample(2));
    } finally {
      cap.restore();
    }
    assert.equal(cap.outputs.length, 1);
    assert.equal(cap.outputs[0]!.kind, 'html');
    assert.equal((cap.outputs[0]!.value.match(/<img /g) ?? []).length, 2);
  });

  it('plots embed the plotly bundle once per notebook, then only the figure', () => {
    resetPlotBundle();
    const fig = scatter([1, 2, 3], [4, 5, 6], { x: 'a', y: 'b', title: 'T</script>' });
    const cap = captureDisplay();
    try {
      showPlot(fig);
      showPlot(fig);
    } finally {
      cap.restore();
    }
    const [first, second] = cap.outputs.map((o) => o.value);
    assert.ok(first!.includes('plotly.js v3'), 'first plot carries the bundle');
    assert.ok(first!.length > 1_000_000);
    assert.ok(!second!.includes('plotly.js v3'), 'later plots do not');
    assert.ok(second!.length < 5000);
    for (const html of [first!, second!]) {
      assert.ok(html.includes('"x":[1,2,3],"y":[4,5,6]'), 'figure data is in the output');
      assert.ok(html.includes('Plotly.newPlot'));
      assert.ok(!/<script[^>]+src=/.test(html), 'no external script');
    }
    assert.ok(!second!.includes('T</script>'), 'figure text cannot close the script tag');
    assert.equal(plotHtml(fig, { includeBundle: true }).includes('plotly.js v3'), true);
  });

  it('tables show their rows, escaped, and say how many were left out', () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ tag: i === 0 ? 'ring<&>' : `t${i}`, precision: i / 3 }));
    const html = tableHtml(rows, { maxRows: 5, caption: 'demo' });
    assert.equal((html.match(/<tr>/g) ?? []).length, 6); // header + 5
    assert.ok(html.includes('ring&lt;&amp;&gt;'));
    assert.ok(html.includes('<td style="text-align:right;padding:2px 8px">0.3333</td>'));
    assert.ok(html.includes('… 2 more rows'));
  });

  it('saveTable writes CSV and Markdown under GALMORPH_OUT in a run, and records it in the run manifest', () => {
    const out = tempDir();
    const cap = captureDisplay();
    try {
      withEnv({ GALMORPH_OUT: out, GALMORPH_RUN_ID: 'run-1' }, () => saveTable([{ tag: 'ring', k: 1, precision: 0.5 }, { tag: 'merger, major', k: 2, precision: 0.25 }], 'demo-table'));
    } finally {
      cap.restore();
    }
    const csv = Papa.parse<Record<string, string>>(fs.readFileSync(path.join(out, 'tables', 'demo-table.csv'), 'utf8'), { header: true, skipEmptyLines: true });
    assert.deepEqual(csv.data, [{ tag: 'ring', k: '1', precision: '0.5' }, { tag: 'merger, major', k: '2', precision: '0.25' }]);
    const md = fs.readFileSync(path.join(out, 'tables', 'demo-table.md'), 'utf8');
    assert.ok(md.startsWith('| tag | k | precision |\n| --- | --- | --- |\n| ring | 1 | 0.5 |'));
    assert.ok(cap.outputs.some((o) => o.kind === 'html' && o.value.includes('merger, major')));
    assert.deepEqual(readRunManifest(out, 'run-1').map((o) => [o.kind, o.name, o.files.map((f) => path.basename(f))]), [['table', 'demo-table', ['demo-table.csv', 'demo-table.md']]]);
  });

  it('outside a run (an interactive session) tables and settings go to out/interactive/, never over a run\'s tables', () => {
    const out = tempDir();
    const cap = captureDisplay();
    try {
      withEnv({ GALMORPH_OUT: out, GALMORPH_RUN_ID: undefined }, () => {
        assert.equal(resultsDir(), path.join(out, 'interactive'));
        saveTable([{ a: 1 }], 'mine');
        showSettings('nb', { QUICK: true, STARTS: ['galmorph', 'imagenet-mobilenetv2'], REPEATS: 10 });
      });
    } finally {
      cap.restore();
    }
    assert.ok(fs.existsSync(path.join(out, 'interactive', 'tables', 'mine.csv')));
    assert.ok(!fs.existsSync(path.join(out, 'tables')), 'nothing written where REPORT.md looks');
    assert.ok(!fs.existsSync(path.join(out, 'runs')), 'no run manifest');
    const settings = fs.readFileSync(path.join(out, 'interactive', 'tables', 'settings-nb.md'), 'utf8');
    assert.ok(settings.includes('| QUICK | true |'));
    assert.ok(settings.includes('| STARTS | ["galmorph","imagenet-mobilenetv2"] |'), settings);
    assert.ok(cap.outputs.some((o) => o.kind === 'html' && o.value.includes('settings that run (nb)') && o.value.includes('REPEATS')));
  });

  it('save exports PNG and SVG under GALMORPH_OUT and shows the interactive plot', async () => {
    const out = tempDir();
    const cap = captureDisplay();
    try {
      await withEnvAsync({ GALMORPH_OUT: out, GALMORPH_RUN_ID: 'run-2' }, () => save(scatter([0, 1], [1, 0]), 'tiny', { width: 320, height: 240 }));
    } finally {
      cap.restore();
    }
    assert.deepEqual(readRunManifest(out, 'run-2').map((o) => [o.kind, o.name]), [['figure', 'tiny']]);
    const png = await sharp(path.join(out, 'figures', 'tiny.png')).metadata();
    assert.deepEqual([png.width, png.height], [640, 480], 'scale 2 by default');
    assert.ok(fs.readFileSync(path.join(out, 'figures', 'tiny.pdf')).subarray(0, 5).toString() === '%PDF-');
    assert.ok(fs.readFileSync(path.join(out, 'figures', 'tiny.svg'), 'utf8').startsWith('<svg'));
    assert.ok(cap.outputs.some((o) => o.kind === 'html' && o.value.includes('Plotly.newPlot')));
    assert.ok(cap.outputs.some((o) => o.kind === 'text' && /saved .*tiny\.png, .*tiny\.svg, .*tiny\.pdf/.test(o.value)));
    await assert.rejects(save(scatter([0], [0]), '../escape'), /figure name '\.\.\/escape' may use only/);
  });
});
