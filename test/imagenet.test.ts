import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { readImage } from '../src/data/images';
import { imagenetInput, loadMobileNetV2 } from '../src/representations/imagenet';
import { pixelsTensor } from '../src/training/train-galaxy';
import { resolveDataPath } from '../src/paths';

describe('ImageNet MobileNetV2 from the shared weights', function () {
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
});
