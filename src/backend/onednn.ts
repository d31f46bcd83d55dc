/**
 * The `onednn` backend: tfjs's wasm backend with the kernels that dominate training and inference
 * (convolutions and their gradients, depthwise included; matrix products; max and average pooling
 * and their gradients; galmorph's batch-norm statistics and affine maps; and over large tensors:
 * ReLU, sigmoid, swish, products, sums, differences, quotients, minima and maxima (ReLU6),
 * same-shape or broadcast per channel, per image and channel or from a scalar, and sums and means
 * over contiguous axes) run natively, by oneDNN or on its threads, through galmorph's Node addon
 * (native/onednn, N-API).
 *
 * Design: the kernels are registered on the wasm backend and work on its heap in place. The
 * addon gets the heap's ArrayBuffer and each tensor's byte offset (`memoryOffset`), so no tensor
 * is copied in or out; all other ops stay on wasm. A process that starts on onednn starts the
 * single-threaded wasm build: the ops left to wasm are element-wise and single-threaded anyway,
 * and XNNPACK's spinning pool threads would compete with oneDNN's OpenMP threads
 * (`GALMORPH_THREADS`) for the same cores. (If plain wasm started first, threaded, the kernels
 * work on its shared heap just the same.)
 *
 * Every kernel hands the call back to the kernel it replaced (galmorph's wasm training kernel or
 * the backend's own) when the backend is not active (`GALMORPH_BACKEND=wasm` in the same process)
 * or for cases it does not cover (other dtypes, prelu activations, empty tensors, broadcasting
 * matrix batches), and when oneDNN rejects a shape.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { currentGradientContext } from './lean-gradients';

/** The addon's functions (native/onednn/src/addon.cc); parameters as documented there. */
export interface OnednnAddon {
  conv(heap: Uint8Array, p: Float64Array): void;
  pool(heap: Uint8Array, p: Float64Array): void;
  maxPoolGrad(heap: Uint8Array, p: Float64Array): void;
  matmul(heap: Uint8Array, p: Float64Array): void;
  bnStats(heap: Uint8Array, p: Float64Array): void;
  bnBackwardSums(heap: Uint8Array, p: Float64Array): void;
  bnAffine(heap: Uint8Array, p: Float64Array): void;
  unary(heap: Uint8Array, p: Float64Array): void;
  binary(heap: Uint8Array, p: Float64Array): void;
  reduce(heap: Uint8Array, p: Float64Array): void;
  adam(heap: Uint8Array, p: Float64Array): void;
  setThreads(n: number): void;
  threads(): number;
  info(): { version: string; isa: string; runtime: string; threads: number; cachedPrimitives: number };
  clearCache(): void;
}

/** Where the built addon lives: `GALMORPH_ONEDNN_ADDON` if set (tests point it at a missing file), else the repo's build. */
export function addonPath(): string {
  const override = process.env.GALMORPH_ONEDNN_ADDON;
  if (override) return path.resolve(override);
  return path.join(repoRoot(), 'native', 'onednn', 'build', 'Release', 'galmorph_onednn.node');
}

function repoRoot(): string {
  // src/backend (tsx) or dist/src/backend (compiled): the first folder up with galmorph's package.json.
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && /"name":\s*"galmorph"/.test(fs.readFileSync(pkg, 'utf8'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..');
}

let addon: OnednnAddon | undefined;
let loadError: string | undefined;

/** Loads the addon once; throws a one-line reason when it is not there or does not load. */
export function loadOnednn(): OnednnAddon {
  if (addon) return addon;
  if (loadError) throw new Error(loadError);
  const file = addonPath();
  try {
    if (!fs.existsSync(file)) {
      const why = path.join(path.dirname(path.dirname(file)), 'unavailable.txt');
      const reason = fs.existsSync(why) ? fs.readFileSync(why, 'utf8').trim() : 'run `npm run setup` (needs libdnnl-dev and build-essential)';
      throw new Error(`addon not built (${file} missing: ${reason})`);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(file) as OnednnAddon;
    return addon;
  } catch (err) {
    loadError = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
    throw new Error(loadError);
  }
}

/** oneDNN's version, ISA and runtime, for `galmorph env` and the backend line. */
export function onednnInfo(): ReturnType<OnednnAddon['info']> | undefined {
  return addon?.info();
}

/** Threads for oneDNN: `GALMORPH_THREADS` if set, else OpenMP's default (one per core). */
export function onednnThreadCount(): number | undefined {
  const raw = process.env.GALMORPH_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`galmorph: GALMORPH_THREADS must be a positive integer, got '${raw}'`);
  return n;
}

let active = false;

/** Turns the native kernels on or off (off: every call goes to the kernel they replaced). */
export function setOnednnActive(on: boolean): void {
  active = on;
}

export function onednnActive(): boolean {
  return active;
}

// ---- access to the wasm backend's heap --------------------------------------------------------

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object): boolean;
}

