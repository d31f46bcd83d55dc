/**
 * Options shared by several subcommands, so they read and behave the same everywhere:
 *   - validated values: `validated('--epochs <n>', 'maximum epochs', POSITIVE_INTEGER, 15)` is a
 *     commander Option whose value arrives parsed, and whose bad value stops the command with
 *     `galmorph: --epochs must be a positive integer, got 'abc'` before anything runs;
 *   - one catalogue-or-dataset option set (`--catalog FILE` with its id and image columns, or
 *     `--dataset ID`), resolved by `resolveCatalog`;
 *   - --schema and the vote columns of a user catalogue.
 * Defaults shown in help come from the library (e.g. FINETUNE_DEFAULTS), not from here.
 */
import { Command, Option } from 'commander';
import { Catalog, CatalogOptions, readCatalog, VoteColumns } from '../data/catalog';
import { openDatasetCatalog } from '../data/manifests';
import { NOMINAL_GZ2_VOTES } from '../schemas/kaggle';

/**
 * What an option accepts: `what` completes "--x must be ...", `parse` gives the value or undefined,
 * and `message`, when present, words the error instead.
 */
export interface ValueRule<T> {
  readonly what: string;
  parse(text: string): T | undefined;
  message?(name: string, text: string): string;
}

/** A finite number (no '', 'abc', 'Infinity' or 'NaN') that passes `ok`. */
function numberRule(what: string, ok: (n: number) => boolean): ValueRule<number> {
  return {
    what,
    parse(text) {
      if (text.trim() === '') return undefined; // Number('') is 0
      const n = Number(text);
      return Number.isFinite(n) && ok(n) ? n : undefined;
    },
  };
}

