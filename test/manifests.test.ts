import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fetchManifest, formatVerifyReport, getManifest, loadManifests, Manifest, MissingDataError, parseManifest, pinnedManifestPath, resolveManifest, verifyManifest } from '../src/data/manifests';
import { sha256File } from '../src/data/hash';
import { projectRoot, resolveDataPath } from '../src/paths';
import { tempDir } from './support/fixtures';

const shared = path.resolve(projectRoot(), '..', 'shared');
const bin = path.join(projectRoot(), 'bin', 'galmorph.js');

/** Runs the test body with GALMORPH_DATA / GALMORPH_CACHE set, restoring them afterwards. */
async function withEnv<T>(env: Record<string, string | undefined>, body: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (e: Record<string, string | undefined>) => Object.entries(e).forEach(([k, v]) => (v === undefined ? delete process.env[k] : (process.env[k] = v)));
  apply(env);
  try {
    return await body();
  } finally {
    apply(saved);
  }
}

describe('data manifests', () => {
  it('every committed manifest validates, and every dataset and model of the shared mirror has one', () => {
    const manifests = loadManifests();
    const folders = new Set(manifests.map((m) => m.folder));
    const datasets = fs.readdirSync(path.join(shared, 'data')).filter((d) => d !== 'tables' && fs.statSync(path.join(shared, 'data', d)).isDirectory());
    const tables = fs.readdirSync(path.join(shared, 'data', 'tables')).map((d) => `tables/${d}`);
    const models = fs.readdirSync(path.join(shared, 'weights')).filter((d) => d !== 'test-photos' && fs.statSync(path.join(shared, 'weights', d)).isDirectory());
    for (const f of [...datasets, ...tables, ...models]) assert.ok(folders.has(f), `no manifest for ${f}`);
    const upstream = manifests.filter((m) => m.availability === 'upstream').map((m) => m.id).sort();
    assert.deepEqual(upstream, ['gz-decals-dr5', 'gz2-hart16', 'zoobot-demo-rings']);
    for (const id of upstream) assert.ok(getManifest(id).files.every((f) => f.url), `${id}: every upstream-only file has a URL`);
    assert.ok(getManifest('gz-decals-dr5').files.every((f) => f.sha256 === null), 'unknown until first download');
  });

  it('a manifest that breaks the schema is refused, naming the file and the field', () => {
    const m = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'data-manifests', 'gz2-willett13-stripe82.json'), 'utf8'));
    delete m.licence;
    m.files[0].sha256 = 'not-a-checksum';
    assert.throws(() => parseManifest(m, 'broken.json'), (e: Error) => {
      assert.match(e.message, /manifest broken\.json does not match src\/data\/manifest\.schema\.json/);
      assert.match(e.message, /\(top level\) must have required property 'licence'/);
      assert.match(e.message, /\/files\/0\/sha256 must match pattern/);
      return true;
    });
  });

  it('verifies a mirrored dataset: sizes and sha256 equal those node:crypto computes from the whole file', async () => {
    const m = getManifest('gz2-willett13-stripe82');
    const report = await verifyManifest(m);
    assert.equal(report.status, 'ok');
    for (const f of m.files) {
      const file = resolveDataPath(path.join(m.folder, f.path));
      const bytes = fs.readFileSync(file);
      assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(f.size, bytes.length);
      assert.equal(await sha256File(file), f.sha256, 'the streaming hasher agrees');
    }
    assert.match(formatVerifyReport(report), /^ok {6}gz2-willett13-stripe82: 2\/2 files, 2\.1 MB, sha256 and size checked; 2 in .*shared\/data\/tables\/gz2-willett13-stripe82 \(shared mirror\)/);
  });

  it('a corrupted copy of a mirrored file is refused with its name (GALMORPH_DATA is searched first)', async () => {
    const m = getManifest('gz1-darg-mergers');
    const root = tempDir();
    const dir = path.join(root, m.folder);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of m.files) fs.copyFileSync(resolveDataPath(path.join(m.folder, f.path)), path.join(dir, f.path));
    const bad = path.join(dir, 'darg_mergers.csv');
    const bytes = fs.readFileSync(bad);
    bytes[1000] = bytes[1000]! ^ 1; // same size, one bit flipped
    fs.writeFileSync(bad, bytes);
    await withEnv({ GALMORPH_DATA: root }, async () => {
      const report = await verifyManifest(m);
      assert.equal(report.status, 'failed');
      assert.deepEqual(report.files.filter((f) => f.status !== 'ok').map((f) => [f.status, f.found]), [['sha256-mismatch', bad]]);
      assert.ok(formatVerifyReport(report).includes(`sha256-mismatch: ${bad}: sha256 ${createHash('sha256').update(bytes).digest('hex')}, manifest says ${m.files.find((f) => f.path === 'darg_mergers.csv')!.sha256}`));
      fs.truncateSync(bad, 100);
      assert.throws(() => resolveManifest(m), new RegExp(`${bad.replace(/[/.]/g, '\\$&')} has 100 bytes but manifest gz1-darg-mergers says \\d+: refused`));
    });
    const cli = spawnSync(process.execPath, [bin, 'data', 'verify', 'gz1-darg-mergers'], { encoding: 'utf8', env: { ...process.env, GALMORPH_DATA: root } });
    assert.equal(cli.status, 1, 'verify exits non-zero');
    assert.ok(cli.stdout.includes(`FAILED  gz1-darg-mergers`) && cli.stdout.includes(`size-mismatch: ${bad}: 100 bytes`), cli.stdout);
  });

  it('a missing dataset says which files are missing, where it looked, and how to get it', async () => {
    await withEnv({ GALMORPH_CACHE: tempDir() }, () => {
      assert.throws(() => resolveManifest('gz-decals-dr5'), (e: Error) => {
        assert.ok(e instanceof MissingDataError);
        assert.match(e.message, /dataset 'gz-decals-dr5' \(Galaxy Zoo DECaLS: .*\) is not available: 7 of 7 files missing; the first 7:\n {2}gz-decals-dr5\/gz_decals_volunteers_5\.csv/);
        assert.match(e.message, /Searched:\n.*shared\/data\/gz-decals-dr5 \(shared mirror\)/);
        assert.match(e.message, /Get it with `galmorph data fetch gz-decals-dr5` \(downloads into .* from https:\/\/doi\.org\/10\.5281\/zenodo\.4573248\)/);
        return true;
      });
    });
  });
});

