import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../src/paths';

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
function galmorph(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('galmorph CLI', () => {
  it('--help lists the subcommands', () => {
    const r = galmorph(['--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: galmorph/);
    assert.match(r.stdout, /env .*backend/s);
    assert.match(r.stdout, /reproduce/);
  });

  it('env names the backend it chose and why, and the data roots', () => {
    const r = galmorph(['env']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^backend\s+(node-gpu|webgpu|node|onednn|wasm|cpu) \((@tensorflow\/tfjs-[a-z-]+|wasm\+onednn, oneDNN [\d.]+ \w+ \w+)(, \d+ threads?)?\) — /m);
    assert.match(r.stdout, /^adapter\s+/m, 'the WebGPU adapter, or why there is none');
    assert.match(r.stdout, /^jupyter\s+/m);
    assert.match(r.stdout, /^chromium\s+/m);
    assert.match(r.stdout, /shared\/data \(shared mirror\)/);
  });

  it('env --json reports a forced backend', () => {
    const r = galmorph(['env', '--json'], { GALMORPH_BACKEND: 'cpu' });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.backend.name, 'cpu');
    assert.equal(report.backend.reason, 'forced by GALMORPH_BACKEND=cpu');
  });

  it('env reports a forced backend that is unavailable instead of crashing', () => {
    const r = galmorph(['env'], { GALMORPH_BACKEND: 'nonsense' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /backend\s+NONE — galmorph: unknown backend 'nonsense'. Valid choices: node-gpu, webgpu, node, onednn, wasm, cpu/);
  });
});
