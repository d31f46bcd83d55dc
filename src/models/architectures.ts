/**
 * Encoder architectures by name: the image → representation part of every galmorph model.
 * A registry behind one factory (`buildEncoder`), each with its default input size:
 *   galmorph-cnn     the CPU-fast default: five conv3x3 + batch-norm + ReLU blocks, 96 px
 *   galmorph-cnn-wide  the same with wider last two blocks (256, 512)
 *   galmorph-cnn-deep  the same with two convolutions per block
 *   smallcnn         three conv blocks (32-64-128): the speed yardstick of bench:backend
 *   efficientnet-b0  the paper's encoder (Tan & Le 2019), 224 px
 * The representation is the global-average-pooled output of the last block.
 */
import * as tf from '@tensorflow/tfjs';
import { GalmorphBatchNorm } from './layers/batch-norm';
import { GalmorphSwish } from './layers/swish';
import { loadMobileNetV2, manifestTopology, MOBILENET_V2 } from './imagenet';

export interface EncoderOptions {
  /** Input size in pixels (square). Default: the architecture's own. */
  size?: number;
  /** 3 for RGB, 1 for greyscale. Default 3. */
  channels?: number;
}

export interface EncoderSpec {
  name: string;
  description: string;
  defaultSize: number;
  /** Builds layers from an input to the pooled representation. */
  build: (input: tf.SymbolicTensor) => tf.SymbolicTensor;
  /** Sets the starting weights of a freshly built model (default: the layers' random initialisers). */
  initialise?: (model: tf.LayersModel) => Promise<void>;
  /** Input channels the architecture accepts (default: 1 or 3). */
  channels?: 3;
}

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym): Sym => layer.apply(x) as Sym;

function convBnAct(x: Sym, filters: number, name: string, opts: { kernel?: number; stride?: number; act?: 'relu' | 'swish' } = {}): Sym {
  x = apply(tf.layers.conv2d({ filters, kernelSize: opts.kernel ?? 3, strides: opts.stride ?? 1, padding: 'same', useBias: false, name: `${name}_conv` }), x);
  x = apply(new GalmorphBatchNorm({ name: `${name}_bn` }), x);
  if (opts.act === 'swish') return apply(new GalmorphSwish({ name: `${name}_swish` }), x);
  return apply(tf.layers.activation({ activation: 'relu', name: `${name}_relu` }), x);
}

const pool = (x: Sym, name: string) => apply(tf.layers.maxPooling2d({ poolSize: 2, name }), x);
const gap = (x: Sym) => apply(tf.layers.globalAveragePooling2d({ name: 'representation' }), x);

/** Conv blocks with max-pooling between and global average pooling after the last. */
function plainCnn(input: Sym, widths: number[]): Sym {
  let x = input;
  widths.forEach((w, i) => {
    x = convBnAct(x, w, `block${i + 1}`);
    if (i < widths.length - 1) x = pool(x, `block${i + 1}_pool`);
  });
  return gap(x);
}

/** As plainCnn, with two conv3x3+BN+ReLU layers per block (VGG's pattern): twice the depth. */
function doubleConvCnn(input: Sym, widths: number[]): Sym {
  let x = input;
  widths.forEach((w, i) => {
    x = convBnAct(x, w, `block${i + 1}_1`);
    x = convBnAct(x, w, `block${i + 1}`);
    if (i < widths.length - 1) x = pool(x, `block${i + 1}_pool`);
  });
  return gap(x);
}

const galmorphCnn = (input: Sym) => plainCnn(input, [32, 64, 128, 192, 256]);
const galmorphCnnDeep = (input: Sym) => doubleConvCnn(input, [32, 64, 128, 192, 256]);
// Wider only where the maps are small (12 and 6 px at 96 px input): twice the representation for
// about a fifth more compute.
const galmorphCnnWide = (input: Sym) => plainCnn(input, [32, 64, 128, 256, 512]);

interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/**
 * MobileNetV2 1.0 as the ImageNet model of `../shared/weights` has it (batch norm folded into the
 * convolutions, ReLU6), rebuilt layer by layer on `input` at any size divisible by 32, up to its
 * global pooling (1280-d); its classifier is left out. A fixed first layer maps galmorph's [0, 1]
 * input to ImageNet's normalisation, so the ImageNet weights see what they were trained on.
 */
