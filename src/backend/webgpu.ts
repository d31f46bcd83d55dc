/**
 * The TensorFlow.js WebGPU backend in Node, on Dawn: GPU training without libtensorflow.
 *
 * The npm package `webgpu` ships Dawn's Node bindings as a prebuilt `dist/<platform>-<arch>/dawn.node`
 * (no download at install); it provides `navigator.gpu` on Vulkan (Linux), Metal or D3D12.
 * `@tensorflow/tfjs-backend-webgpu` registers its backend at import time only if `navigator.gpu`
 * exists and needs the WebGPU constants (`GPUBufferUsage`, `GPUMapMode`, ...) as globals, so both
 * are installed before it is required. Dawn needs the Vulkan loader (`libvulkan.so.1`, Debian
 * `libvulkan1`) and a Vulkan driver: the GPU vendor's (NVIDIA's ICD comes with its driver) or
 * Mesa's software rasteriser lavapipe (Mesa 25 from bookworm-backports; Debian 12's own Mesa 22.3
 * is refused by Dawn). A software adapter is only used when asked for (`GALMORPH_BACKEND=webgpu`).
 *
 * Reads from this backend must be asynchronous (`data()`, `array()`): its synchronous read goes
 * through an OffscreenCanvas, which Node does not have.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** What `galmorph env` and the benchmarks report about a WebGPU adapter. */
export interface WebgpuAdapterReport {
  /** Human-readable name (the driver's description, else vendor + device). */
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader) rather than a GPU. */
  software: boolean;
  /** The limits that bound tensor sizes and kernels (bytes or counts). */
  limits: Record<string, number>;
  features: string[];
}

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  features: Iterable<string>;
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power'; forceFallbackAdapter?: boolean }): Promise<GpuAdapterLike | null>;
}

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

const REPORTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

const VULKAN_HINT =
  'Dawn found no usable Vulkan driver: it needs libvulkan.so.1 (Debian libvulkan1) and a GPU driver ' +
  "with a Vulkan ICD (NVIDIA's comes with its driver), or Mesa 25's lavapipe for a software adapter " +
  '(bash scripts/webgpu-setup.sh installs it)';

