import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_NAMES,
  BackendCandidate,
  defaultCandidates,
  initBackend,
  parseBackendName,
  selectBackend,
} from '../src/backend/select';

function fake(name: BackendCandidate['name'], fails?: string): BackendCandidate & { calls: number } {
  const c = {
    name,
    packageName: `pkg-${name}`,
    tfjsName: name,
    calls: 0,
    load: async () => {
      c.calls++;
      if (fails) throw new Error(fails);
    },
  };
  return c;
}

describe('backend selection', () => {
  it('takes the first candidate that loads and says why the earlier ones were skipped', async () => {
    const cands = [fake('node-gpu', 'libcudart.so.11.0: cannot open shared object file\nmore'), fake('node', "Cannot find module '@tensorflow/tfjs-node'"), fake('wasm'), fake('cpu')];
    const choice = await selectBackend(cands);
    assert.equal(choice.name, 'wasm');
    assert.deepEqual(choice.attempts.map((a) => [a.name, a.ok]), [['node-gpu', false], ['node', false], ['wasm', true]]);
    assert.match(choice.reason, /node-gpu: libcudart\.so\.11\.0: cannot open shared object file;/);
    assert.match(choice.reason, /node: package not installed/);
    assert.equal(cands[3]!.calls, 0, 'candidates after the chosen one are not loaded');
  });

  it('a forced backend is the only one tried, and its failure is an error naming it', async () => {
    const cands = [fake('node-gpu'), fake('node', 'libtensorflow.so.2: cannot open shared object file'), fake('wasm')];
    await assert.rejects(selectBackend(cands, 'node'), /GALMORPH_BACKEND=node was asked for, but it is not available: libtensorflow\.so\.2.*install pkg-node/);
    assert.equal(cands[0]!.calls, 0);
    assert.equal(cands[2]!.calls, 0);
    const ok = await selectBackend(cands, 'wasm');
    assert.equal(ok.name, 'wasm');
    assert.equal(ok.reason, 'forced by GALMORPH_BACKEND=wasm');
  });

  it('rejects unknown backend names, listing the valid ones', () => {
    assert.throws(() => parseBackendName('tpu'), new RegExp(`unknown backend 'tpu'. Valid choices: ${BACKEND_NAMES.join(', ')}`));
    assert.equal(parseBackendName(' WASM '), 'wasm');
  });

  it('default order is node-gpu, webgpu, node, onednn, wasm, cpu', () => {
    assert.deepEqual(defaultCandidates().map((c) => c.name), ['node-gpu', 'webgpu', 'node', 'onednn', 'wasm', 'cpu']);
  });

  it('candidates are told whether they were forced (webgpu takes a software adapter only then)', async () => {
    const seen: boolean[] = [];
    const cand = (name: BackendCandidate['name']): BackendCandidate => ({
      name,
      packageName: `pkg-${name}`,
      tfjsName: name,
      load: async (forced) => {
        seen.push(forced);
        if (!forced) throw new Error('only a software adapter (llvmpipe); GALMORPH_BACKEND=webgpu uses it');
      },
    });
    await assert.rejects(selectBackend([cand('webgpu')]), /webgpu: only a software adapter \(llvmpipe\); GALMORPH_BACKEND=webgpu uses it/);
    const forced = await selectBackend([cand('webgpu')], 'webgpu');
    assert.equal(forced.name, 'webgpu');
    assert.deepEqual(seen, [false, true]);
  });

  describe('on this machine', () => {
    const saved = process.env.GALMORPH_BACKEND;
    afterEach(() => {
      if (saved === undefined) delete process.env.GALMORPH_BACKEND;
      else process.env.GALMORPH_BACKEND = saved;
    });

    it('GALMORPH_BACKEND forcing a backend that is not installed fails clearly', async function () {
      let installed = true;
      try {
        require.resolve('@tensorflow/tfjs-node-gpu');
        require('@tensorflow/tfjs-node-gpu');
      } catch {
        installed = false;
      }
      if (installed) this.skip(); // a GPU workstation: the forced backend is really there
      // Forced by name (what GALMORPH_BACKEND does on a first call): a clear failure, not a fallback.
      await assert.rejects(initBackend('node-gpu'), /GALMORPH_BACKEND=node-gpu was asked for, but it is not available: .*@tensorflow\/tfjs-node-gpu/);
      assert.throws(() => initBackend('gpu-please'), /unknown backend 'gpu-please'. Valid choices: node-gpu, webgpu, node, onednn, wasm, cpu/);
    });

    it('automatic choice activates a working backend that computes a convolution correctly', async () => {
      delete process.env.GALMORPH_BACKEND;
      const choice = await initBackend();
      assert.equal(tf.getBackend(), choice.tfjsName);
      assert.ok(choice.attempts.at(-1)!.ok);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => tf.conv2d(tf.ones([1, 5, 5, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same'));
      const v = await out.data();
      out.dispose();
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      // corner: 2x2 window x 2 channels = 8; centre: 3x3 x 2 = 18
      assert.equal(v[0], 8);
      assert.equal(v[12], 18);
    });

    it('forcing wasm and then cpu switches the active tfjs backend', async () => {
      assert.equal((await initBackend('wasm')).tfjsName, 'wasm');
      assert.equal(tf.getBackend(), 'wasm');
      assert.equal((await initBackend('cpu')).tfjsName, 'cpu');
      assert.equal(tf.getBackend(), 'cpu');
      await initBackend('wasm');
    });

    it('initBackend() without a name returns the current choice and never re-selects (library calls keep the user\'s backend)', async () => {
      delete process.env.GALMORPH_BACKEND;
      const chosen = await initBackend('cpu');
      const again = await initBackend();
      assert.equal(again, chosen, 'the same choice object');
      assert.equal(tf.getBackend(), 'cpu');
      process.env.GALMORPH_BACKEND = 'wasm';
      try {
        assert.equal((await initBackend()).name, 'cpu', 'a later environment change does not move a running session');
      } finally {
        delete process.env.GALMORPH_BACKEND;
      }
      await initBackend('wasm');
    });
  });
});
