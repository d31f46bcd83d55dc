/** Seeded random data and convolution shapes shared by the kernel parity tests. */
/** Small deterministic RNG (mulberry32) so the random shapes are the same every run. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)]!;

export interface Case {
  x: number[];
  f: number[];
  stride: number;
  pad: 'same' | 'valid';
}

export function randomCases(seed: number, depthwise: boolean, count: number): Case[] {
  const r = rng(seed);
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const k = pick(r, [1, 3, 3, 5]);
    const h = k + Math.floor(r() * 8);
    const w = k + Math.floor(r() * 8);
    const c = 1 + Math.floor(r() * 4);
    const out = depthwise ? pick(r, [1, 1, 2]) : 1 + Math.floor(r() * 5);
    cases.push({ x: [2 + Math.floor(r() * 2), h, w, c], f: [k, k, c, out], stride: i % 2 === 0 ? 2 : 1, pad: i % 4 < 2 ? 'same' : 'valid' });
  }
  return cases;
}

export function randomData(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
}

export interface PoolCase {
  shape: number[];
  size: number;
  stride: number;
  padding: 'same' | 'valid';
  /** Per-channel loss weights, so that every channel's gradient differs. */
  weights: Float32Array;
}

/** Random pooling cases: batch 2-3, windows 2 and 3, strides 1 and 2, same and valid padding. */
export function randomPoolCases(seed: number, count: number): PoolCase[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const shape = [2 + Math.floor(r() * 2), 4 + Math.floor(r() * 6), 4 + Math.floor(r() * 6), 1 + Math.floor(r() * 4)];
    const size = pick(r, [2, 3]);
    const stride = pick(r, [1, 2]);
    return { shape, size, stride, padding: i % 2 ? 'same' : 'valid', weights: Float32Array.from({ length: shape[3]! }, (_, k) => 1 + k) };
  });
}
