import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { closeSharedRenderer, exportFigure, FigureRenderer, keepRendererAlive, rendererLaunches } from '../src/plots/export';
import { histogram, overlay, scatter } from '../src/plots/figure';
import { tempDir } from './support/fixtures';

describe('figure export through headless Chromium', () => {
  after(() => closeSharedRenderer());

  it('writes a PNG of the requested size with real, non-blank pixels', async () => {
    const dir = tempDir();
    const fig = scatter([0, 1, 2, 3, 4], [0, 1, 4, 9, 16], { title: 'squares', x: 'n', y: 'n²' });
    const files = await exportFigure(fig, path.join(dir, 'sq'), { width: 400, height: 300, scale: 2, formats: ['png'] });
    assert.deepEqual(files, [path.join(dir, 'sq.png')]);
    const { data, info } = await sharp(files[0]!).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [800, 600], 'width x height x scale');
    let nonWhite = 0;
    let coloured = 0;
    for (let i = 0; i < data.length; i += 3) {
      const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
      if (r < 240 || g < 240 || b < 240) nonWhite++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++; // marker colour, not grey axes/text
    }
    assert.ok(nonWhite > 2000, `axes, text and markers drawn (${nonWhite} non-white pixels)`);
    assert.ok(coloured > 100, `markers drawn in colour (${coloured} pixels)`);
  });

  it('writes an SVG holding the plot marks: one path per scatter point, one bar per histogram bin', async () => {
    const dir = tempDir();
    const x = [0.1, 0.4, 0.35, 0.8, 0.9, 0.15, 0.6];
    const fig = overlay(scatter(x, x.map((v) => 1 - v), { name: 'galaxies' }), scatter([0.5], [0.5], { name: 'query' }));
    const [file] = await exportFigure(fig, path.join(dir, 'marks'), { formats: ['svg'] });
    const svg = fs.readFileSync(file!, 'utf8');
    assert.ok(svg.startsWith('<svg'));
    assert.equal((svg.match(/class="point"/g) ?? []).length, x.length + 1);
    assert.ok(svg.includes('class="scatterlayer'));
    const [hfile] = await exportFigure(histogram([1, 1, 2, 3, 3, 3], { nbins: 3 }), path.join(dir, 'hist'), { formats: ['svg'] });
    assert.equal((fs.readFileSync(hfile!, 'utf8').match(/class="point"/g) ?? []).length, 3, 'one bar per bin');
  });

  it('by default writes PNG at scale 2, SVG and a one-page vector PDF of the figure\'s size', async () => {
    const dir = tempDir();
    const fig = scatter([0.1, 0.5, 0.9], [0.9, 0.5, 0.1], { title: 'three galaxies', x: 'smooth', y: 'featured', text: ['g1', 'g2', 'g3'] });
    const files = await exportFigure(fig, path.join(dir, 'pub'), { width: 400, height: 300 });
    assert.deepEqual(files.map((f) => path.basename(f)), ['pub.png', 'pub.svg', 'pub.pdf']);
    const png = await sharp(files[0]!).metadata();
    assert.deepEqual([png.width, png.height], [800, 600]);
    const pdf = fs.readFileSync(files[2]!).toString('latin1');
    assert.ok(pdf.startsWith('%PDF-'));
    assert.equal((pdf.match(/\/Type\s*\/Page\b/g) ?? []).length, 1, 'one page');
    // 400 x 300 CSS px are 300 x 225 pt.
    const box = /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(pdf);
    assert.ok(box, 'a MediaBox');
    assert.deepEqual([Math.round(Number(box[1])), Math.round(Number(box[2]))], [300, 225]);
    assert.ok(!/\/Subtype\s*\/Image/.test(pdf), 'vector: no raster image inside');
    assert.ok(/\/Font/.test(pdf), 'text kept as text');
  });

  it('in a notebook kernel one Chromium serves every save, however far apart', async () => {
    await closeSharedRenderer();
    keepRendererAlive();
    try {
      const dir = tempDir();
      const before = rendererLaunches();
      for (const n of [1, 2, 3]) {
        await exportFigure(scatter([n], [n]), path.join(dir, `f${n}`), { width: 200, height: 150, formats: ['png'] });
        // Longer than the idle close outside notebooks, as cells between saves are.
        await new Promise((r) => setTimeout(r, 1800));
      }
      assert.equal(rendererLaunches() - before, 1);
    } finally {
      keepRendererAlive(false);
      await closeSharedRenderer();
    }
  });

  it('scatter hover labels show the galaxy id and rounded values', () => {
    const fig = scatter([0.123456], [0.987654], { x: 'smooth', y: 'featured <b>', text: ['1237648720693755918'], color: [42], colorLabel: 'volunteers' });
    assert.equal(fig.data[0]!.hovertemplate, '<b>%{text}</b><br>smooth: %{x:.3f}<br>featured &lt;b&gt;: %{y:.3f}<br>volunteers: %{marker.color:.0f}<extra></extra>');
    assert.equal(scatter([1], [2], { digits: 1 }).data[0]!.hovertemplate, 'x: %{x:.1f}<br>y: %{y:.1f}<extra></extra>');
  });

  it('renders without any network request', async () => {
    const r = await FigureRenderer.launch();
    try {
      const png = await r.render(scatter([1], [1]), 'png', { width: 200, height: 150, scale: 1 });
      assert.equal((await sharp(png).metadata()).width, 200);
      assert.deepEqual(r.blockedRequests, []);
    } finally {
      await r.close();
    }
  });

  it('names the problem when Chromium is missing', async () => {
    const prev = process.env.GALMORPH_CHROMIUM;
    process.env.GALMORPH_CHROMIUM = '/nonexistent/chromium';
    try {
      await assert.rejects(FigureRenderer.launch(), /needs Chromium.*apt-get install -y chromium/);
    } finally {
      if (prev === undefined) delete process.env.GALMORPH_CHROMIUM;
      else process.env.GALMORPH_CHROMIUM = prev;
    }
  });
});
