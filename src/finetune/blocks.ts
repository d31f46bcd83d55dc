/**
 * An encoder's blocks, bottom to top, for unfreezing "the top N blocks" when fine-tuning.
 *   - layers named `block<k>..._` (galmorph-cnn, smallcnn, EfficientNet): one block per prefix;
 *   - MobileNets: one block per depthwise convolution, with the 1x1 expansion before it (if any),
 *     its padding, the pointwise projection after it, and the normalisations, activations and
 *     residual additions that follow, up to the next block;
 * the stem (layers before the first block) is block 0 and layers after the last block (top
 * convolution, pooling) join the last block.
 */
import * as tf from '@tensorflow/tfjs';

export interface EncoderBlock {
  /** Block label: the prefix (`block3`), `stem`, or `dw<k>` for depthwise blocks. */
  name: string;
  layers: tf.layers.Layer[];
}

const hasWeights = (l: tf.layers.Layer) => l.weights.length > 0;

function kernelSize(l: tf.layers.Layer): number[] {
  const k = (l.getConfig() as { kernelSize?: number | number[] }).kernelSize;
  return Array.isArray(k) ? k : k === undefined ? [] : [k, k];
}

/** The encoder's blocks, bottom to top (every layer of the model in exactly one). */
export function encoderBlocks(model: tf.LayersModel): EncoderBlock[] {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const starts: { index: number; name: string }[] = [];
  const prefixed = layers.map((l) => /^(block\d+[a-z]?)_/.exec(l.name)?.[1]);
  if (prefixed.some(Boolean)) {
    let last: string | undefined;
    prefixed.forEach((p, i) => {
      if (p && p !== last) {
        starts.push({ index: i, name: p });
        last = p;
      }
    });
  } else {
    let lastProject = -1;
    let k = 0;
    layers.forEach((l, i) => {
      if (l.getClassName() !== 'DepthwiseConv2D') return;
      let start = i;
      if (i > 0 && layers[i - 1]!.getClassName() === 'ZeroPadding2D') start = i - 1;
      // The 1x1 expansion before the depthwise convolution, when it belongs to this block.
      for (let j = start - 1; j > lastProject; j--) {
        if (layers[j]!.getClassName() === 'Conv2D') {
          const ks = kernelSize(layers[j]!);
          if (ks.every((s) => s === 1)) start = j;
          break;
        }
        if (hasWeights(layers[j]!) && layers[j]!.getClassName() !== 'BatchNormalization') break;
      }
      const project = layers.findIndex((m, j) => j > i && m.getClassName() === 'Conv2D');
      lastProject = project < 0 ? i : project;
      starts.push({ index: start, name: `dw${++k}` });
    });
  }
  if (starts.length === 0) return [{ name: 'all', layers }];
  const blocks: EncoderBlock[] = [];
  if (starts[0]!.index > 0) blocks.push({ name: 'stem', layers: layers.slice(0, starts[0]!.index) });
  starts.forEach((s, b) => blocks.push({ name: s.name, layers: layers.slice(s.index, b + 1 < starts.length ? starts[b + 1]!.index : layers.length) }));
  return blocks;
}

/**
 * Makes only the top `n` blocks trainable ('all': every layer; 0: none, a frozen encoder).
 * Returns the names of the unfrozen blocks.
 */
export function unfreezeTop(model: tf.LayersModel, n: number | 'all'): string[] {
  const blocks = encoderBlocks(model);
  const count = n === 'all' ? blocks.length : n;
  if (!Number.isInteger(count) || count < 0) throw new Error(`galmorph: the number of blocks to unfreeze must be a non-negative integer or 'all', got ${n}`);
  if (count > blocks.length) {
    throw new Error(`galmorph: cannot unfreeze ${count} blocks: ${model.name} has ${blocks.length} (${blocks.map((b) => b.name).join(', ')}); use 'all' for every layer`);
  }
  const open = blocks.slice(blocks.length - count);
  const names = new Set(open.flatMap((b) => b.layers.map((l) => l.name)));
  for (const l of model.layers) l.trainable = names.has(l.name);
  return open.map((b) => b.name);
}
