import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { projectRoot, resolveDataPath } from '../src/paths';
import { tempDir } from './support/fixtures';

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
function galmorph(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('galmorph data', () => {
  it('list names every manifest, where it is and its size', () => {
    const r = galmorph(['data', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^gz2-hart16-1000 +dataset +local \(shared mirror\) +1003 files +15\.7 MB +1,000 Galaxy Zoo 2 galaxies/m);
    assert.match(r.stdout, /^gz-decals-dr5 +dataset +upstream only +7 files +size unknown/m);
    assert.match(r.stdout, /^mobilenet-v1-0\.25-224 +model +local \(shared mirror\)/m);
    assert.equal(r.stdout.trim().split('\n').length, fs.readdirSync(path.join(projectRoot(), 'data-manifests')).filter((f) => f.endsWith('.json')).length, 'one line per manifest');
    assert.match(r.stdout, /^gz2-kaggle-5000 +dataset +local \(shared mirror\) +4999 files/m);
  });

  it('verify <id> checks sha256 and size and says where; without an id it asks for one', () => {
    const r = galmorph(['data', 'verify', 'gz1-darg-mergers', 'gz2-willett13-stripe82']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ok {6}gz1-darg-mergers: 3\/3 files, 1\.4 MB, sha256 and size checked/m);
    assert.match(r.stdout, /^verified 2 manifests: 2 ok, 0 not downloaded \(upstream only\), 0 failed; 5 files, 3\.6 MB hashed \(sha256\)$/m);
    const none = galmorph(['data', 'verify']);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /name a manifest id, or pass --all/);
  });

  it('catalog reads a catalogue with --id-col / --image-col and reconstructs votes with --schema', () => {
    const file = resolveDataPath('gz2-hart16-1000/catalog.csv');
    const r = galmorph(['data', 'catalog', file, '--id-col', 'asset_id', '--image-col', 'file', '--schema', 'gz2', '--fractions', '{answer}_weighted_fraction', '--total', 'total_classifications']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1000 rows, \d+ columns; ids unique in 'asset_id'; all 1000 images in 'file' exist/);
    assert.match(r.stdout, /votes \(gz2, 11 questions, 37 answers\) from fractions:\n {2}t01_smooth_or_features +mean \d+\.\d votes per galaxy/);
    const missing = galmorph(['data', 'catalog', file]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /catalog\.csv has no column 'id'\. Columns present: file, objid, sample, asset_id/);
    const table = galmorph(['data', 'catalog', resolveDataPath('tables/gz2-willett13-stripe82/table5.csv.gz'), '--id-col', 'objid', '--no-images', '--schema', 'gz2', '--counts', '{answer}_count']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /19761 rows, 228 columns/);
  });

  it('fetch downloads into the user cache with a progress bar and sha256 verification (local server)', async () => {
    const body = Buffer.alloc(100000, 7);
    const server = http.createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`;
    try {
      const manifests = tempDir();
      const cache = tempDir();
      fs.writeFileSync(path.join(manifests, 'tiny.json'), JSON.stringify({
        id: 'tiny', kind: 'dataset', title: 'tiny', citation: ['none'], licence: 'none', folder: 'tiny', availability: 'upstream',
        upstream: [{ url }], files: [{ path: 'blob.bin', size: body.length, sha256: createHash('sha256').update(body).digest('hex'), url }],
      }));
      const child = spawn(process.execPath, [bin, 'data', 'fetch', 'tiny'], { env: { ...process.env, GALMORPH_MANIFESTS: manifests, GALMORPH_CACHE: cache } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr);
      assert.match(stderr, /1\/1 blob\.bin \[.*\] 100% 100000\/100000 bytes/);
      assert.match(stdout, /tiny: 0 file\(s\) already local, 1 downloaded and verified \(sha256\)/);
      assert.ok(fs.readFileSync(path.join(cache, 'tiny', 'blob.bin')).equals(body));
    } finally {
      server.close();
    }
  });
});
