/**
 * Saving and loading tfjs models on the local file system. tfjs only has `file://` handlers with
 * tfjs-node; this one works on every backend: `model.json` (topology + weights manifest) and one
 * `weights.bin`, written to temporary names and renamed, so an interrupted save never leaves a
 * half-written model. Loading also reads tfjs-converter layouts with several weight shards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

function writeAtomic(file: string, data: string | Uint8Array): void {
  fs.writeFileSync(`${file}.partial`, data);
  fs.renameSync(`${file}.partial`, file);
}

/** An IOHandler reading and writing `<dir>/model.json` and its weight files. */
export function fileSystem(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      fs.mkdirSync(dir, { recursive: true });
      const weights = artifacts.weightData ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)) : new Uint8Array(0);
      writeAtomic(path.join(dir, 'weights.bin'), weights);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeAtomic(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(dir, 'model.json');
      if (!fs.existsSync(file)) throw new Error(`galmorph: no model at ${dir} (model.json is missing)`);
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as tf.io.ModelJSON;
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const shard = path.join(dir, p);
          if (!fs.existsSync(shard)) throw new Error(`galmorph: ${file} lists weight file '${p}', which is missing`);
          buffers.push(fs.readFileSync(shard));
        }
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

/** Saves an optimizer's state (e.g. Adam's moments) to `<file>` (JSON specs + base64 data). */
export async function saveOptimizer(optimizer: tf.Optimizer, file: string): Promise<void> {
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  const bytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
  writeAtomic(file, JSON.stringify({ specs, data: Buffer.from(bytes).toString('base64') }));
}

/** Restores an optimizer's state saved by `saveOptimizer`. */
export async function loadOptimizer(optimizer: tf.Optimizer, file: string): Promise<void> {
  const { specs, data } = JSON.parse(fs.readFileSync(file, 'utf8')) as { specs: tf.io.WeightsManifestEntry[]; data: string };
  const buf = Buffer.from(data, 'base64');
  const map = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
  await optimizer.setWeights(Object.entries(map).map(([name, tensor]) => ({ name, tensor })));
}
