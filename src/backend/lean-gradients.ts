/**
 * Memory-lean backpropagation for tfjs. tfjs-core's `gradients` keeps every intermediate gradient
 * and every tensor saved for the backward pass alive until the whole backward pass ends, so a
 * training step holds all forward activations *and* all their gradients at once: EfficientNetB0 at
 * 224 px needed about 590 MB per image, past the 4 GB a wasm heap can have at batch 8.
 * This replacement walks the same tape in the same order and computes the same values, but frees
 * each output's gradient, and the tensors its node saved, as soon as that node has been processed
 * (the tape is topologically ordered, so nothing later needs them). It only acts at gradient depth
 * 0; nested (higher-order) gradients take tfjs's own path.
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
  gradients: GradientsFn;
}

type GradientsFn = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

/**
 * While a tape node's gradient function runs: its name and the inputs whose gradients will be
 * thrown away (they do not depend on any x). Gradients recorded by `customGrad` (tfjs's fused
 * convolution) compute every input's gradient at once; a kernel can use this to skip work, e.g.
 * dL/d(image) of a network's first convolution.
 */
export interface GradientContext {
  kernelName: string;
  unused: ReadonlySet<string>;
}
let context: GradientContext | undefined;

export function currentGradientContext(): GradientContext | undefined {
  return context;
}

/** The nodes on a path from some x to y, inputs pruned to those that depend on an x (as tfjs does). */
function nodesBetween(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): (TapeNode & { unused: Set<string> })[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      node.outputs.forEach((o) => fromX.add(o.id));
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      Object.values(node.inputs).forEach((t) => toY.add(t.id));
      nodesToY.add(node.id);
    }
  }
  return tape
    .filter((n) => nodesFromX.has(n.id) && nodesToY.has(n.id))
    .map((n) => ({
      ...n,
      inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))),
      unused: new Set(Object.entries(n.inputs).filter(([, t]) => !fromX.has(t.id)).map(([k]) => k)),
    }));
}

let original: GradientsFn | undefined;

/** Replaces tfjs's `gradients` with the lean version (idempotent). */
export function installLeanGradients(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (original) return;
  original = engine.gradients;
  const fallback = original;
  engine.gradients = function leanGradients(this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    if (this.state.gradientDepth > 0) return fallback.call(this, f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(
      () => this.startTape(),
      () => this.endTape(),
      () => this.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = this.state.activeTape!;
    const filtered = nodesBetween(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    const keep = new Set<number>(xs.map((x) => x.id));
    return this.tidy('backward', () => {
      const acc = new Map<number, tf.Tensor>();
      acc.set(y.id, dy ?? tf.ones(y.shape));
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i]!;
        const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
        if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        context = { kernelName: node.kernelName, unused: node.unused };
        let inputGrads: Record<string, () => tf.Tensor>;
        try {
          inputGrads = node.gradient(dys);
        } finally {
          context = undefined;
        }
        for (const [name, x] of Object.entries(node.inputs)) {
          const grad = inputGrads[name];
          if (!grad) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGrads)}.`);
          const dx = this.tidy(grad);
          if (dx.dtype !== 'float32') {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
          }
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const prev = acc.get(x.id);
          if (prev === undefined) {
            acc.set(x.id, dx);
          } else {
            acc.set(x.id, tf.add(prev, dx));
            prev.dispose();
            dx.dispose();
          }
        }
        // This node's outputs are fully differentiated now: free their gradients and its saved
        // tensors. (The user's dy and the gradients being returned stay.)
        for (const o of node.outputs) {
          const g = acc.get(o.id);
          if (g && !keep.has(o.id) && g !== dy) {
            g.dispose();
            acc.delete(o.id);
          }
        }
        for (const t of node.saved ?? []) t.dispose();
      }
      const grads = xs.map((x) => acc.get(x.id)!);
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      this.state.activeTape = null;
      return { value: y, grads };
    }) as { value: tf.Tensor; grads: tf.Tensor[] };
  };
}

/** Restores tfjs's own `gradients` (for comparisons in tests). */
export function uninstallLeanGradients(): void {
  if (!original) return;
  (tf.engine() as unknown as EngineInternals).gradients = original;
  original = undefined;
}