function mobileNetV2(input: Sym): Sym {
  const topology = manifestTopology(MOBILENET_V2) as unknown as { config?: { layers: KerasLayerJson[] }; model_config?: { config: { layers: KerasLayerJson[] } } };
  const layers = (topology.model_config?.config ?? topology.config)!.layers;
  // A fixed 1x1 convolution (diagonal kernel), so fine-tuning's block finder counts it in the stem.
  const normalise = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'imagenet_normalise', trainable: false });
  const outputs = new Map<string, Sym>();
  outputs.set(layers[0]!.name, apply(normalise, input));
  const fixed = tf.tidy(() => [
    tf.reshape(tf.diag(tf.tensor1d(IMAGENET_STD.map((s) => 1 / s))), [1, 1, 3, 3]),
    tf.tensor1d(IMAGENET_MEAN.map((m, i) => -m / IMAGENET_STD[i]!)),
  ]);
  normalise.setWeights(fixed);
  tf.dispose(fixed); // the layer's variables hold their own reference
  let last: Sym | undefined;
  for (const l of layers.slice(1)) {
    const c = l.config;
    const inputs = l.inbound_nodes[0]!.map(([from]) => outputs.get(from)!);
    let layer: tf.layers.Layer;
    switch (l.class_name) {
      case 'Conv2D':
        layer = tf.layers.conv2d({ name: l.name, filters: c.filters as number, kernelSize: c.kernel_size as [number, number], strides: c.strides as [number, number], padding: c.padding as 'same' | 'valid', activation: c.activation as 'relu6' | 'linear', useBias: c.use_bias as boolean });
        break;
      case 'DepthwiseConv2D':
        layer = tf.layers.depthwiseConv2d({ name: l.name, kernelSize: c.kernel_size as [number, number], strides: c.strides as [number, number], padding: c.padding as 'same' | 'valid', activation: c.activation as 'relu6' | 'linear', useBias: c.use_bias as boolean, depthMultiplier: (c.depth_multiplier as number | undefined) ?? 1 });
        break;
      case 'ZeroPadding2D':
        layer = tf.layers.zeroPadding2d({ name: l.name, padding: c.padding as [[number, number], [number, number]] });
        break;
      case 'Add':
        layer = tf.layers.add({ name: l.name });
        break;
      case 'GlobalAveragePooling2D':
        return gap(inputs[0]!);
      default:
        throw new Error(`galmorph: MobileNetV2's topology has a ${l.class_name} layer (${l.name}) that mobilenetv2-imagenet cannot rebuild`);
    }
    last = (inputs.length === 1 ? layer.apply(inputs[0]!) : layer.apply(inputs)) as Sym;
    outputs.set(l.name, last);
  }
  throw new Error(`galmorph: MobileNetV2's topology has no global pooling after ${last?.name ?? 'its input'}`);
}

/** Copies the ImageNet weights into every layer of `model` named as one of MobileNetV2's. */
async function imagenetWeights(model: tf.LayersModel): Promise<void> {
  const imagenet = await loadMobileNetV2();
  try {
    for (const source of imagenet.layers) {
      if (source.name === 'logits' || source.getWeights().length === 0) continue;
      model.getLayer(source.name).setWeights(source.getWeights());
    }
  } finally {
    imagenet.dispose();
  }
}

function smallCnnEncoder(input: Sym): Sym {
  let x = convBnAct(input, 32, 'block1');
  x = pool(x, 'block1_pool');
  x = convBnAct(x, 64, 'block2');
  x = pool(x, 'block2_pool');
  x = convBnAct(x, 128, 'block3');
  return gap(x);
}

/** EfficientNet mobile inverted bottleneck with squeeze-and-excitation (no stochastic depth). */
function mbConv(x: Sym, name: string, inF: number, outF: number, expand: number, kernel: number, stride: number): Sym {
  const shortcut = x;
  const mid = inF * expand;
  if (expand !== 1) x = convBnAct(x, mid, `${name}_expand`, { kernel: 1, act: 'swish' });
  x = apply(tf.layers.depthwiseConv2d({ kernelSize: kernel, strides: stride, padding: 'same', useBias: false, name: `${name}_dwconv` }), x);
  x = apply(new GalmorphBatchNorm({ name: `${name}_bn` }), x);
  x = apply(new GalmorphSwish({ name: `${name}_swish` }), x);
  // squeeze-and-excitation: channel weights from the pooled features
  const squeezed = Math.max(1, Math.floor(inF * 0.25));
  let se = apply(tf.layers.globalAveragePooling2d({ name: `${name}_se_pool` }), x);
  se = apply(tf.layers.reshape({ targetShape: [1, 1, mid], name: `${name}_se_reshape` }), se);
  se = apply(tf.layers.conv2d({ filters: squeezed, kernelSize: 1, activation: 'swish', name: `${name}_se_reduce` }), se);
  se = apply(tf.layers.conv2d({ filters: mid, kernelSize: 1, activation: 'sigmoid', name: `${name}_se_expand` }), se);
  x = tf.layers.multiply({ name: `${name}_se_scale` }).apply([x, se]) as Sym;
  x = apply(tf.layers.conv2d({ filters: outF, kernelSize: 1, padding: 'same', useBias: false, name: `${name}_project_conv` }), x);
  x = apply(new GalmorphBatchNorm({ name: `${name}_project_bn` }), x);
  if (stride === 1 && inF === outF) x = tf.layers.add({ name: `${name}_add` }).apply([x, shortcut]) as Sym;
  return x;
}

