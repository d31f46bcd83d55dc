/**
 * The notebooks as an astronomer uses them: the real classic Notebook server (Debian's
 * jupyter-notebook, the project-local tslab kernel) driven in Debian's Chromium through
 * playwright-core, by clicks and keys. A long galmorph call shows a live bar and stops within 2 s
 * of Kernel > Interrupt, with the kernel answering the next cell; a galmorph error shows its
 * message first and no compiled dist/ code; the anomaly form zooms, scores, skips, undoes and fetches
 * the next batch, and after a restart scores nothing;
 * a DataFrame keeps 19-digit ids.
 *
 * GALMORPH_SCREENSHOTS=<folder> also saves the README's screenshots there (docs/figures).
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { jupyterEnv, jupyterStatus } from '../src/notebooks/jupyter';
import { findChromium } from '../src/plots/export';
import { readLabels } from '../src/anomaly/labels';
import { notebookJson, parseCells } from '../scripts/notebook-json';
import { tempDir } from './support/fixtures';
import { freePort } from './support/redis';

const CELLS = `// %%
import * as gm from "galmorph";
import { anomalyForm, showBackend, showDataFrame } from "galmorph/kernel";
showBackend(await gm.initBackend());
const encoder = await gm.loadEncoder("galmorph");
// %%
const emb = await gm.encode(encoder, gm.openDatasetCatalog("gz2-hart16-1000"), { batchSize: 4 });
// %%
console.log("the kernel answers " + 6 * 7);
// %%
gm.readCatalog("missing-catalogue.csv", { idCol: "dr7objid" });
// %%
const small = gm.openDatasetCatalog("gz2-hart16-1000").subset(10);
const session = gm.anomaly.AnomalySession.open(await gm.encode(encoder, small), "labels.jsonl", { seed: 1 });
// %%
await anomalyForm(session, small, { count: 3, size: 96, columns: 3, captions: (r) => "class " + r.gz2_class });
// %%
const ids = gm.readCatalog("sdss.csv", { idCol: "dr7objid", imageCol: null });
const df = gm.toDataFrame(ids);
const back = gm.fromDataFrame(df, { idCol: "dr7objid" });
showDataFrame(df, { caption: "SDSS ids through a DataFrame" });
console.log("round trip " + back.ids().join(" "));
`;

/** 19-digit SDSS DR7 object ids: beyond 2^53, so a JavaScript number would change them. */
const SDSS_IDS = ['587722981742084144', '588017703996096547', '587739406242742472'];

