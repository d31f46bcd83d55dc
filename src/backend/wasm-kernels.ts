/**
 * Training kernels for the tfjs wasm backend. Out of the box it cannot train conv nets
 * (Conv2DBackpropFilter and the depthwise gradients are not registered) and its
 * Conv2DBackpropInput is a naive loop. Each kernel here is composed from the backend's own fast
 * kernels (XNNPACK convolutions and matmuls, pads, slices, transposes), called through the kernel
 * registry so that nothing is recorded on the gradient tape and intermediates are freed at once.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

const BACKEND = 'wasm';

interface WasmBackendLike {
  disposeData(dataId: object): boolean;
}

type Inputs = Record<string, TensorInfo>;

/** Runs another wasm kernel directly (no tape, no engine bookkeeping). */
function run(name: string, inputs: Inputs, attrs: NamedAttrMap, backend: WasmBackendLike): TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (!kernel) throw new Error(`galmorph: the wasm backend has no '${name}' kernel`);
  return (kernel.kernelFunc as KernelFunc)({ inputs, attrs, backend: backend as never }) as TensorInfo;
}

/** Frees intermediates (never an input or the kernel's output). */
function free(backend: WasmBackendLike, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

const reshape = (x: TensorInfo, shape: number[], b: WasmBackendLike) => run('Reshape', { x }, { shape }, b);
const transpose = (x: TensorInfo, perm: number[], b: WasmBackendLike) => run('Transpose', { x }, { perm }, b);
const pad = (x: TensorInfo, paddings: [number, number][], b: WasmBackendLike) =>
  run('PadV2', { x }, { paddings, constantValue: 0 } as unknown as NamedAttrMap, b);

type PadAttr = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** Attributes tfjs passes to both 2-D convolution gradient kernels. */
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: PadAttr;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function assertNHWC(dataFormat: unknown, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`galmorph: ${kernel} on wasm supports NHWC only, got ${String(dataFormat)}`);
  }
}

/**
 * Zero-inserts `stride - 1` rows/columns between the pixels of a NHWC tensor and pads it, so that a
 * stride-1 convolution of the result with the flipped filter is the transposed convolution.
 * Negative padding crops.
 */
function dilateAndPad(
  dy: TensorInfo,
  strides: [number, number],
  padding: [number, number, number, number],
  b: WasmBackendLike,
): TensorInfo {
  const [n, h, w, c] = dy.shape as [number, number, number, number];
  const [sh, sw] = strides;
  let x = dy;
  const owned: TensorInfo[] = [];
  if (sh > 1 || sw > 1) {
    // [n,h,1,w,1,c] padded to [n,h,sh,w,sw,c] then folded: every input pixel followed by zeros.
    const r = reshape(dy, [n, h, 1, w, 1, c], b);
    const p = pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], b);
    x = reshape(p, [n, h * sh, w * sw, c], b);
    free(b, r);
    owned.push(p);
    // The zeros after the last row/column are not part of the dilated tensor.
    padding = [padding[0], padding[1] - (sh - 1), padding[2], padding[3] - (sw - 1)];
  }
  const out = padOrCrop(x, padding, b);
  if (x !== dy) owned.push(x);
  free(b, ...owned);
  return out;
}

/** Pads the two spatial axes of a NHWC tensor by [top, bottom, left, right]; negative values crop. */
function padOrCrop(x: TensorInfo, padding: [number, number, number, number], b: WasmBackendLike): TensorInfo {
  const [top, bottom, left, right] = padding;
  const [n, , , c] = x.shape as number[];
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], b);
  const pos = pad(x, [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]], b);
  const [, ph, pw] = pos.shape as number[];
  const begin = [0, Math.max(-top, 0), Math.max(-left, 0), 0];
  const size = [n!, ph! - Math.max(-top, 0) - Math.max(-bottom, 0), pw! - Math.max(-left, 0) - Math.max(-right, 0), c!];
  const out = run('Slice', { x: pos }, { begin, size }, b);
  free(b, pos);
  return out;
}

/**
 * [top, bottom, left, right] that make an h x w input exactly as large as the filter taps reach,
 * (out − 1)·stride + k, so a valid convolution with dy as the filter gives a k x k result.
 */