/** EfficientNetB0 stages: expand ratio, kernel, stride, output filters, repeats. */
const B0_STAGES: [number, number, number, number, number][] = [
  [1, 3, 1, 16, 1],
  [6, 3, 2, 24, 2],
  [6, 5, 2, 40, 2],
  [6, 3, 2, 80, 3],
  [6, 5, 1, 112, 3],
  [6, 5, 2, 192, 4],
  [6, 3, 1, 320, 1],
];

function efficientNetB0(input: Sym): Sym {
  let x = convBnAct(input, 32, 'stem', { stride: 2, act: 'swish' });
  let inF = 32;
  B0_STAGES.forEach(([expand, kernel, stride, outF, repeats], s) => {
    for (let r = 0; r < repeats; r++) {
      x = mbConv(x, `block${s + 1}${String.fromCharCode(97 + r)}`, inF, outF, expand, kernel, r === 0 ? stride : 1);
      inF = outF;
    }
  });
  x = convBnAct(x, 1280, 'top', { kernel: 1, act: 'swish' });
  return gap(x);
}

export const ENCODERS: Record<string, EncoderSpec> = {
  'galmorph-cnn': {
    name: 'galmorph-cnn',
    description: 'CPU-fast default: 5 conv3x3+BN+ReLU blocks (32-64-128-192-256), max-pool between, 256-d representation',
    defaultSize: 96,
    build: galmorphCnn,
  },
  'galmorph-cnn-deep': {
    name: 'galmorph-cnn-deep',
    description: 'galmorph-cnn with two conv3x3+BN+ReLU layers per block (10 in all), 256-d representation',
    defaultSize: 96,
    build: galmorphCnnDeep,
  },
  'galmorph-cnn-wide': {
    name: 'galmorph-cnn-wide',
    description: 'galmorph-cnn with wider last blocks (32-64-128-256-512), 512-d representation',
    defaultSize: 96,
    build: galmorphCnnWide,
  },
  'mobilenetv2-imagenet': {
    name: 'mobilenetv2-imagenet',
    description: "MobileNetV2 1.0 started from ImageNet's weights (../shared/weights), 1280-d representation",
    defaultSize: 128,
    build: mobileNetV2,
    initialise: imagenetWeights,
    channels: 3,
  },
  smallcnn: {
    name: 'smallcnn',
    description: 'speed yardstick: 3 conv3x3+BN+ReLU blocks (32-64-128), 128-d representation',
    defaultSize: 64,
    build: smallCnnEncoder,
  },
  'efficientnet-b0': {
    name: 'efficientnet-b0',
    description: "the paper's encoder: EfficientNetB0 (MBConv + squeeze-excite, swish), 1280-d representation",
    defaultSize: 224,
    build: efficientNetB0,
  },
};

export const DEFAULT_ENCODER = 'galmorph-cnn';

/** The spec for a name; the error lists the valid names. */
export function encoderSpec(name: string): EncoderSpec {
  const spec = ENCODERS[name];
  if (!spec) throw new Error(`galmorph: unknown architecture '${name}'. Valid choices: ${Object.keys(ENCODERS).join(', ')}`);
  return spec;
}

/** An encoder model: image [size, size, channels] → representation vector. */
export function buildEncoder(name: string = DEFAULT_ENCODER, options: EncoderOptions = {}): tf.LayersModel {
  const spec = encoderSpec(name);
  const size = options.size ?? spec.defaultSize;
  const channels = options.channels ?? 3;
  if (!Number.isInteger(size) || size < 16) throw new Error(`galmorph: input size must be an integer of at least 16 pixels, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`galmorph: channels must be 1 (greyscale) or 3 (RGB), got ${channels}`);
  if (spec.channels !== undefined && channels !== spec.channels) throw new Error(`galmorph: ${name} takes ${spec.channels}-channel (RGB) images, not ${channels}`);
  const input = tf.input({ shape: [size, size, channels], name: 'image' });
  return tf.model({ inputs: input, outputs: spec.build(input), name: spec.name });
}

/** Encoder plus a dense head with `outputs` units: the model bench:backend trains. */
export function withDenseHead(encoder: tf.LayersModel, outputs: number): tf.LayersModel {
  const input = encoder.inputs[0]!;
  const rep = encoder.outputs[0]!;
  const out = tf.layers.dense({ units: outputs, name: 'head' }).apply(rep) as Sym;
  return tf.model({ inputs: input, outputs: out, name: `${encoder.name}_head` });
}
