/**
 * Screenshots of each view of `galmorph serve` (docs/figures/explorer-*.png), taken by headless
 * Chromium on the shared ring set (decals-rings-470) with the committed model, and the "ring"
 * precision quoted in the README. Run: npx tsx scripts/explorer-screenshots.ts [embeddings.parquet]
 * (without an embeddings file the ring set is embedded first).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { initBackend } from '../src/backend/select';
import { readCatalog } from '../src/data/catalog';
import { writeEmbeddings } from '../src/data/embeddings';
import { encode } from '../src/encoders/encode';
import { loadEncoder } from '../src/encoders/registry';
import { loadModel } from '../src/models/predict';
import { projectRoot, resolveDataPath } from '../src/paths';
import { findChromium } from '../src/plots/export';
import { rankingPrecision } from '../src/serve/evaluate';
import { Explorer } from '../src/serve/explorer';
import { startServer } from '../src/serve/server';

async function main(): Promise<void> {
  await initBackend();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'galmorph-explorer-'));
  const catalog = readCatalog(resolveDataPath('decals-rings-470/catalog.csv'), { idCol: 'iauname' });
  let embeddings = process.argv[2];
  if (!embeddings) {
    const encoder = await loadEncoder('galmorph');
    embeddings = path.join(work, 'rings.parquet');
    writeEmbeddings(embeddings, await encode(encoder, catalog));
    encoder.dispose();
  }
  const explorer = Explorer.open({ embeddings, catalog, labels: path.join(work, 'labels.jsonl') });
  await explorer.predict(await loadModel());

  const tagged = new Set(catalog.rows.filter((r) => r.ring === '1').map((r) => r.iauname!));
  const p = rankingPrecision(explorer, 'ring', tagged);
  const fmt = (v: number[]) => v.map((x, i) => `P@${p.k[i]} ${x.toFixed(3)}`).join(', ');
  console.log(`ring: ${tagged.size} of ${explorer.size} tagged (random ${p.random.toFixed(3)})`);
  console.log(`  words "ring" -> ${p.answers.join(', ')}: ${fmt(p.words)}`);
  console.log(`  like these, one ring galaxy (mean of ${p.seeds}): ${fmt(p.likeOne)}`);

  // a researcher who likes rings scores the first two batches
  for (let b = 0; b < 2; b++) for (const id of explorer.anomalyState().queue) explorer.score(id, tagged.has(id) ? 4 : 1);

  const running = await startServer(explorer);
  const browser = await chromium.launch({ executablePath: findChromium(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const out = path.join(projectRoot(), 'docs', 'figures');
  fs.mkdirSync(out, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    await page.route('**/*', (r) => (r.request().url().startsWith(running.url) || r.request().url().startsWith('data:') ? r.continue() : r.abort()));
    await page.goto(running.url);
    await page.waitForSelector('body[data-ready=yes]');
    // Every image in view has loaded (lazy ones below the fold may wait): no blank tiles in a picture.
    const settle = () =>
      page.waitForFunction(() =>
        Array.from(document.querySelectorAll('img')).every((i) => {
          const r = i.getBoundingClientRect();
          const outOfView = r.width === 0 || r.top > window.innerHeight; // another tab's, or below the fold
          return !i.src || outOfView || (i.complete && i.naturalWidth > 0);
        }),
      );
    const first = explorer.ids.find((id) => tagged.has(id))!;
    await page.click(`#browse-grid .tile[data-id="${first}"]`);
    await page.waitForFunction((id) => document.getElementById('detail-id')?.textContent === id, first);
    await settle();
    await page.screenshot({ path: path.join(out, 'explorer-browse.png') });

    await page.click('#detail-like');
    await page.click('#tabs button[data-view=similar]');
    await page.click('#like-rank');
    await page.waitForSelector('#like-grid .tile');
    await settle();
    await page.screenshot({ path: path.join(out, 'explorer-similar.png') });

    await page.click('#tabs button[data-view=describe]');
    await page.fill('#describe-text', 'edge-on with a bulge');
    await page.press('#describe-text', 'Enter');
    await page.waitForSelector('#describe-grid .tile');
    await settle();
    await page.screenshot({ path: path.join(out, 'explorer-describe.png') });

    await page.click('#tabs button[data-view=anomaly]');
    await page.waitForSelector('#anomaly-current[data-ready=yes]');
    await settle();
    await page.screenshot({ path: path.join(out, 'explorer-anomaly.png') });

    await page.click('#tabs button[data-view=map]');
    await page.selectOption('#map-colour', 'ring');
    await page.waitForSelector('#map-plot[data-ready=yes]');
    await page.waitForTimeout(800);
    // a lasso stand-in: select a box through plotly, as a drag would
    await page.evaluate(() => {
      const plot = document.getElementById('map-plot') as unknown as { _fullLayout: { xaxis: { range: number[] }; yaxis: { range: number[] } }; emit: (e: string, d: unknown) => void; data: { x: number[]; y: number[]; customdata: string[] }[] };
      const t = plot.data[0]!;
      const points = t.x.map((x, i) => ({ x, y: t.y[i]!, customdata: t.customdata[i]! })).filter((q) => q.x > 0 && q.y > 0).slice(0, 24);
      plot.emit('plotly_selected', { points });
    });
    await page.waitForSelector('#map-grid .tile');
    await settle();
    await page.screenshot({ path: path.join(out, 'explorer-map.png'), fullPage: true });
    await page.close();
  } finally {
    await browser.close();
    await running.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`wrote ${out}/explorer-{browse,similar,describe,anomaly,map}.png`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
