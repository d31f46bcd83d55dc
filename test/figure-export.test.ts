import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { closeSharedRenderer, exportFigure, FigureRenderer } from '../src/plots/export';
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

  it('renders without any network request', async () => {
    const r = await FigureRenderer.launch();
    try {
      const png = await r.render(scatter([1], [1]), 'png', { width: 200, height: 150 });
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
