/**
 * Operations on whole models: cutting a feature extractor out of a classifier, a seeded fresh
 * initialisation of an architecture, and freeing models that share layers.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Frees the weights of models that share layers (each variable once): tfjs's own dispose counts
 * references per use of a layer, which models cut from one another never bring to zero.
 */
export function disposeModels(...models: tf.LayersModel[]): void {
  const vars = new Set<tf.LayerVariable>();
  for (const m of models) for (const l of m.layers) for (const w of l.weights) vars.add(w);
  for (const v of vars) v.dispose();
}

/** The layer whose output is the pooled representation of an ImageNet classifier. */
export function pooledModel(model: tf.LayersModel): tf.LayersModel {
  const pooled = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D');
  if (!pooled) throw new Error(`galmorph: ${model.name} has no GlobalAveragePooling2D layer`);
  return tf.model({ inputs: model.inputs, outputs: pooled.output as tf.SymbolicTensor, name: `${model.name}_features` });
}

/** Gives every random initialiser in a serialised model a seed (its own, from `seed`). */
export function seedInitializers(topology: unknown, seed: number): unknown {
  let counter = 0;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const cls = o.class_name;
      if (typeof cls === 'string' && /Uniform|Normal|Glorot|He|LeCun|Lecun|VarianceScaling|Orthogonal/.test(cls) && o.config && typeof o.config === 'object') {
        return { ...o, config: { ...(o.config as object), seed: seed * 1009 + ++counter } };
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(topology);
}

/** A fresh, seeded random initialisation of a model's architecture. */
export async function reinitialize(topology: tf.serialization.ConfigDict, seed: number): Promise<tf.LayersModel> {
  const config = (topology.model_config ?? topology) as tf.serialization.ConfigDict;
  return tf.models.modelFromJSON({ modelTopology: seedInitializers(config, seed) as tf.serialization.ConfigDict });
}
