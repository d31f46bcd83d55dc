/**
 * Galaxy Zoo decision trees: questions, their answers, and which answers lead to which questions.
 * A volunteer only sees a question if they gave one of its `requires` answers earlier, so the number
 * of volunteers answering a deep question is a count of an earlier answer, not the galaxy's total.
 */

export interface Answer {
  /** Column stem, unique in the schema (e.g. `t01_smooth_or_features_a01_smooth`, `bar_strong`). */
  key: string;
  /** Human wording. */
  label: string;
}

export interface Question {
  /** Unique key (e.g. `t01_smooth_or_features`, `bar`). */
  key: string;
  text: string;
  answers: Answer[];
  /**
   * Answers (of earlier questions) that lead here: a volunteer sees this question after giving any
   * one of them. Empty for questions every volunteer is asked.
   */
  requires: string[];
}

export interface SchemaDefinition {
  name: string;
  description?: string;
  questions: Question[];
}

/** A validated decision tree. Questions are in asking order: every parent precedes its children. */
export class DecisionTree {
  readonly name: string;
  readonly description: string;
  readonly questions: readonly Question[];
  private readonly answerToQuestion = new Map<string, Question>();

  constructor(def: SchemaDefinition) {
    this.name = def.name;
    this.description = def.description ?? '';
    this.questions = def.questions;
    const where = `schema '${def.name}'`;
    if (def.questions.length === 0) throw new Error(`galmorph: ${where} has no questions`);
    const questionKeys = new Set<string>();
    for (const q of def.questions) {
      if (questionKeys.has(q.key)) throw new Error(`galmorph: ${where}: question '${q.key}' is defined twice`);
      questionKeys.add(q.key);
      if (q.answers.length < 1) throw new Error(`galmorph: ${where}: question '${q.key}' has no answers`);
      // Parents must already be known: this both orders the tree and rules out cycles.
      for (const r of q.requires) {
        if (!this.answerToQuestion.has(r)) {
          throw new Error(`galmorph: ${where}: question '${q.key}' requires answer '${r}', which no earlier question has`);
        }
      }
      for (const a of q.answers) {
        if (this.answerToQuestion.has(a.key)) throw new Error(`galmorph: ${where}: answer '${a.key}' is defined twice`);
        this.answerToQuestion.set(a.key, q);
      }
    }
  }

  /** Every answer key, in question order. */
  answerKeys(): string[] {
    return this.questions.flatMap((q) => q.answers.map((a) => a.key));
  }

  get answerCount(): number {
    return this.answerToQuestion.size;
  }

  question(key: string): Question {
    const q = this.questions.find((x) => x.key === key);
    if (!q) throw new Error(`galmorph: schema '${this.name}' has no question '${key}'. Questions: ${this.questions.map((x) => x.key).join(', ')}`);
    return q;
  }

  /** The question an answer belongs to. */
  questionOf(answerKey: string): Question {
    const q = this.answerToQuestion.get(answerKey);
    if (!q) throw new Error(`galmorph: schema '${this.name}' has no answer '${answerKey}'`);
    return q;
  }

  /** Index of each answer in `answerKeys()`. */
  answerIndex(): Map<string, number> {
    return new Map(this.answerKeys().map((k, i) => [k, i]));
  }
}

/** Builds a user-defined schema, checking keys and dependencies. */
export function defineSchema(def: SchemaDefinition): DecisionTree {
  return new DecisionTree(def);
}
