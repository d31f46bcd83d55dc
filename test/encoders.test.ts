import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { mapImageBatches } from '../src/data/batches';
import { openDatasetCatalog } from '../src/data/manifests';
import { inputBatch, loaderFor } from '../src/data/preprocess';
import { encode } from '../src/encoders/encode';
import { cacheName, ENCODER_IDS, ENCODERS, loadEncoder } from '../src/encoders/registry';
import { classificationTargets } from '../src/finetune/labels';
import { finetune } from '../src/finetune/train';
import { representationModel } from '../src/models/galaxy-model';
import { defaultEncoderDir, defaultModelDir, loadGalaxyModel } from '../src/models/load';
import { disposeModel, loadModel, predictCatalog } from '../src/models/predict';
import { gz2Sample } from './support/fixtures';

describe('encoder registry and the one inference loop', function () {
  this.timeout(300_000);
  before(() => initBackend('wasm'));

  it('the registry is data: every entry has an id, a description and what it learned from; unknown ids list the valid ones', async () => {
    assert.deepEqual([...ENCODER_IDS], ENCODERS.map((e) => e.id));
    assert.deepEqual(ENCODER_IDS.slice(0, 3), ['galmorph', 'imagenet-mobilenetv2', 'imagenet-mobilenetv1']);
    for (const e of ENCODERS) {
      assert.ok(e.description.length > 10, e.id);
      assert.ok(['galaxy zoo', 'imagenet', 'none'].includes(e.pretraining), e.id);
    }
    await assert.rejects(loadEncoder('resnet50'), /unknown encoder 'resnet50'\. Valid choices: galmorph, imagenet-mobilenetv2, imagenet-mobilenetv1, scratch-galmorph-cnn, scratch-mobilenetv2, scratch-mobilenetv1, or a galmorph model folder/);
    assert.equal(cacheName({ id: 'imagenet-mobilenetv2' }), 'imagenet', 'the similarity notebook cache name');
    assert.equal(cacheName({ id: 'galmorph' }), 'galmorph-honest', 'the committed encoder, named after its folder');
    assert.equal(cacheName({ id: 'galmorph', modelDir: defaultEncoderDir() }), 'galmorph-honest');
    assert.equal(cacheName({ id: 'galmorph', modelDir: defaultModelDir() }), 'galmorph-galmorph-all', 'another folder: never the default encoder\'s cache');
    assert.match(cacheName({ id: 'galmorph', modelDir: '/elsewhere/honest' }), /^galmorph-honest-[0-9a-f]{8}$/, 'a folder that would take the default\'s name gets a hash');
    assert.equal(cacheName({ id: 'scratch-mobilenetv1', seed: 3 }), 'scratch-mobilenetv1-seed3');
  });

  it('encode() gives the galaxy model\'s representation exactly as a hand-written loop does, for any batch size, and leaks nothing', async () => {
    const catalog = gz2Sample(7);
    const loaded = await loadGalaxyModel(defaultEncoderDir());
    // Independent reference: decode, central view, the representation layer, one galaxy at a time.
    const rep = representationModel(loaded.model);
    const loader = loaderFor({ kind: 'galmorph', size: loaded.config.size, channels: loaded.config.channels });
    const reference: number[][] = [];
    for (const r of catalog.rows) {
      const x = inputBatch([await loader.get(catalog.imagePath(r))], loaded.config.size);
      const y = rep.apply(x, { training: false }) as tf.Tensor;
      reference.push(Array.from(await y.data()));
      tf.dispose([x, y]);
    }
    loaded.model.dispose();

    const encoder = await loadEncoder('galmorph');
    const before = tf.memory().numTensors;
    const byCatalog = await encode(encoder, catalog, { batchSize: 3 });
    const byFiles = await encode(encoder, catalog.rows.map((r) => catalog.imagePath(r)), { batchSize: 7 });
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    assert.deepEqual(byCatalog.ids, catalog.ids());
    assert.equal(byCatalog.dim, encoder.dim);
    reference.forEach((row, i) =>
      row.forEach((v, d) => {
        assert.ok(Math.abs(byCatalog.vectors[i * encoder.dim + d]! - v) < 1e-4, `galaxy ${i}, dimension ${d}`);
        assert.ok(Math.abs(byFiles.vectors[i * encoder.dim + d]! - v) < 1e-4);
      }),
    );
    encoder.dispose();
  });

  it('the loop stops between batches when its signal is aborted, and checks what a batch returns', async () => {
    const catalog = gz2Sample(6);
    const files = catalog.rows.map((r) => catalog.imagePath(r));
    const p = { kind: 'galmorph', size: 32, channels: 3 } as const;
    const controller = new AbortController();
    let batches = 0;
    await assert.rejects(
      mapImageBatches(files, p, 1, (x) => {
        if (++batches === 2) controller.abort(new Error('stopped by the user'));
        return new Float32Array(x.shape[0]);
      }, { batchSize: 2, signal: controller.signal }),
      /stopped by the user/,
    );
    assert.equal(batches, 2, 'no batch after the abort');
    await assert.rejects(mapImageBatches(files, p, 3, () => new Float32Array(1), { batchSize: 2 }), /a batch of 2 images gave 1 values, not 2 rows of 3/);
  });

  it('predictCatalog: named columns from a galaxy model, the mean and Monte Carlo spread of each answer (fine-tuned models: the finetune CLI test)', async () => {
    const catalog = gz2Sample(4);
    const model = await loadModel();
    const p = await predictCatalog(model, catalog, { schema: 'gz2', samples: 3, batchSize: 3 });
    assert.deepEqual(p.ids, catalog.ids());
    assert.ok(p.columns.includes('t01_smooth_or_features_a01_smooth_fraction') && p.columns.includes('t01_smooth_or_features_a01_smooth_fraction_std'), p.columns.slice(0, 4).join(', '));
    const smooth = p.column('t01_smooth_or_features_a01_smooth_fraction');
    const features = p.column('t01_smooth_or_features_a02_features_or_disk_fraction');
    const star = p.column('t01_smooth_or_features_a03_star_or_artifact_fraction');
    smooth.forEach((s, i) => assert.ok(Math.abs(s + features[i]! + star[i]! - 1) < 1e-4, 'a question\'s fractions sum to 1'));
    assert.ok(p.column('t01_smooth_or_features_a01_smooth_fraction_std').every((s) => s >= 0));
    assert.equal(p.rows()[0]!.id, catalog.ids()[0]);
    assert.throws(() => p.column('ring'), /no prediction column 'ring'\. Columns: t01_smooth/);
    assert.ok(p.column('t01_smooth_or_features_a01_smooth_fraction_std').some((s) => s > 0), 'Monte Carlo samples differ');
    disposeModel(model);
    // Seeded Monte Carlo dropout: a freshly loaded model repeats the same samples (reproducible tables).
    const again = await loadModel();
    const q = await predictCatalog(again, catalog, { schema: 'gz2', samples: 3, batchSize: 3 });
    assert.deepEqual(Array.from(q.values), Array.from(p.values));
    disposeModel(again);
  });

  it('the paper\'s MLP head trains the same for the same seed (seeded dropout) and differently for another', async () => {
    const cat = openDatasetCatalog('decals-rings-470');
    const sample = cat.subset([...cat.rows.filter((r) => r.ring === '1').slice(0, 6), ...cat.rows.filter((r) => r.ring === '0').slice(0, 6)].map((r) => r[cat.idCol]!));
    const encoder = await loadEncoder('scratch-galmorph-cnn', { size: 32 });
    const features = (await encode(encoder, sample)).vectors;
    const targets = classificationTargets(sample, 'ring');
    const run = async (seed: number) => {
      const m = await finetune(encoder, targets, { features }, { head: 'mlp', epochs: 5, patience: 5, seed });
      const out = Array.from((await m.predictFeatures(features)).values);
      m.dispose();
      return out;
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    assert.deepEqual(a, b, 'same seed, same predictions');
    assert.notDeepEqual(a, c, 'another seed, other dropout masks and initialisation');
    encoder.dispose();
  });
});
