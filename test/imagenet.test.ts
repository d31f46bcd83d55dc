import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { readImage } from '../src/data/images';
import { loadMobileNetV1, loadMobileNetV2 } from '../src/models/imagenet';
import { imagenetInput, imagenetInputV1, pixelsTensor } from '../src/data/preprocess';
import { resolveDataPath } from '../src/paths';
import { buildEncoder, encoderSpec } from '../src/models/architectures';

describe('ImageNet MobileNets from the shared weights', function () {
  this.timeout(120_000);

  it('loads through its manifest and, with the documented preprocessing, names the test photos', async () => {
    await initBackend('wasm');
    const model = await loadMobileNetV2();
    const names = fs.readFileSync(resolveDataPath('imagenet_class_names.txt'), 'utf8').split('\n');
    const before = tf.memory().numTensors;
    const top = async (photo: string) => {
      const p = await readImage(resolveDataPath(`test-photos/${photo}.jpg`), { size: 224 });
      const raw = pixelsTensor([p]);
      const idx = tf.tidy(() => tf.argMax(model.predict(imagenetInput(raw)) as tf.Tensor, 1));
      const i = (await idx.data())[0]!;
      tf.dispose([raw, idx]);
      return names[i];
    };
    assert.equal(await top('eagle'), 'bald eagle');
    assert.match((await top('dog'))!, /malamute|Eskimo dog|Siberian husky/);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    model.dispose();
  });

  it('mobilenetv2-imagenet, started from these weights, gives at 224 px the ImageNet model\'s own pooled features of [0, 1] input', async () => {
    await initBackend('wasm');
    const encoder = buildEncoder('mobilenetv2-imagenet', { size: 224 });
    await encoderSpec('mobilenetv2-imagenet').initialise!(encoder);
    const reference = await loadMobileNetV2();
    const pooled = tf.model({ inputs: reference.inputs, outputs: reference.getLayer('gap_62').output as tf.SymbolicTensor });
    const p = await readImage(resolveDataPath('test-photos/eagle.jpg'), { size: 224 });
    const raw = pixelsTensor([p]);
    const before = tf.memory().numTensors;
    const [ours, theirs] = tf.tidy(() => [encoder.predict(tf.div(raw, 255)) as tf.Tensor, pooled.predict(imagenetInput(raw)) as tf.Tensor]);
    const a = await ours!.data();
    const b = await theirs!.data();
    assert.equal(a.length, 1280);
    const scale = Math.max(...Array.from(b, Math.abs));
    assert.ok(a.every((v, i) => Math.abs(v - b[i]!) <= 1e-4 * scale), 'the same features');
    tf.dispose([ours!, theirs!]);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    raw.dispose();
    assert.equal(encoder.getLayer('imagenet_normalise').trainable, false, 'the input normalisation stays fixed');
    const beforeBuild = tf.memory().numTensors;
    const small = buildEncoder('mobilenetv2-imagenet', { size: 96 });
    assert.deepEqual(small.outputs[0]!.shape, [null, 1280], 'any size divisible by 32');
    small.dispose();
    assert.equal(tf.memory().numTensors, beforeBuild, 'building and disposing leaks no tensor');
    for (const m of [encoder, reference]) m.dispose();
  });

  it('MobileNet v1 0.25 loads through its manifest and, with x/127.5 - 1, names the test photos sensibly', async () => {
    await initBackend('wasm');
    const model = await loadMobileNetV1();
    const names = fs.readFileSync(resolveDataPath('imagenet_class_names.txt'), 'utf8').split('\n');
    const before = tf.memory().numTensors;
    const top3 = async (photo: string) => {
      const p = await readImage(resolveDataPath(`test-photos/${photo}.jpg`), { size: 224 });
      const raw = pixelsTensor([p]);
      const idx = tf.tidy(() => tf.topk(model.predict(imagenetInputV1(raw)) as tf.Tensor, 3).indices);
      const top = Array.from(await idx.data()).map((i) => names[i]!);
      tf.dispose([raw, idx]);
      return top;
    };
    // A 50%-top-1 model: the dog photo is a sled dog; for the eagle the top-1 is another bird
    // (ruddy turnstone) with bald eagle second, so the check is on the top 3.
    assert.match((await top3('dog'))[0]!, /malamute|Eskimo dog|Siberian husky|dogsled/);
    assert.ok((await top3('eagle')).includes('bald eagle'));
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    model.dispose();
  });
});