interface NotebookServer {
  child: ChildProcess;
  url: string;
  token: string;
  log: () => string;
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

/** Starts Debian's jupyter-notebook on a free 127.0.0.1 port with a token, in `dir`. */
async function startNotebookServer(dir: string): Promise<NotebookServer> {
  const port = await freePort();
  const token = crypto.randomBytes(16).toString('hex');
  const child = spawn(
    'jupyter-notebook',
    // --allow-root: CI containers run as root; the server is bound to 127.0.0.1 and needs the token.
    ['--no-browser', '--allow-root', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0', `--NotebookApp.token=${token}`, `--notebook-dir=${dir}`, '--NotebookApp.open_browser=False'],
    { cwd: dir, env: { ...process.env, ...jupyterEnv() }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while ((await get(`${url}/api/status?token=${token}`)) !== 200) {
    if (child.exitCode !== null) throw new Error(`jupyter-notebook exited with ${child.exitCode}:\n${log}`);
    if (Date.now() > deadline) throw new Error(`jupyter-notebook did not answer on ${url} within 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, url, token, log: () => log };
}

function stop(server: NotebookServer | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    // Jupyter asks for confirmation on the first SIGINT; SIGTERM shuts it down with its kernels.
    server.child.kill('SIGTERM');
  });
}

describe('notebooks in the browser (classic Notebook server, tslab kernel, Chromium)', function () {
  this.timeout(300_000);
  let dir: string;
  let server: NotebookServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const shots = process.env.GALMORPH_SCREENSHOTS;

  const cell = (i: number): Locator => page.locator('#notebook-container .cell').nth(i);

  /** Clicks into cell `i` and presses Shift+Enter, as a user runs a cell. */
  async function run(i: number): Promise<void> {
    await cell(i).locator('.CodeMirror').click();
    await page.keyboard.press('Shift+Enter');
  }

  async function waitIdle(timeout = 120_000): Promise<void> {
    await page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout });
  }

  /** Runs cells one after the other, each once the kernel is idle, as a user steps through them. */
  async function runInTurn(...cells: number[]): Promise<void> {
    for (const i of cells) {
      await waitIdle();
      await run(i);
    }
  }

  /** Waits for `what` to appear and the kernel to finish the cell that shows it. */
  async function appeared(what: Locator, shownIn?: Locator): Promise<Locator> {
    await what.waitFor({ timeout: 120_000 }).catch(async (err: unknown) => {
      // Say what the cell showed instead: an error in the cell is otherwise only a timeout here.
      const shown = shownIn ? await shownIn.locator('.output_wrapper').innerText().catch(() => '(no output)') : '';
      throw new Error(`${String(err)}${shown ? `\nthe cell shows:\n${shown}` : ''}`);
    });
    await waitIdle();
    return what;
  }

  /**
   * After a failed cell, tslab cancels every execute request that reaches it in the next 200 ms
   * (TaskQueue.reset(200) in tslab/dist/jupyter.js): a cell run sooner would show nothing at all.
   */
  async function settleAfterFailedCell(): Promise<void> {
    await waitIdle();
    await new Promise((r) => setTimeout(r, 400));
  }

  async function menu(top: string, item: string): Promise<void> {
    await page.click(top);
    await page.click(item);
  }

  before(async function () {
    const executablePath = findChromium();
    if (!executablePath) throw new Error('these tests need Chromium (/usr/bin/chromium): sudo apt-get install -y chromium');
    const status = jupyterStatus();
    if (status.problem) throw new Error(status.problem);
    // Inside the project, so that the kernel resolves `import ... from "galmorph"` as the shipped notebooks do.
    dir = tempDir('nb-browser-', true);
    fs.writeFileSync(path.join(dir, 'browser.ipynb'), notebookJson(parseCells(CELLS)));
    fs.writeFileSync(path.join(dir, 'sdss.csv'), `dr7objid,ra,dec,redshift\n${SDSS_IDS.map((id, i) => `${id},${150 + i / 3},${2 + i / 7},${0.0312 + i / 100}`).join('\n')}\n`);
    server = await startNotebookServer(dir);
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const origin = server.url;
    // Nothing leaves the machine: the page may talk to its own server only.
    await page.route('**/*', (route) => (route.request().url().startsWith(origin) || route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    await page.goto(`${server.url}/notebooks/browser.ipynb?token=${server.token}`);
    await runInTurn(0);
    await appeared(cell(0).locator('.output_area').first());
    assert.match(await cell(0).locator('.output_area').first().innerText(), /galmorph backend/);
  });

  after(async () => {
    await browser?.close();
    await stop(server);
  });

  it('a long galmorph call shows a live bar; Kernel > Interrupt stops it within 2 s and the kernel answers the next cell', async () => {
    await run(1);
    const row = cell(1).locator('.galmorph-progress-row');
    await row.waitFor({ timeout: 60_000 });
    const doneOf = async () => Number(await row.getAttribute('data-done'));
    await page.waitForFunction(() => Number(document.querySelectorAll('.galmorph-progress-row')[0]?.getAttribute('data-done')) >= 40, undefined, { timeout: 60_000 });
    const first = await doneOf();
    await page.waitForFunction((n) => Number(document.querySelectorAll('.galmorph-progress-row')[0]?.getAttribute('data-done')) > n, first, { timeout: 30_000 });
    assert.ok((await doneOf()) > first, 'the bar advances in place');
    assert.equal(await cell(1).locator('.galmorph-progress').count(), 1, 'one bar, updated in place (display id), not one output per update');
    assert.match(await row.innerText(), /encode \(galmorph\)[\s\S]*\/1000 images[\s\S]*images\/s[\s\S]*left/);
    if (shots) await cell(1).screenshot({ path: path.join(shots, 'notebook-progress.png') });

    const pressed = Date.now();
    await menu('#kernellink', '#int_kernel');
    await page.waitForFunction(() => document.querySelectorAll('.galmorph-progress-row')[0]?.getAttribute('data-state') === 'interrupted', undefined, { timeout: 10_000 });
    const seconds = (Date.now() - pressed) / 1000;
    assert.ok(seconds < 2, `the galmorph call stopped ${seconds.toFixed(2)} s after Interrupt`);
    const stoppedAt = await doneOf();
    assert.ok(stoppedAt < 1000, `stopped before the end (${stoppedAt} of 1000)`);
    const message = cell(1).locator('.galmorph-error');
    await message.waitFor({ timeout: 10_000 });
    assert.match(await message.innerText(), /^Interrupted \(Kernel > Interrupt\)\s+Stopped: encode \(galmorph\) at \d+ of 1000 images/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await doneOf(), stoppedAt, 'no batch ran after the interrupt');

    await waitIdle(30_000);
    await settleAfterFailedCell();
    await run(2);
    await cell(2).locator('.output_area').first().waitFor({ timeout: 60_000 });
    assert.match(await cell(2).locator('.output_area').first().innerText(), /the kernel answers 42/);
  });

  it('a thrown galmorph error shows its message first, the stack behind a toggle, and no dist/ code', async () => {
    await waitIdle();
    await run(3);
    const error = cell(3).locator('.galmorph-error');
    await error.waitFor({ timeout: 60_000 });
    const visible = await cell(3).locator('.output_wrapper').innerText();
    assert.match(visible.trim(), /^galmorph: catalogue file not found: \S*missing-catalogue\.csv/, 'the message comes first');
    assert.ok(!/dist\//.test(visible) && !/throw new Error/.test(visible), `no compiled dist/ code:\n${visible}`);
    assert.equal(await cell(3).locator('.output_stderr').count(), 0, 'no stderr dump under it');
    assert.equal(await error.locator('details').getAttribute('open'), null, 'the stack is folded');
    const colour = await error.locator('.galmorph-error-message').evaluate((e) => getComputedStyle(e).color);
    assert.equal(colour, 'rgb(192, 57, 43)', 'in red');
    await error.locator('summary').click();
    assert.match(await error.locator('pre').innerText(), /src\/data\/catalog\.ts:\d+/, 'the stack points at the TypeScript source');
    if (shots) await cell(3).screenshot({ path: path.join(shots, 'notebook-error.png') });
    await settleAfterFailedCell();
  });

  it('the anomaly form: captions, zoom, a score, skip, undo, and next batch without the skipped galaxy', async () => {
    await runInTurn(4, 5);
    const form = await appeared(cell(5).locator('.galmorph-anomaly-form'), cell(5));
    const labels = path.join(dir, 'labels.jsonl');
    const tiles = form.locator('figure.galmorph-tile');
    assert.equal(await tiles.count(), 3);
    assert.match(await tiles.first().locator('.galmorph-caption').innerText(), /^class \S+/);
    const first = (await tiles.nth(0).getAttribute('data-galaxy-id'))!;
    const second = (await tiles.nth(1).getAttribute('data-galaxy-id'))!;

    await tiles.nth(0).locator('img.galmorph-zoomable').click();
    const zoom = page.locator('.galmorph-zoom img');
    await zoom.waitFor();
    assert.equal(await zoom.evaluate((img) => (img as HTMLImageElement).getBoundingClientRect().width), 320, 'zoomed to 320 px');
    await page.locator('.galmorph-zoom').click();
    await page.locator('.galmorph-zoom').waitFor({ state: 'detached' });

    await tiles.nth(0).locator('button.galmorph-score[data-score="4"]').click();
    await page.waitForFunction(() => /^saved 4 for/.test(document.querySelectorAll('.galmorph-anomaly-form .galmorph-status')[0]?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.equal(readLabels(labels).labels.get(first), 4);
    await waitIdle();
    await tiles.nth(1).locator('button.galmorph-skip').click();
    await page.waitForFunction(() => /^skipped/.test(document.querySelectorAll('.galmorph-anomaly-form .galmorph-status')[1]?.textContent ?? ''), undefined, { timeout: 60_000 });
    await waitIdle();
    await form.locator('button.galmorph-undo').click();
    const formStatus = form.locator('.galmorph-form-status');
    await page.waitForFunction(() => /^undid 4 for/.test(document.querySelector('.galmorph-anomaly-form .galmorph-form-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.match(await formStatus.innerText(), new RegExp(`^undid 4 for ${first} \\(unscored again\\)`));
    assert.equal(readLabels(labels).labels.has(first), false, 'the undo is on disk');
    if (shots) await form.screenshot({ path: path.join(shots, 'notebook-anomaly-form.png') });
    await waitIdle();

    const oldForm = await form.getAttribute('id');
    await form.locator('button.galmorph-next').click();
    // The cell runs again: a new form, without the skipped galaxy.
    await page.waitForFunction((old) => {
      const f = document.querySelectorAll('.galmorph-anomaly-form');
      return f.length === 1 && f[0]!.querySelector('.galmorph-form-status') !== null && !f[0]!.querySelector('.galmorph-form-status')!.textContent && f[0]!.querySelectorAll('figure.galmorph-tile').length === 3 && f[0]!.id !== old;
    }, oldForm, { timeout: 120_000 }).catch(async (err: unknown) => {
      const state = await page.evaluate(() => Array.from(document.querySelectorAll('.galmorph-anomaly-form')).map((f) => `${f.id}: "${f.querySelector('.galmorph-form-status')?.textContent}" ${f.querySelectorAll('figure.galmorph-tile').length} tiles`).join('; '));
      throw new Error(`no new form after "next batch" (${state}): ${String(err)}`);
    });
    await waitIdle();
    const shown = await cell(5).locator('figure.galmorph-tile').evaluateAll((ts) => ts.map((t) => t.getAttribute('data-galaxy-id')));
    assert.ok(!shown.includes(second), `the skipped galaxy ${second} is not shown again (${shown.join(', ')})`);
  });

  it('a stale anomaly form after a kernel restart says to run the cell again and writes nothing', async () => {
    await runInTurn(5);
    const form = await appeared(cell(5).locator('.galmorph-anomaly-form'), cell(5));
    const labels = path.join(dir, 'labels.jsonl');
    const before = fs.readFileSync(labels, 'utf8');

    await menu('#kernellink', '#restart_kernel');
    await page.click('.modal-dialog button.btn-danger');
    await page.waitForSelector('.modal-dialog', { state: 'detached' });
    await waitIdle();
    const tile = form.locator('figure.galmorph-tile').first();
    const button = tile.locator('button.galmorph-score[data-score="4"]');
    await button.click();
    const status = tile.locator('.galmorph-status');
    await page.waitForFunction(() => /restarted/.test(document.querySelector('.galmorph-anomaly-form .galmorph-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.equal((await status.innerText()).trim(), 'the kernel restarted: run this cell again');
    assert.notEqual(await button.evaluate((b) => getComputedStyle(b).fontWeight), '700', 'the score is not marked as saved');
    await waitIdle();
    assert.equal(fs.readFileSync(labels, 'utf8'), before, 'the labels file is unchanged');
  });

  it('a DataFrame round trip (catalogue → DataFrame → catalogue) keeps 19-digit ids exact, shown as a sortable table', async () => {
    // The kernel was restarted by the previous test: run the imports again.
    await runInTurn(0, 6);
    const table = await appeared(cell(6).locator('table.galmorph-dataframe'));
    const out = await cell(6).locator('.output_wrapper').innerText();
    assert.ok(out.includes(`round trip ${SDSS_IDS.join(' ')}`), out);
    const shown = await table.locator('tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(shown, SDSS_IDS);
    await table.locator('th', { hasText: 'redshift' }).click();
    await table.locator('th', { hasText: 'redshift' }).click();
    assert.deepEqual(await table.locator('tbody tr td:first-child').allInnerTexts(), [...SDSS_IDS].reverse(), 'sorted by redshift, descending');
  });
});