/** The dawn.node file: `GALMORPH_DAWN_NODE` if set (the GPU kit), else the one inside the `webgpu` package. */
export function dawnNodePath(): string {
  const explicit = process.env.GALMORPH_DAWN_NODE;
  if (explicit) return path.resolve(explicit);
  // The package is ESM (index.js); its binary is plain CommonJS-loadable and is all galmorph needs.
  const pkgDir = path.dirname(require.resolve('webgpu/package.json'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return path.join(pkgDir, 'dist', `${process.platform}-${arch}`, 'dawn.node');
}

let dawn: DawnModule | undefined;
let gpu: GpuLike | undefined;

function loadDawn(): DawnModule {
  if (dawn) return dawn;
  let file: string;
  try {
    file = dawnNodePath();
  } catch {
    throw new Error("Cannot find module 'webgpu'");
  }
  if (!fs.existsSync(file)) throw new Error(`the webgpu package has no Dawn binary for ${process.platform}-${process.arch} (${file})`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dawn = require(file) as DawnModule;
  return dawn;
}

/** The process's one Dawn instance (`navigator.gpu`). */
export function dawnGpu(): GpuLike {
  if (!gpu) gpu = loadDawn().create((process.env.GALMORPH_DAWN_FLAGS ?? '').split(',').filter(Boolean));
  return gpu;
}

function isSoftware(adapter: GpuAdapterLike, info: GpuAdapterInfoLike): boolean {
  if (info.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return true;
  if (info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.device ?? ''} ${info.description ?? ''}`);
}

/** Describes the adapter Dawn would give tfjs (high-performance preference); throws with a reason if none. */
export async function probeWebgpuAdapter(): Promise<WebgpuAdapterReport> {
  const adapter = await dawnGpu().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`no WebGPU adapter: ${VULKAN_HINT}`);
  const info: GpuAdapterInfoLike = adapter.info ?? {};
  const vendor = info.vendor ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const limits: Record<string, number> = {};
  for (const k of REPORTED_LIMITS) {
    const v = adapter.limits[k];
    if (typeof v === 'number') limits[k] = v;
  }
  return {
    name: description || [vendor, device].filter(Boolean).join(' ') || 'unnamed adapter',
    vendor,
    architecture: info.architecture ?? '',
    device,
    description,
    software: isSoftware(adapter, info),
    limits,
    features: [...adapter.features].sort(),
  };
}

/** Installs `navigator.gpu` and the WebGPU constants as globals (idempotent). */
export function installWebgpuGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  const { globals } = loadDawn();
  for (const [k, v] of Object.entries(globals)) if (g[k] === undefined) g[k] = v;
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawnGpu() }, configurable: true, writable: true });
  } else if (nav.gpu === undefined) {
    // Node 21+ has a navigator of its own, without gpu.
    Object.defineProperty(nav, 'gpu', { value: dawnGpu(), configurable: true });
  }
}

/**
 * Linux: the GPU device files a hardware adapter would be reached through (NVIDIA's, or a DRM
 * render node for Mesa's GPU drivers). Elsewhere: null (no cheap check).
 */
export function gpuDeviceFiles(): string[] | null {
  if (process.platform !== 'linux') return null;
  const list = (dir: string, re: RegExp) => {
    try {
      return fs.readdirSync(dir).filter((f) => re.test(f)).map((f) => path.join(dir, f));
    } catch {
      return [];
    }
  };
  return [...list('/dev', /^nvidia\d+$/), ...list('/dev/dri', /^renderD\d+$/)];
}

let adapterReport: WebgpuAdapterReport | undefined;
let lastError: string | undefined;

/**
 * Loads Dawn, checks the adapter and registers tfjs's webgpu backend (not yet activated).
 * A software adapter is refused unless `allowSoftware` (GALMORPH_BACKEND=webgpu).
 */
export async function prepareWebgpuBackend(allowSoftware: boolean): Promise<WebgpuAdapterReport> {
  // Without a GPU device file there can only be a software adapter: say so without loading Dawn
  // (which would print its adapter warnings on every run).
  const files = gpuDeviceFiles();
  if (!allowSoftware && files !== null && files.length === 0) {
    throw new Error('no GPU device (/dev/nvidia*, /dev/dri/renderD*); GALMORPH_BACKEND=webgpu would use a software adapter');
  }
  const report = await probeWebgpuAdapter();
  if (report.software && !allowSoftware) {
    throw new Error(`only a software adapter (${report.name}); GALMORPH_BACKEND=webgpu uses it`);
  }
  installWebgpuGlobals();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) throw new Error('@tensorflow/tfjs-backend-webgpu did not register (navigator.gpu missing when it loaded)');
  adapterReport = report;
  return report;
}

interface GpuDeviceLike {
  addEventListener?: (type: string, listener: (ev: { error?: { message?: string } }) => void) => void;
  onuncapturederror?: ((ev: { error?: { message?: string } }) => void) | null;
}

/**
 * After activation: records the device's uncaptured errors (validation errors such as a tensor
 * larger than maxStorageBufferBindingSize would otherwise only leave wrong numbers behind).
 */
const watched = new WeakSet<object>();

export function watchWebgpuErrors(): void {
  const backend = tf.findBackend('webgpu') as unknown as { device?: GpuDeviceLike } | null;
  const device = backend?.device;
  if (!device || watched.has(device)) return;
  watched.add(device);
  const handler = (ev: { error?: { message?: string } }) => {
    lastError = ev.error?.message ?? String(ev);
  };
  if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', handler);
  else device.onuncapturederror = handler;
}

/** The last uncaptured WebGPU error since the previous call (then cleared), if any. */
export function takeWebgpuError(): string | undefined {
  const e = lastError;
  lastError = undefined;
  return e;
}

/** The adapter the webgpu backend runs on, once it was prepared in this process. */
export function webgpuAdapter(): WebgpuAdapterReport | undefined {
  return adapterReport;
}

/** One line: name, vendor/architecture, software or not, and the storage-buffer limit. */
export function describeAdapter(a: WebgpuAdapterReport): string {
  const mib = (b: number | undefined) => (b === undefined ? '?' : `${(b / 2 ** 20).toFixed(0)} MiB`);
  const kind = a.software ? 'software adapter' : 'hardware adapter';
  const va = [a.vendor, a.architecture].filter(Boolean).join('/');
  return `${a.name} (${va ? `${va}, ` : ''}${kind}; max storage binding ${mib(a.limits.maxStorageBufferBindingSize)}, max buffer ${mib(a.limits.maxBufferSize)})`;
}

interface BufferManagerLike {
  freeBuffers: Map<string, { destroy(): void; size: number }[]>;
  numFreeBuffers: number;
  numBytesAllocated: number;
}

/**
 * Destroys the GPU buffers tfjs's webgpu backend keeps for reuse (it never gives them back on its
 * own: a process that builds models of many shapes in turn, like the benchmark, would hold them
 * all). Buffers of live tensors are untouched. Returns the bytes released (0 on other backends).
 */
export function releaseWebgpuFreeBuffers(): number {
  const backend = tf.findBackend('webgpu') as unknown as { bufferManager?: BufferManagerLike } | null;
  const bm = backend?.bufferManager;
  if (!bm) return 0;
  let bytes = 0;
  for (const list of bm.freeBuffers.values()) {
    for (const b of list) {
      bytes += b.size;
      b.destroy();
    }
    list.length = 0; // the keys stay: releaseBuffer skips reuse once the map is empty
  }
  bm.numFreeBuffers = 0;
  bm.numBytesAllocated -= bytes;
  return bytes;
}

/** Bytes of GPU buffers the webgpu backend holds (live tensors and its reuse pool). */
export function webgpuBytesAllocated(): number {
  const backend = tf.findBackend('webgpu') as unknown as { bufferManager?: BufferManagerLike } | null;
  return backend?.bufferManager?.numBytesAllocated ?? 0;
}