const offset = (b: WasmBackendLike, t: TensorInfo): number => b.dataIdMap.get(t.dataId).memoryOffset;
/**
 * The heap as a byte view, taken after all outputs are allocated (an allocation can grow, and so
 * replace, the memory). A view, not its buffer: the addon reaches a SharedArrayBuffer (the
 * threaded wasm build, when plain wasm started first in this process) only through a typed array.
 */
const heap = (b: WasmBackendLike): Uint8Array => b.wasm.HEAPU8;
/** Reused parameter block: one typed array per call instead of a dozen arguments. */
const P = new Float64Array(32);

const floats = (...ts: (TensorInfo | undefined | null)[]) => ts.every((t) => !t || (t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) > 0));

// ---- registration with fallback -----------------------------------------------------------------

const previous = new Map<string, KernelConfig>();
/** Calls that ran natively, per kernel: lets tests check that oneDNN, not a fallback, computed a result. */
const nativeCalls = new Map<string, number>();

/** A copy of the per-kernel counts of native calls so far. */
export function onednnCallCounts(): Record<string, number> {
  return Object.fromEntries(nativeCalls);
}

const counted = (name: string) => nativeCalls.set(name, (nativeCalls.get(name) ?? 0) + 1);
const setUp = new WeakSet<object>();
let warned = new Set<string>();

function runPrevious(name: string, args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const config = previous.get(name);
  if (!config) throw new Error(`galmorph: no wasm kernel '${name}' to fall back to`);
  if (config.setupFunc && !setUp.has(config)) {
    config.setupFunc(args.backend);
    setUp.add(config);
  }
  return (config.kernelFunc as KernelFunc)(args) as TensorInfo | TensorInfo[];
}

/**
 * A kernel that tries oneDNN and otherwise runs the kernel it replaced. `native` returns
 * undefined for a case it does not cover; an addon error (a shape oneDNN rejects) is reported
 * once per kernel and that call falls back too.
 */