/** A local HTTP server (127.0.0.1 only) with Range support; `/flaky` drops the first connection midway. */
function startServer(body: Buffer): Promise<{ url: string; ranges: (string | undefined)[]; close: () => void }> {
  const ranges: (string | undefined)[] = [];
  let flakyHits = 0;
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const part = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': part.length, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (req.url === '/flaky' && flakyHits++ === 0) {
      res.write(part.subarray(0, 70000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(part);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ranges, close: () => server.close() })),
  );
}

describe('downloads (local HTTP server)', () => {
  const body = Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 7919) % 251));
  const sha = createHash('sha256').update(body).digest('hex');
  let server: Awaited<ReturnType<typeof startServer>>;
  before(async () => (server = await startServer(body)));
  after(() => server.close());

  /** A one-file upstream manifest written to a temp manifests folder. */
  function manifest(urlPath: string, sha256: string | null, size: number | null): { dir: string; m: Manifest } {
    const dir = tempDir();
    const json = {
      id: 'test-upstream', kind: 'dataset', title: 'test', citation: ['none'], licence: 'none', folder: 'test-upstream', availability: 'upstream',
      upstream: [{ url: server.url }], files: [{ path: 'sub/blob.bin', size, sha256, url: `${server.url}${urlPath}` }],
    };
    fs.writeFileSync(path.join(dir, 'test-upstream.json'), JSON.stringify(json));
    return { dir, m: loadManifests(dir)[0]! };
  }

  it('resumes an interrupted download with an HTTP Range request, verifies sha256 and pins an unknown checksum', async () => {
    const cache = tempDir();
    await withEnv({ GALMORPH_CACHE: cache, GALMORPH_DATA: undefined }, async () => {
      const { dir, m } = manifest('/flaky', null, null);
      server.ranges.length = 0;
      await assert.rejects(fetchManifest(m), /download of .*\/flaky interrupted after \d+ bytes.*run the same command again to resume/);
      const part = path.join(cache, 'test-upstream', 'sub', 'blob.bin.part');
      const partial = fs.statSync(part).size;
      assert.ok(partial >= 70000 && partial < body.length, `partial download kept (${partial} bytes)`);
      const seen: number[] = [];
      const report = await fetchManifest(m, { onBytes: (done) => seen.push(done) });
      assert.deepEqual(server.ranges, [undefined, `bytes=${partial}-`]);
      assert.equal(report.downloaded[0]!.resumedFrom, partial);
      assert.equal(seen.at(-1), body.length, 'progress reaches the total');
      assert.ok(seen.every((x, i) => i === 0 || x >= seen[i - 1]!));
      const file = path.join(cache, 'test-upstream', 'sub', 'blob.bin');
      assert.ok(fs.readFileSync(file).equals(body));
      assert.ok(!fs.existsSync(part));
      assert.deepEqual(report.pinned, ['sub/blob.bin']);
      const pinned = loadManifests(dir)[0]!.files[0]!;
      assert.deepEqual([pinned.sha256, pinned.size], [sha, body.length], 'the checksum is pinned in the user cache copy');
      assert.ok(fs.existsSync(pinnedManifestPath('test-upstream')));
      assert.equal((await verifyManifest(loadManifests(dir)[0]!)).status, 'ok');
      assert.equal((await fetchManifest(m)).downloaded.length, 0, 'nothing to download once it is local');
    });
  });

  it('a download whose sha256 does not match is refused, named and deleted', async () => {
    const cache = tempDir();
    await withEnv({ GALMORPH_CACHE: cache, GALMORPH_DATA: undefined }, async () => {
      const { m } = manifest('/blob', 'f'.repeat(64), body.length);
      const dest = path.join(cache, 'test-upstream', 'sub', 'blob.bin');
      await assert.rejects(fetchManifest(m), (e: Error) => {
        assert.ok(e.message.includes(`checksum mismatch, refused ${dest} (from ${server.url}/blob): expected ${'f'.repeat(64)} and ${body.length} bytes, got ${sha}`), e.message);
        return true;
      });
      assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
    });
  });
});