function reachPadding(info: tf.backend_util.Conv2DInfo, h: number, w: number): [number, number, number, number] {
  const { padInfo, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  return [
    padInfo.top,
    (outHeight - 1) * strideHeight + filterHeight - padInfo.top - h,
    padInfo.left,
    (outWidth - 1) * strideWidth + filterWidth - padInfo.left - w,
  ];
}

/** Padding of the transposed convolution that maps a dy of `outShape` back to `inShape`. */
function transposedPadding(info: tf.backend_util.Conv2DInfo): [number, number, number, number] {
  const { inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth, padInfo } = info;
  const top = filterHeight - 1 - padInfo.top;
  const left = filterWidth - 1 - padInfo.left;
  const dilatedH = (outHeight - 1) * strideHeight + 1;
  const dilatedW = (outWidth - 1) * strideWidth + 1;
  // The padded, dilated dy must be inHeight + filterHeight - 1 high for a valid stride-1
  // convolution to give back inHeight rows.
  const bottom = inHeight + filterHeight - 1 - top - dilatedH;
  const right = inWidth + filterWidth - 1 - left - dilatedW;
  return [top, bottom, left, right];
}

/** dL/dx of a 2-D convolution: the convolution of the dilated, padded dy with the flipped filter. */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad: padAttr, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as ConvGradAttrs & { inputShape: Shape4 };
    assertNHWC(dataFormat, 'Conv2DBackpropInput');
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, padAttr, dimRoundingMode);
    const padded = dilateAndPad(dy, [info.strideHeight, info.strideWidth], transposedPadding(info), b);
    // filter [kh,kw,in,out] → flipped spatially, in/out swapped: [kh,kw,out,in]
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] }, b);
    const swapped = transpose(flipped, [0, 1, 3, 2], b);
    const dx = run('Conv2D', { x: padded, filter: swapped }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] }, b);
    free(b, padded, flipped, swapped);
    return dx;
  },
};

/**
 * dL/dW of a 2-D convolution, as one more convolution that XNNPACK runs multi-threaded:
 *   dW[kh,kw,ci,co] = Σ_{n,h,w} xpad[n, h·s+kh, w·s+kw, ci] · dy[n,h,w,co]
 * is a convolution of x (channels-first, so ci is the batch and n the channels) with dy used as a
 * [outH, outW, n, co] filter dilated by the stride. No im2col is built (the strided-slice im2col
 * this replaced spent 4x longer gathering patches than multiplying them).
 */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad: padAttr, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as ConvGradAttrs & { filterShape: Shape4 };
    assertNHWC(dataFormat, 'Conv2DBackpropFilter');
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, padAttr, dimRoundingMode);
    const { strideHeight, strideWidth } = info;
    const [, h, w] = x.shape as [number, number, number, number];
    const xT = transpose(x, [3, 1, 2, 0], b); // [ci, h, w, n]
    const xp = padOrCrop(xT, reachPadding(info, h, w), b);
    const dyT = transpose(dy, [1, 2, 0, 3], b); // [outH, outW, n, co]
    const dwT = run('Conv2D', { x: xp, filter: dyT }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [strideHeight, strideWidth] }, b);
    const dw = transpose(dwT, [1, 2, 0, 3], b); // [kh, kw, ci, co]
    free(b, xT, xp, dyT, dwT);
    return dw;
  },
};

interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: DepthwiseAttrs, kernel: string): tf.backend_util.Conv2DInfo {
  const d = attrs.dilations ?? 1;
  if ((Array.isArray(d) ? d : [d, d]).some((v) => v !== 1)) {
    throw new Error(`galmorph: ${kernel} on wasm supports dilation 1 only (as tfjs's own gradient does)`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * dL/dW of a depthwise convolution, as one depthwise convolution that XNNPACK runs:
 *   dW[kh,kw,c,m] = Σ_{n,h,w} xpad[n, h·s+kh, w·s+kw, c] · dy[n,h,w,c·M+m]
 * With the batch moved into the channels (x as [1, h, w, n·c]) this is a depthwise convolution
 * of x with dy as an [outH, outW, n·c, M] filter dilated by the stride, summed over n afterwards.
 * (A per-tap multiply-and-reduce, the first version, was 60x slower on EfficientNet layers.)
 */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
    const info = depthwiseInfo(x.shape, a.filterShape, a, 'DepthwiseConv2dNativeBackpropFilter');
    const [kh, kw, c, mult] = a.filterShape;
    const { strideHeight, strideWidth, outHeight, outWidth, batchSize: n } = info;
    const [, h, w] = x.shape as number[];
    const xT = transpose(x, [1, 2, 0, 3], b); // [h, w, n, c]
    const x4 = reshape(xT, [1, h!, w!, n * c], b);
    const xp = padOrCrop(x4, reachPadding(info, h!, w!), b);
    const dyT = transpose(dy, [1, 2, 0, 3], b); // [outH, outW, n, c·M]
    const filter = reshape(dyT, [outHeight, outWidth, n * c, mult], b);
    const conv = run(
      'DepthwiseConv2dNative',
      { x: xp, filter },
      { strides: [1, 1], pad: 'valid', dilations: [strideHeight, strideWidth], dataFormat: 'NHWC' },
      b,
    ); // [1, kh, kw, n·c·M]
    const split = reshape(conv, [kh, kw, n, c, mult], b);
    const dw = run('Sum', { x: split }, { axis: [2], keepDims: false }, b);
    free(b, xT, x4, xp, dyT, filter, conv, split);
    return dw;
  },
};

/**
 * dL/dx of a depthwise convolution: a depthwise convolution of the dilated, padded dy with the
 * spatially flipped filter; channel multipliers are summed afterwards.
 */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
    const info = depthwiseInfo(a.inputShape, filter.shape, a, 'DepthwiseConv2dNativeBackpropInput');
    const [kh, kw, c, mult] = filter.shape as [number, number, number, number];
    const padded = dilateAndPad(dy, [info.strideHeight, info.strideWidth], transposedPadding(info), b);
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] }, b);
    const perChannel = reshape(flipped, [kh, kw, c * mult, 1], b);
    const conv = run(
      'DepthwiseConv2dNative',
      { x: padded, filter: perChannel },
      { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' },
      b,
    );
    let dx: TensorInfo;
    if (mult === 1) {
      dx = conv;
    } else {
      const [n, h, w] = conv.shape as number[];
      const split = reshape(conv, [n!, h!, w!, c, mult], b);
      dx = run('Sum', { x: split }, { axis: [4], keepDims: false }, b);
      free(b, split, conv);
    }
    free(b, padded, flipped, perChannel);
    return dx;
  },
};

/** The backend's own kernels that galmorph replaces, kept for the cases it hands back to them. */
const originals = new Map<string, KernelConfig>();
const setUp = new WeakSet<object>();

/** Runs a replaced kernel of the backend; its setup (normally run at backend start) runs once. */
function runOriginal(name: string, args: Parameters<KernelFunc>[0]): TensorInfo {
  const config = originals.get(name);
  if (!config) throw new Error(`galmorph: the wasm backend's own ${name} kernel is not available`);
  if (config.setupFunc && !setUp.has(config)) {
    config.setupFunc(args.backend);
    setUp.add(config);
  }
  return (config.kernelFunc as KernelFunc)(args) as TensorInfo;
}

/**
 * dL/dx of max pooling: the backend's MaxPoolWithArgmax (one pass) gives each window's max
 * position, and ScatterNd adds dy there. The backend's own MaxPoolGrad is a single-threaded loop
 * that took a fifth of a small CNN's training step. Ties go to the first maximum, as in tfjs.
 * Used for non-overlapping windows; other pools keep the backend's kernel.
 */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const b = backend as unknown as WasmBackendLike;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad: padAttr, dimRoundingMode } = attrs as unknown as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: 'same' | 'valid' | number;
      dimRoundingMode?: string;
    };
    const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    // Only non-overlapping windows (the usual 2x2, stride 2): with overlapping windows the
    // backend's MaxPoolWithArgmax misplaces ties (found by the parity test), so those keep the
    // backend's own kernel.
    const fast = fh === sh && fw === sw && dimRoundingMode == null && typeof padAttr !== 'number';
    if (!fast) return runOriginal('MaxPoolGrad', args);
    const [pooled, indices] = run('MaxPoolWithArgmax', { x: input }, { filterSize, strides, pad: padAttr, includeBatchInIndex: true }, b) as unknown as TensorInfo[];
    free(b, pooled!);
    const m = tf.util.sizeFromShape(dy.shape);
    const idx = reshape(indices!, [m, 1], b);
    const updates = reshape(dy, [m], b);
    const flat = run('ScatterNd', { indices: idx, updates }, { shape: [tf.util.sizeFromShape(input.shape)] }, b);
    const dx = reshape(flat, input.shape, b);
    free(b, indices!, idx, updates, flat);
    return dx;
  },
};

export const WASM_TRAINING_KERNELS: KernelConfig[] = [
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  maxPoolGradConfig,
];

let registered = false;

/**
 * Registers galmorph's training kernels on the wasm backend (replacing its naive
 * Conv2DBackpropInput). Idempotent; call after `@tensorflow/tfjs-backend-wasm` is loaded.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const k of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(k.kernelName, BACKEND);
    if (existing) {
      originals.set(k.kernelName, existing);
      tf.unregisterKernel(k.kernelName, BACKEND);
    }
    tf.registerKernel(k);
  }
  registered = true;
}