function nativeKernel(name: string, native: (args: Parameters<KernelFunc>[0], b: WasmBackendLike) => TensorInfo | undefined): KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (args) => {
      if (active) {
        const b = args.backend as unknown as WasmBackendLike;
        let out: TensorInfo | undefined;
        try {
          out = native(args, b);
        } catch (err) {
          if (!warned.has(name)) {
            warned.add(name);
            console.warn(`galmorph onednn: ${name} fell back to wasm: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        if (out) {
          counted(name);
          return out;
        }
      }
      return runPrevious(name, args);
    },
  };
}

/** Allocates an output and runs the addon; frees the output if the addon throws. */
function withOutput(b: WasmBackendLike, shape: number[], fill: (out: TensorInfo) => void): TensorInfo {
  const out = b.makeOutput(shape, 'float32');
  try {
    fill(out);
  } catch (err) {
    b.disposeData(out.dataId);
    throw err;
  }
  return out;
}

// ---- convolutions ---------------------------------------------------------------------------

/** tfjs fused activations the addon applies as oneDNN post-ops; prelu is left to wasm. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, sigmoid: 3, elu: 4, leakyrelu: 5 };

type Conv2DInfo = tf.backend_util.Conv2DInfo;
const CONV_FORWARD = 0;
const CONV_BACKWARD_DATA = 1;
const CONV_BACKWARD_WEIGHTS = 2;

function nhwc(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

/** Runs one convolution primitive: x (or dx), filter (or dW), y (or dy) as offsets, per `kind`. */
function conv(b: WasmBackendLike, kind: number, info: Conv2DInfo, groups: number, ts: { x: TensorInfo; w: TensorInfo; y: TensorInfo; bias?: TensorInfo }, act = 0, alpha = 0): void {
  const { padInfo } = info;
  P.set([
    kind, info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, groups, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    padInfo.top, padInfo.left, padInfo.bottom, padInfo.right, ts.bias ? 1 : 0, act, alpha,
    offset(b, ts.x), offset(b, ts.w), offset(b, ts.y), ts.bias ? offset(b, ts.bias) : 0,
  ]);
  loadOnednn().conv(heap(b), P);
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: string;
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

function forwardConv(depthwise: boolean) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const a = args.attrs as unknown as ConvAttrs;
    const act = ACTIVATIONS[a.activation ?? 'linear'];
    if (!x || !filter || act === undefined || preluActivationWeights || !nhwc(a.dataFormat) || !floats(x, filter, bias)) return undefined;
    const info = tf.backend_util.computeConv2DInfo(x.shape as never, filter.shape as never, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== info.outChannels)) return undefined;
    return withOutput(b, info.outShape, (y) => conv(b, CONV_FORWARD, info, depthwise ? info.inChannels : 1, { x, w: filter, y, bias }, act, a.leakyreluAlpha ?? 0));
  };
}

/**
 * True while the gradient of a fused convolution runs whose input (argument 0) needs no gradient:
 * tfjs's fused conv2d computes dx and dW together, and for a network's first layer dx is the
 * gradient of the image, thrown away (PyTorch never computes it). A tenth of a small-CNN step.
 */
function inputGradientUnused(): boolean {
  const c = currentGradientContext();
  return c !== undefined && c.kernelName === 'fusedConv2d__op' && c.unused.has('0');
}

function backpropInput(depthwise: boolean) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { dy, filter } = args.inputs as Record<string, TensorInfo>;
    const a = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    if (!nhwc(a.dataFormat) || !floats(dy, filter)) return undefined;
    if (!depthwise && inputGradientUnused()) {
      // Zeros of the right shape: discarded by the caller, but never uninitialised memory.
      const zeros = b.makeOutput(a.inputShape, 'float32');
      b.wasm.HEAPU8.fill(0, offset(b, zeros), offset(b, zeros) + 4 * tf.util.sizeFromShape(a.inputShape));
      return zeros;
    }
    const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter!.shape as never, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    return withOutput(b, a.inputShape, (dx) => conv(b, CONV_BACKWARD_DATA, info, depthwise ? info.inChannels : 1, { x: dx, w: filter!, y: dy! }));
  };
}

function backpropFilter(depthwise: boolean) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { x, dy } = args.inputs as Record<string, TensorInfo>;
    const a = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    if (!nhwc(a.dataFormat) || !floats(x, dy)) return undefined;
    const info = tf.backend_util.computeConv2DInfo(x!.shape as never, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    return withOutput(b, a.filterShape, (dw) => conv(b, CONV_BACKWARD_WEIGHTS, info, depthwise ? info.inChannels : 1, { x: x!, w: dw, y: dy! }));
  };
}

// ---- pooling --------------------------------------------------------------------------------

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
const POOL_MAX = 0;
const POOL_AVG = 1;
const POOL_AVG_BACKWARD = 2;

function pool(b: WasmBackendLike, kind: number, info: tf.backend_util.Conv2DInfo, x: TensorInfo, y: TensorInfo): void {
  const { padInfo } = info;
  P.set([
    kind, info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, padInfo.top, padInfo.left, padInfo.bottom, padInfo.right,
    offset(b, x), offset(b, y),
  ]);
  loadOnednn().pool(heap(b), P);
}

function poolInfo(shape: number[], a: PoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(shape as never, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
}

function forwardPool(kind: number) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { x } = args.inputs as Record<string, TensorInfo>;
    if (!x || x.shape.length !== 4 || !floats(x)) return undefined;
    const info = poolInfo(x.shape, args.attrs as unknown as PoolAttrs);
    return withOutput(b, info.outShape, (y) => pool(b, kind, info, x, y));
  };
}

/**
 * dx of max pooling in one pass over x, its pooled output y and dy (first maximum of each window),
 * instead of oneDNN's forward-with-workspace then backward: tfjs hands MaxPoolGrad the output.
 */
function maxPoolGrad(args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined {
  const { dy, input, output } = args.inputs as Record<string, TensorInfo>;
  if (!dy || !input || !output || input.shape.length !== 4 || !floats(dy, input, output)) return undefined;
  const info = poolInfo(input.shape, args.attrs as unknown as PoolAttrs);
  return withOutput(b, input.shape, (dx) => {
    P.set([
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
      info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, offset(b, input), offset(b, output), offset(b, dy), offset(b, dx),
    ]);
    loadOnednn().maxPoolGrad(heap(b), P);
  });
}

function avgPoolGrad(args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined {
  const { dy, input } = args.inputs as Record<string, TensorInfo>;
  if (!dy || !input || input.shape.length !== 4 || !floats(dy, input)) return undefined;
  const info = poolInfo(input.shape, args.attrs as unknown as PoolAttrs);
  return withOutput(b, input.shape, (dx) => pool(b, POOL_AVG_BACKWARD, info, dx, dy));
}

// ---- matrix products -----------------------------------------------------------------------

function matmulKernel(args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined {
  const { a, b: bm, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
  const act = ACTIVATIONS[activation ?? 'linear'];
  if (!a || !bm || act === undefined || preluActivationWeights || a.shape.length < 2 || a.shape.length !== bm.shape.length || !floats(a, bm, bias)) return undefined;
  const r = a.shape.length;
  const M = transposeA ? a.shape[r - 1]! : a.shape[r - 2]!;
  const K = transposeA ? a.shape[r - 2]! : a.shape[r - 1]!;
  const N = transposeB ? bm.shape[r - 2]! : bm.shape[r - 1]!;
  const batchA = a.shape.slice(0, -2);
  const batchB = bm.shape.slice(0, -2);
  const ba = tf.util.sizeFromShape(batchA);
  const bb = tf.util.sizeFromShape(batchB);
  // Same batch dimensions, or one side without a batch (size 1 throughout); other broadcasts stay on wasm.
  const same = batchA.every((d, i) => d === batchB[i]);
  if (!same && ba !== 1 && bb !== 1) return undefined;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== N)) return undefined;
  const batch = same ? batchA : ba === 1 ? batchB : batchA;
  return withOutput(b, [...batch, M, N], (out) => {
    P.set([ba, bb, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0, bias ? 1 : 0, act, leakyreluAlpha ?? 0, offset(b, a), offset(b, bm), offset(b, out), bias ? offset(b, bias) : 0]);
    loadOnednn().matmul(heap(b), P);
  });
}

// ---- galmorph's batch norm ------------------------------------------------------------------
// Custom kernels the batch-norm layer calls (through tf.engine().runKernel) when this backend is
// active: per-channel statistics and gradient sums (Σdy, Σdy·(x − μ)) in one pass each, instead of
// pooling, mean and element-wise passes; and the affine maps y = x·a + c (+ (x2 − μ)·b).

export const BN_STATS = 'GalmorphBnStats';
export const BN_BACKWARD_SUMS = 'GalmorphBnBackwardSums';
export const BN_AFFINE = 'GalmorphBnAffine';

const channels = (t: TensorInfo) => t.shape[t.shape.length - 1]!;
const rows = (t: TensorInfo) => tf.util.sizeFromShape(t.shape) / channels(t);

function twoOutputs(b: WasmBackendLike, c: number, fill: (o1: TensorInfo, o2: TensorInfo) => void): TensorInfo[] {
  const o1 = b.makeOutput([c], 'float32');
  const o2 = b.makeOutput([c], 'float32');
  try {
    fill(o1, o2);
  } catch (err) {
    b.disposeData(o1.dataId);
    b.disposeData(o2.dataId);
    throw err;
  }
  return [o1, o2];
}

/**
 * A kernel of galmorph's own (no tfjs kernel behind it: its callers use it only while this backend
 * is active), counted like the native replacements.
 */
function galmorphKernel(name: string, run: (inputs: Record<string, TensorInfo>, b: WasmBackendLike, attrs: unknown) => TensorInfo | TensorInfo[]): KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      counted(name);
      return run(inputs as Record<string, TensorInfo>, backend as unknown as WasmBackendLike, attrs);
    },
  };
}

const bnKernels: KernelConfig[] = [
  galmorphKernel(BN_STATS, ({ x }, b) =>
    twoOutputs(b, channels(x!), (mean, variance) => {
      P.set([rows(x!), channels(x!), offset(b, x!), offset(b, mean), offset(b, variance)]);
      loadOnednn().bnStats(heap(b), P);
    }),
  ),
  galmorphKernel(BN_BACKWARD_SUMS, ({ dy, x, mean }, b) =>
    twoOutputs(b, channels(x!), (sumDy, sumDyX) => {
      P.set([rows(x!), channels(x!), offset(b, dy!), offset(b, x!), offset(b, mean!), offset(b, sumDy), offset(b, sumDyX)]);
      loadOnednn().bnBackwardSums(heap(b), P);
    }),
  ),
  galmorphKernel(BN_AFFINE, ({ x, scale, shift, x2, scale2, center }, b) =>
    withOutput(b, x!.shape, (out) => {
      P.set([rows(x!), channels(x!), x2 ? 1 : 0, offset(b, x!), offset(b, scale!), offset(b, shift!), offset(b, out), x2 ? offset(b, x2) : 0, x2 ? offset(b, scale2!) : 0, x2 ? offset(b, center!) : 0]);
      loadOnednn().bnAffine(heap(b), P);
    }),
  ),
];

/**
 * BN_AFFINE's gradient, for a batch norm in inference mode that gradients pass through (fine-tuning
 * with the top block unfrozen: its batch norms keep their moving statistics). Per channel, over all
 * axes but the last: y = x·a + c gives dx = dy·a, da = Σ dy·x, dc = Σ dy, in tf ops (native where
 * large). The two-input form (x2) is used only inside the training layer's own gradient, which is
 * never differentiated again, so it has none.
 */
function registerAffineGradient(): void {
  tf.registerGradient({
    kernelName: BN_AFFINE,
    inputsToSave: ['x', 'scale'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [x, scale] = saved as [tf.Tensor, tf.Tensor];
      const rows = Array.from({ length: g.rank - 1 }, (_, i) => i);
      return { x: () => tf.mul(g, scale), scale: () => tf.sum(tf.mul(g, x), rows), shift: () => tf.sum(g, rows) };
    },
  });
}

/**
 * Whether galmorph's own kernels (batch norm, swish, Adam) can run on `x`: this backend active and
 * current, a non-empty float32 tensor. Their callers otherwise compute the same thing in tf ops.
 */
export function galmorphKernelsFor(x: tf.Tensor): boolean {
  return active && x.dtype === 'float32' && x.size > 0 && tf.getBackend() === 'wasm';
}

// ---- element-wise ops and reductions over whole activations --------------------------------------

/** Below this many elements wasm is as fast (a native call has a fixed cost); Adam's scalars stay there. */
const ELTWISE_MIN = 1 << 14;
const UNARY = { Relu: 0, Sigmoid: 1, Swish: 2, SwishGrad: 3, Step: 4 } as const;
const BINARY = { Multiply: 0, Add: 1, Sub: 2, RealDiv: 3, Minimum: 4, Maximum: 5 } as const;

const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * How an operand of shape `small` broadcasts to `out`, as the addon's [outer, mid, inner] view:
 * the output is [outer, mid, inner] and the operand [outer, 1, inner] (a scalar: [1, n, 1]; a
 * per-channel vector against NHWC: [1, N·H·W, C]; squeeze-and-excitation's [N, 1, 1, C]: [N, H·W, C]).
 * Undefined for any other broadcast (two separate runs of repeated axes), which stays on wasm.
 */
export function broadcastPattern(out: number[], small: number[]): [number, number, number] | undefined {
  const r = out.length;
  if (small.length > r) return undefined;
  const t = [...new Array<number>(r - small.length).fill(1), ...small];
  let k = 0;
  while (k < r && t[k] === out[k]) k++;
  if (k === r) return [1, product(out), 1];
  let j = r;
  while (j > k && t[j - 1] === out[j - 1]) j--;
  for (let i = k; i < j; i++) if (t[i] !== 1) return undefined;
  return [product(out.slice(0, k)), product(out.slice(k, j)), product(out.slice(j))];
}

function unaryKernel(name: 'Relu' | 'Sigmoid' | 'Step') {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { x } = args.inputs as Record<string, TensorInfo | undefined>;
    if (!x || !floats(x) || tf.util.sizeFromShape(x.shape) < ELTWISE_MIN) return undefined;
    const alpha = name === 'Step' ? (args.attrs as { alpha?: number }).alpha ?? 0 : 0;
    if (Number.isNaN(alpha)) return undefined;
    return withOutput(b, x.shape, (out) => runUnary(b, UNARY[name], x, undefined, out, alpha));
  };
}

function runUnary(b: WasmBackendLike, op: number, x: TensorInfo, dy: TensorInfo | undefined, out: TensorInfo, alpha = 0): void {
  P.set([op, tf.util.sizeFromShape(x.shape), offset(b, x), dy ? offset(b, dy) : 0, offset(b, out), alpha]);
  loadOnednn().unary(heap(b), P);
}

/** Products, sums, differences, quotients, minima and maxima: same shapes, or one operand broadcast as broadcastPattern allows. */
function binaryKernel(name: keyof typeof BINARY) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { a, b: other } = args.inputs as Record<string, TensorInfo | undefined>;
    if (!a || !other || !floats(a, other)) return undefined;
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, other.shape);
    const n = tf.util.sizeFromShape(shape);
    if (n < ELTWISE_MIN) return undefined;
    const na = tf.util.sizeFromShape(a.shape);
    const nb = tf.util.sizeFromShape(other.shape);
    // side: which operand is broadcast (0 neither, 1 b, 2 a).
    const side = na === n && nb === n ? 0 : na === n ? 1 : nb === n ? 2 : -1;
    const pattern = side === 0 ? ([1, n, 1] as const) : side === 1 ? broadcastPattern(shape, other.shape) : side === 2 ? broadcastPattern(shape, a.shape) : undefined;
    if (!pattern) return undefined;
    return withOutput(b, shape, (out) => {
      P.set([BINARY[name], pattern[0], pattern[1], pattern[2], side, offset(b, a), offset(b, other), offset(b, out)]);
      loadOnednn().binary(heap(b), P);
    });
  };
}

/** Sum or mean over contiguous axes (global average pooling, bias and broadcast gradients). */
function reduceKernel(mean: boolean) {
  return (args: Parameters<KernelFunc>[0], b: WasmBackendLike): TensorInfo | undefined => {
    const { x } = args.inputs as Record<string, TensorInfo | undefined>;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    if (!x || !floats(x) || tf.util.sizeFromShape(x.shape) < ELTWISE_MIN) return undefined;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((ax, i) => i > 0 && ax !== axes[i - 1]! + 1)) return undefined;
    const first = axes[0]!;
    const last = axes[axes.length - 1]!;
    const [reduced] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(reduced, axes) : reduced;
    return withOutput(b, shape, (out) => {
      P.set([mean ? 1 : 0, product(x.shape.slice(0, first)), product(x.shape.slice(first, last + 1)), product(x.shape.slice(last + 1)), offset(b, x), offset(b, out)]);
      loadOnednn().reduce(heap(b), P);
    });
  };
}

// Swish, x·σ(x), as one pass forward and one backward (galmorph's swish layer calls these through
// tf.engine().runKernel when this backend is active): tfjs composes it from a product with the
// scalar 1, a sigmoid and a product, and its gradient from five more element-wise passes.
export const SWISH = 'GalmorphSwish';
export const SWISH_GRAD = 'GalmorphSwishGrad';

const swishKernels: KernelConfig[] = [
  galmorphKernel(SWISH, ({ x }, b) => withOutput(b, x!.shape, (out) => runUnary(b, UNARY.Swish, x!, undefined, out))),
  galmorphKernel(SWISH_GRAD, ({ dy, x }, b) => withOutput(b, x!.shape, (out) => runUnary(b, UNARY.SwishGrad, x!, dy, out))),
];

// Adam's update of one variable in one pass (galmorph's Adam optimizer calls it through
// tf.engine().runKernel when this backend is active); see adam() in the addon.
export const ADAM = 'GalmorphAdam';

/** Attributes of the ADAM kernel: the learning rate, β1, β2, ε and the bias corrections 1 − β^t. */
export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  c1: number;
  c2: number;
}

const adamKernel = galmorphKernel(ADAM, ({ value, m, v, grad }, b, attrs) => {
  const a = attrs as AdamAttrs;
  const outs = [value!, m!, v!].map((t) => b.makeOutput(t.shape, 'float32'));
  try {
    P.set([tf.util.sizeFromShape(value!.shape), a.lr, a.beta1, a.beta2, a.epsilon, a.c1, a.c2, 1 - a.beta1, 1 - a.beta2, ...[value!, m!, v!, grad!, ...outs].map((t) => offset(b, t))]);
    loadOnednn().adam(heap(b), P);
  } catch (err) {
    for (const t of outs) b.disposeData(t.dataId);
    throw err;
  }
  return outs;
});

/** Whether galmorph's swish layer should call the native kernels (active, float32, large enough to pay). */
export function nativeSwish(x: tf.Tensor): boolean {
  return galmorphKernelsFor(x) && x.size >= ELTWISE_MIN;
}

/**
 * Identity without a copy: tfjs clones every tensor a gradient saves (inputs and outputs of each
 * layer, through the Identity kernel), and the wasm backend's Identity copies the data. Sharing it
 * with a reference count, as the wasm backend's own Reshape does, is safe because no kernel writes
 * into its inputs. About 6% of a small-CNN step.
 */
function identityKernel(args: Parameters<KernelFunc>[0], b: WasmBackendLike & { incRef(dataId: object): void }): TensorInfo | undefined {
  const { x } = args.inputs as { x: TensorInfo };
  if (!x || x.dtype === 'string') return undefined;
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * A cast to the tensor's own dtype shares the data, as Identity does: tfjs's ReLU gradient casts its
 * float32 mask to float32, a full copy on wasm. Other casts stay on wasm.
 */
function sameTypeCastKernel(args: Parameters<KernelFunc>[0], b: WasmBackendLike & { incRef(dataId: object): void }): TensorInfo | undefined {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as { dtype: string };
  if (!x || x.dtype !== dtype || dtype === 'string') return undefined;
  return identityKernel(args, b);
}

export const ONEDNN_KERNELS: KernelConfig[] = [
  nativeKernel('Identity', identityKernel as (args: Parameters<KernelFunc>[0], b: WasmBackendLike) => TensorInfo | undefined),
  nativeKernel('Conv2D', forwardConv(false)),
  nativeKernel('FusedConv2D', forwardConv(false)),
  nativeKernel('DepthwiseConv2dNative', forwardConv(true)),
  nativeKernel('FusedDepthwiseConv2D', forwardConv(true)),
  nativeKernel('Conv2DBackpropInput', backpropInput(false)),
  nativeKernel('Conv2DBackpropFilter', backpropFilter(false)),
  nativeKernel('DepthwiseConv2dNativeBackpropInput', backpropInput(true)),
  nativeKernel('DepthwiseConv2dNativeBackpropFilter', backpropFilter(true)),
  nativeKernel('MaxPool', forwardPool(POOL_MAX)),
  nativeKernel('AvgPool', forwardPool(POOL_AVG)),
  nativeKernel('MaxPoolGrad', maxPoolGrad),
  nativeKernel('AvgPoolGrad', avgPoolGrad),
  nativeKernel('BatchMatMul', matmulKernel),
  nativeKernel('Relu', unaryKernel('Relu')),
  nativeKernel('Sigmoid', unaryKernel('Sigmoid')),
  nativeKernel('Step', unaryKernel('Step')),
  nativeKernel('Cast', sameTypeCastKernel as (args: Parameters<KernelFunc>[0], b: WasmBackendLike) => TensorInfo | undefined),
  nativeKernel('Multiply', binaryKernel('Multiply')),
  nativeKernel('Add', binaryKernel('Add')),
  nativeKernel('Sub', binaryKernel('Sub')),
  nativeKernel('RealDiv', binaryKernel('RealDiv')),
  nativeKernel('Minimum', binaryKernel('Minimum')),
  nativeKernel('Maximum', binaryKernel('Maximum')),
  nativeKernel('Sum', reduceKernel(false)),
  nativeKernel('Mean', reduceKernel(true)),
  nativeKernel('_FusedMatMul', matmulKernel),
];

let registered = false;

/**
 * Registers the native kernels on the wasm backend, over whatever is registered there (call it
 * after galmorph's wasm training kernels, so that those are what a fallback runs). Idempotent.
 */
export function registerOnednnKernels(): void {
  if (registered) return;
  for (const k of ONEDNN_KERNELS) {
    const existing = tf.getKernel(k.kernelName, 'wasm');
    if (existing) {
      previous.set(k.kernelName, existing);
      tf.unregisterKernel(k.kernelName, 'wasm');
    }
    tf.registerKernel(k);
  }
  for (const k of [...bnKernels, ...swishKernels, adamKernel]) tf.registerKernel(k);
  registerAffineGradient();
  registered = true;
  warned = new Set();
}

/** The kernel a native one replaced (what its fallback runs), if any. */
export function replacedKernel(name: string): KernelConfig | undefined {
  return previous.get(name);
}

/** The kernel names the backend runs natively (for reports and tests). */
export const ONEDNN_KERNEL_NAMES = ONEDNN_KERNELS.map((k) => k.kernelName);
