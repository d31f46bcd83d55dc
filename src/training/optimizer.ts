/**
 * Adam for galmorph's training loops: tfjs's AdamOptimizer (same state, same names, same saved
 * weights, so checkpoints load either way), whose update runs as one native pass per variable on
 * the onednn backend instead of about thirteen kernels (EfficientNetB0: 213 variables, 2,800 kernel
 * calls a step, most on tensors of a few hundred values, where tfjs's per-kernel cost dominates).
 * On every other backend it is tfjs's Adam unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM, AdamAttrs, galmorphKernelsFor } from '../backend/onednn';

/** The AdamOptimizer fields this class reads (private in tfjs's typings). */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

export class GalmorphAdam extends tf.AdamOptimizer {
  /** For learning-rate schedules: tfjs's Adam reads its rate at every update. */
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }

  override applyGradients(variableGradients: VariableGradients): void {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const first = names.length > 0 ? tf.engine().registeredVariables[names[0]!] : undefined;
    if (!first || !galmorphKernelsFor(first)) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    tf.tidy(() => {
      // The bias corrections as numbers: one read of two scalars per step, not per variable.
      const attrs: AdamAttrs = {
        lr: this.learningRate,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        c1: 1 - state.accBeta1.dataSync()[0]!,
        c2: 1 - state.accBeta2.dataSync()[0]!,
      };
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        // The moments are created as tfjs's Adam creates them (names, order), so getWeights/setWeights agree.
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const grad = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : (variableGradients as Record<string, tf.Tensor | undefined>)[name];
        if (grad == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        if (value.dtype !== 'float32' || grad.dtype !== 'float32') throw new Error(`galmorph: Adam updates float32 variables; '${name}' is ${value.dtype}`);
        const [w2, m2, v2] = tf.engine().runKernel(ADAM, { value, m, v, grad }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
        m.assign(m2!);
        v.assign(v2!);
        value.assign(w2!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** Adam with tfjs's defaults (β1 0.9, β2 0.999, the backend's ε), as tf.train.adam(learningRate). */
export function adam(learningRate: number): GalmorphAdam {
  return new GalmorphAdam(learningRate, 0.9, 0.999);
}