/** An integer of at least `min` (any integer without it). */
export function integer(min?: number): ValueRule<number> {
  const what =
    min === undefined ? 'an integer' : min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer of at least ${min}`;
  return numberRule(what, (n) => Number.isInteger(n) && (min === undefined || n >= min));
}

export const INTEGER = integer();
export const NON_NEGATIVE_INTEGER = integer(0);
export const POSITIVE_INTEGER = integer(1);
export const FINITE_NUMBER = numberRule('a finite number', () => true);
export const POSITIVE_NUMBER = numberRule('a positive number', (n) => n > 0);
export const NON_NEGATIVE_NUMBER = numberRule('a non-negative number', (n) => n >= 0);

/** Which ends of [0, 1] a fraction may take, in interval notation. */
export type FractionRange = '[0, 1]' | '[0, 1)' | '(0, 1]' | '(0, 1)';

/** A number between 0 and 1; `range` says whether 0 and 1 themselves are allowed. */
export function fraction(range: FractionRange): ValueRule<number> {
  const zero = range.startsWith('[');
  const one = range.endsWith(']');
  return numberRule(`a fraction in ${range}`, (n) => (zero ? n >= 0 : n > 0) && (one ? n <= 1 : n < 1));
}

/** `rule`'s values, or the word itself (e.g. --unfreeze-blocks N or 'all'). */
export function orWord<T, W extends string>(rule: ValueRule<T>, word: W): ValueRule<T | W> {
  return { what: `${rule.what} or '${word}'`, parse: (text) => (text === word ? word : rule.parse(text)) };
}

/** One of a list of names (e.g. --head linear or mlp). */
export function oneOf<C extends string>(choices: readonly C[]): ValueRule<C> {
  return {
    what: `one of ${choices.join(', ')}`,
    parse: (text) => choices.find((c) => c === text),
    message: (name, text) => `unknown ${name} '${text}'. Valid choices: ${choices.join(', ')}`,
  };
}

/** The value of option `name` by `rule`; throws `galmorph: NAME must be WHAT, got 'TEXT'`. */
export function parseValue<T>(name: string, text: string, rule: ValueRule<T>): T {
  const value = rule.parse(text);
  if (value === undefined) throw new Error(`galmorph: ${rule.message?.(name, text) ?? `${name} must be ${rule.what}, got '${text}'`}`);
  return value;
}

/** A commander argParser for option `name` by `rule`. */
export function valueParser<T>(name: string, rule: ValueRule<T>): (text: string) => T {
  return (text) => parseValue(name, text, rule);
}

/**
 * An option whose value is checked and parsed by `rule` as commander reads it; `defaultValue`
 * (already parsed) is shown in help and used when the option is absent.
 */
export function validated<T>(flags: string, description: string, rule: ValueRule<T>, defaultValue?: T): Option {
  const option = new Option(flags, description);
  option.argParser(valueParser(option.long ?? option.name(), rule));
  if (defaultValue !== undefined) option.default(defaultValue);
  return option;
}

/** `NAME=W`: a name and a number >= 0 (e.g. --dataset-weight gz2-kaggle-5000=0.3). */
export const NAMED_WEIGHT: ValueRule<[string, number]> = {
  what: 'NAME=W with W a number >= 0',
  parse(text) {
    const k = text.lastIndexOf('=');
    const w = k > 0 ? NON_NEGATIVE_NUMBER.parse(text.slice(k + 1)) : undefined;
    return w === undefined ? undefined : [text.slice(0, k), w];
  },
};

/** `LO,HI`: two area fractions 0 < LO <= HI <= 1 (e.g. --crop-scale 0.75,0.75). */
export const AREA_RANGE: ValueRule<[number, number]> = {
  what: 'LO,HI with 0 < LO <= HI <= 1',
  parse(text) {
    const parts = text.split(',').map((t) => (t.trim() === '' ? NaN : Number(t)));
    if (parts.length !== 2) return undefined;
    const [lo, hi] = parts as [number, number];
    return lo > 0 && lo <= hi && hi <= 1 ? [lo, hi] : undefined;
  },
};

/** A repeatable option whose values, each checked and parsed by `rule`, arrive as a list. */
export function repeatable<T>(flags: string, description: string, rule: ValueRule<T>): Option {
  const option = new Option(flags, `${description} (repeatable)`);
  const parse = valueParser(option.long ?? option.name(), rule);
  return option.argParser((text: string, previous: T[] | undefined) => [...(previous ?? []), parse(text)]);
}

/** --catalog FILE with its columns, or --dataset ID (see addCatalogSourceOptions). */
export interface CatalogSourceOptions {
  catalog?: string;
  dataset?: string;
  idCol?: string;
  imageCol?: string;
}

export interface CatalogSourceHelp {
  /** Help of --catalog, e.g. 'labelled catalogue (CSV, Parquet, Arrow)'. */
  catalog: string;
  /** Help of --dataset, e.g. 'or a dataset of data-manifests, e.g. decals-rings-470'. */
  dataset: string;
  /** --dataset may be given several times (its value is then a list). */
  repeatable?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The catalogue-or-dataset option set: --catalog FILE, --dataset ID, and the id and image columns
 * of the catalogue (default id and file; a dataset's come from its manifest unless given).
 */
export function addCatalogSourceOptions(cmd: Command, help: CatalogSourceHelp): Command {
  cmd.option('--catalog <file>', help.catalog);
  if (help.repeatable) cmd.option('--dataset <id>', `${help.dataset} (repeatable)`, collect);
  else cmd.option('--dataset <id>', help.dataset);
  return cmd
    .option('--id-col <col>', "id column of --catalog (default id; a --dataset's comes from its manifest)")
    .option('--image-col <col>', "image column of --catalog (default file; a --dataset's comes from its manifest)");
}

/** The id and image columns given on the command line (none given: the defaults apply). */
function columnOverrides(opts: CatalogSourceOptions): CatalogOptions {
  return { ...(opts.idCol ? { idCol: opts.idCol } : {}), ...(opts.imageCol ? { imageCol: opts.imageCol } : {}) };
}

/** The --catalog file with its columns, or undefined without --catalog. */
export function readCatalogOption(opts: Pick<CatalogSourceOptions, 'catalog' | 'idCol' | 'imageCol'>): Catalog | undefined {
  return opts.catalog === undefined ? undefined : readCatalog(opts.catalog, { idCol: 'id', imageCol: 'file', ...columnOverrides(opts) });
}

/**
 * The one catalogue the options name: the --catalog file or the --dataset's catalogue (never both,
 * and one is needed). `command` and `purpose` complete the error message, e.g. 'anomaly --interactive'
 * and 'so the galaxies can be shown'.
 */
export function resolveCatalog(opts: CatalogSourceOptions, command: string, purpose?: string): Catalog {
  if (opts.catalog !== undefined && opts.dataset !== undefined) throw new Error(`galmorph ${command}: give --catalog or --dataset, not both`);
  if (opts.dataset !== undefined) return openDatasetCatalog(opts.dataset, columnOverrides(opts));
  const catalog = readCatalogOption(opts);
  if (!catalog) throw new Error(`galmorph ${command}: give --catalog <file> or --dataset <id>${purpose ? ` ${purpose}` : ''}`);
  return catalog;
}

/** The vote-column options of addVoteOptions, as commander hands them over. */
export interface VoteCliOptions {
  counts?: string;
  fractions?: string;
  total?: string;
  classCol?: string;
  kaggle?: boolean;
  nominalTotal?: number;
}

/** --schema and the vote columns of a user catalogue (see src/schemas/votes.ts). */
export function addVoteOptions(cmd: Command): Command {
  return cmd
    .option('--schema <name>', 'Galaxy Zoo schema: gz2, gz-decals-dr5, gz1')
    .option('--counts <template>', "vote count columns, e.g. '{answer}_count'")
    .option('--fractions <template>', "vote fraction columns, e.g. '{answer}_weighted_fraction' (with --total)")
    .option('--total <column>', 'column with the number of volunteers asked the first question')
    .option('--kaggle', "the Kaggle Galaxy Challenge's cumulative Class1.1...Class11.6 columns (--schema gz2), all or whole questions")
    .addOption(validated('--nominal-total <n>', `with --kaggle: volunteers assumed per galaxy (the format has no totals; default ${NOMINAL_GZ2_VOTES})`, POSITIVE_INTEGER))
    .option('--class-col <column>', 'one class (answer key) per galaxy');
}

/** The VoteColumns the options of addVoteOptions name. */
export function voteColumnsOption(opts: VoteCliOptions): VoteColumns {
  return { counts: opts.counts, fractions: opts.fractions, total: opts.total, classColumn: opts.classCol, kaggle: opts.kaggle, nominalTotal: opts.nominalTotal };
}
