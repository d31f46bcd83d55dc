/**
 * The galaxy model: an encoder, Monte Carlo dropout, and a head that predicts Dirichlet
 * concentrations for every answer of every campaign (schema) it learns from. One output layer
 * serves several campaigns at once: galaxies carry votes only for their own campaign's answers,
 * and unanswered questions add nothing to the loss (see dirichlet.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { DecisionTree } from '../schemas/decision-tree';
import { schemaByName } from '../schemas/galaxy-zoo';
import { buildEncoder, encoderSpec, DEFAULT_ENCODER } from './architectures';
import { expectedFractions, questionMatrix } from './dirichlet';
import { MonteCarloDropout } from './layers/mc-dropout';

/** Everything needed to rebuild a galaxy model (saved beside its weights). */
export interface GalaxyModelConfig {
  arch: string;
  size: number;
  channels: 1 | 3;
  /** Schema names, in output order. */
  schemas: string[];
  /** Dropout rate before the head; it stays on at prediction time. */
  dropout: number;
  /**
   * The least Dirichlet concentration: concentrations are floor + 100 · sigmoid. Absent: Zoobot's 1.
   * Why lower it: with every concentration at least 1, a galaxy whose question the model is unsure
   * of (small total concentration) cannot predict a rare answer (star, dust lane) near 0.
   */
  concentrationFloor?: number;
}

/** Zoobot's least concentration, and what models without `concentrationFloor` use. */
export const ZOOBOT_CONCENTRATION_FLOOR = 1;

/** A model's least concentration (Zoobot's 1 when its config does not say). */
export function concentrationFloorOf(config: Pick<GalaxyModelConfig, 'concentrationFloor'>): number {
  return config.concentrationFloor ?? ZOOBOT_CONCENTRATION_FLOOR;
}

export const DEFAULT_CONFIG: Omit<GalaxyModelConfig, 'schemas'> = { arch: DEFAULT_ENCODER, size: 64, channels: 3, dropout: 0.25 };

/** One answer of the model's output, with where it comes from. */
export interface OutputAnswer {
  schema: string;
  question: string;
  answer: string;
  /** `schema/answer`: unique across schemas. */
  column: string;
}

/** The output layout of a multi-schema model: answers in order, and which belong to one question. */
export class AnswerSpace {
  readonly answers: OutputAnswer[] = [];
  /** Output indices of each question's answers. */
  readonly groups: number[][] = [];
  /** First output index of each schema. */
  readonly offsets = new Map<string, number>();

  constructor(readonly schemas: DecisionTree[]) {
    for (const s of schemas) {
      if (this.offsets.has(s.name)) throw new Error(`galmorph: schema '${s.name}' is listed twice`);
      this.offsets.set(s.name, this.answers.length);
      for (const q of s.questions) {
        const group: number[] = [];
        for (const a of q.answers) {
          group.push(this.answers.length);
          this.answers.push({ schema: s.name, question: q.key, answer: a.key, column: `${s.name}/${a.key}` });
        }
        this.groups.push(group);
      }
    }
  }

  static fromNames(names: string[]): AnswerSpace {
    return new AnswerSpace(names.map((n) => schemaByName(n)));
  }

  get size(): number {
    return this.answers.length;
  }

  /** Output indices of one schema's answers, in the schema's own answer order. */
  indicesOf(schema: string): number[] {
    const start = this.offsets.get(schema);
    if (start === undefined) throw new Error(`galmorph: this model has no schema '${schema}'. It has: ${[...this.offsets.keys()].join(', ')}`);
    const n = this.schemas.find((s) => s.name === schema)!.answerCount;
    return Array.from({ length: n }, (_, i) => start + i);
  }

  /** [answers, questions] matrix for the loss. Dispose it when done. */
  questionMatrix(): tf.Tensor2D {
    return questionMatrix(this.groups, this.size);
  }
}

/** Builds an untrained galaxy model; its output is sigmoid(logits) ∈ (0, 1) per answer. */
export function buildGalaxyModel(config: GalaxyModelConfig): tf.LayersModel {
  encoderSpec(config.arch); // validates the name, listing valid ones
  const space = AnswerSpace.fromNames(config.schemas);
  const encoder = buildEncoder(config.arch, { size: config.size, channels: config.channels });
  const rep = encoder.outputs[0]!;
  const dropped = new MonteCarloDropout({ rate: config.dropout, name: 'mc_dropout' }).apply(rep) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: space.size, activation: 'sigmoid', name: 'head' }).apply(dropped) as tf.SymbolicTensor;
  return tf.model({ inputs: encoder.inputs, outputs: out, name: 'galmorph' });
}

/** Dirichlet concentrations floor + 100 · sigmoid, in (floor, floor + 100); Zoobot's floor is 1. */
export function toConcentrations(sigmoid: tf.Tensor, floor = ZOOBOT_CONCENTRATION_FLOOR): tf.Tensor2D {
  if (!(floor > 0)) throw new Error(`galmorph: the concentration floor must be positive, got ${floor}`);
  return tf.add(tf.mul(sigmoid, 100), floor) as tf.Tensor2D;
}

/** The model's representation: the pooled encoder output (layer `representation`). */
export function representationModel(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer('representation').output as tf.SymbolicTensor });
}

/** What prediction needs of a galaxy model: a `LoadedGalaxyModel` has it. */
export interface PredictingGalaxyModel {
  model: tf.LayersModel;
  space: AnswerSpace;
  /** Its concentration floor (Zoobot's 1 when not given). */
  config: Pick<GalaxyModelConfig, 'concentrationFloor'>;
}

/**
 * Predicted vote fractions: the mean over `samples` Monte Carlo dropout passes of each answer's
 * expected fraction within its question, and their standard deviation. Takes the model with its
 * config so that the concentrations use the floor it was trained with.
 */
export async function predictFractions(
  { model, space, config }: PredictingGalaxyModel,
  images: tf.Tensor4D,
  samples = 5,
): Promise<{ mean: Float32Array; std: Float32Array }> {
  const floor = concentrationFloorOf(config);
  const q = space.questionMatrix();
  try {
    const [mean, std] = tf.tidy(() => {
      const draws = Array.from({ length: samples }, () =>
        expectedFractions(toConcentrations(model.apply(images, { training: false }) as tf.Tensor, floor), q),
      );
      const stack = tf.stack(draws);
      const moments = tf.moments(stack, 0);
      return [moments.mean, tf.sqrt(moments.variance)];
    });
    const out = { mean: (await mean!.data()) as Float32Array, std: (await std!.data()) as Float32Array };
    tf.dispose([mean!, std!]);
    return out;
  } finally {
    q.dispose();
  }
}

/** A trained galaxy model with its configuration, as `galmorph train` writes it. */
export interface LoadedGalaxyModel {
  model: tf.LayersModel;
  config: GalaxyModelConfig;
  space: AnswerSpace;
  /** The folder it was loaded from. */
  dir: string;
}
