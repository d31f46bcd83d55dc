/**
 * `galmorph anomaly`: the personalised anomaly finder for a researcher.
 *
 *   --interactive  shows galaxies one at a time in the terminal (24-bit colour), asks for a score
 *                  0-5, writes each score to the labels file at once (a crash or kill loses
 *                  nothing), refits after each batch, and resumes from the labels file on a rerun.
 *                  Reads answers line by line, so piped input works as well as a keyboard.
 *   otherwise      ranks every galaxy with the stored scores and prints (and writes) the top ones.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Command } from 'commander';
import Papa from 'papaparse';
import { Catalog, CatalogRow } from '../data/catalog';
import { AnomalySession } from '../anomaly/session';
import { ANOMALY_DEFAULTS, PRIOR_SOURCES, PriorSource, RankedGalaxy } from '../anomaly/personalised';
import { MAX_SCORE, MIN_SCORE } from '../anomaly/labels';
import { addCatalogSourceOptions, CatalogSourceOptions, integer, NON_NEGATIVE_INTEGER, oneOf, POSITIVE_INTEGER, resolveCatalog, validated } from './options';
import { printable } from './terminal-text';
import { terminalImage } from './terminal-image';

interface AnomalyCliOptions extends CatalogSourceOptions {
  embeddings: string;
  labels: string;
  interactive?: boolean;
  batch: number;
  initial: number;
  components: number;
  seed: number;
  prior: PriorSource;
  top: number;
  out?: string;
  images: boolean;
  imageWidth: number;
}

export function anomalyCommand(): Command {
  const cmd = new Command('anomaly')
    .description('personalised anomaly finder: score galaxies 0-5 and a Gaussian process on their representations learns what you find interesting (Walmsley et al. 2022, section 5)')
    .requiredOption('--embeddings <file>', 'representations from galmorph embed (.parquet or .arrow)')
    .requiredOption('--labels <file>', 'your scores, JSON Lines: created if absent, appended to at every score, resumed on a rerun');
  return addCatalogSourceOptions(cmd, {
    catalog: 'catalogue with the images (CSV, Parquet, Arrow), needed with --interactive',
    dataset: 'or a dataset of data-manifests as the catalogue (e.g. gz2-hart16-1000)',
  })
    .option('-i, --interactive', 'show galaxies in the terminal and ask for scores')
    .addOption(validated('--batch <n>', 'galaxies per batch (the Gaussian process is refitted between batches)', POSITIVE_INTEGER, ANOMALY_DEFAULTS.batchSize))
    // the Gaussian process needs 2 scores
    .addOption(validated('--initial <n>', 'random galaxies scored before expected improvement chooses', integer(2), ANOMALY_DEFAULTS.initialLabels))
    .addOption(validated('--components <n>', 'PCA components of the representations', POSITIVE_INTEGER, ANOMALY_DEFAULTS.components))
    .addOption(validated('--seed <n>', 'seed of the random first galaxies', NON_NEGATIVE_INTEGER, ANOMALY_DEFAULTS.seed))
    .addOption(validated('--prior <source>', "start from an unsupervised score: 'isolation-forest' (ranks by it while your scores say nothing), or 'none', the paper's finder", oneOf(PRIOR_SOURCES), 'none'))
    .addOption(validated('--top <n>', 'galaxies of the ranking to print', POSITIVE_INTEGER, 20))
    .option('--out <file>', 'write the whole ranking as CSV (rank, id, predicted, std, label)')
    .option('--no-images', 'do not draw the galaxies in the terminal (print their paths only)')
    .addOption(validated('--image-width <cells>', 'width of a galaxy drawn in the terminal, in characters', integer(2), 48))
    .action(async (opts: AnomalyCliOptions) => {
      const { top, batch } = opts;
      const catalog = opts.interactive ? resolveCatalog(opts, 'anomaly --interactive', 'so the galaxies can be shown') : undefined;
      const session = AnomalySession.open(opts.embeddings, opts.labels, {
        batchSize: batch,
        initialLabels: opts.initial,
        components: opts.components,
        seed: opts.seed,
        priorFrom: opts.prior,
        create: opts.interactive === true,
        // Ranking only reads the scores.
        readOnly: opts.interactive !== true,
        onWarning: (w) => console.error(w),
      });
      if (opts.interactive) {
        await runInteractive(session, catalog!, { batch, showImages: opts.images, imageWidth: opts.imageWidth });
        if (session.labelledCount < 2) {
          console.log(`score at least 2 galaxies to rank the rest (${session.labelledCount} so far); rerun the same command to continue`);
          return;
        }
      } else if (session.labelledCount < 2) {
        throw new Error(
          `galmorph anomaly: ${session.labelsFile} holds ${session.labelledCount} score(s); at least 2 are needed to rank. Score galaxies with --interactive first.`,
        );
      }
      const ranking = session.ranking();
      console.log(`\nranking of ${ranking.length} galaxies from ${session.labelledCount} scores (scored galaxies first):`);
      console.log(formatRanking(ranking.slice(0, top)));
      if (opts.out) {
        writeRanking(opts.out, ranking);
        console.log(`wrote the ranking of ${ranking.length} galaxies to ${opts.out}`);
      }
    });
}

/** The ranking as an aligned text table. */
export function formatRanking(rows: RankedGalaxy[]): string {
  const ids = rows.map((r) => printable(r.id));
  const idWidth = Math.max(2, ...ids.map((id) => id.length));
  const head = `${'rank'.padStart(5)}  ${'id'.padEnd(idWidth)}  ${'predicted'.padStart(9)}  ${'std'.padStart(6)}  label`;
  const body = rows.map(
    (r, i) => `${String(r.rank).padStart(5)}  ${ids[i]!.padEnd(idWidth)}  ${r.predicted.toFixed(3).padStart(9)}  ${r.std.toFixed(3).padStart(6)}  ${r.label ?? ''}`,
  );
  return [head, ...body].join('\n');
}

/** Writes a ranking as CSV: rank, id, predicted, std, label (blank where not scored). */
export function writeRanking(file: string, rows: RankedGalaxy[]): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const data = rows.map((r) => ({ rank: r.rank, id: r.id, predicted: Number(r.predicted.toFixed(5)), std: Number(r.std.toFixed(5)), label: r.label ?? '' }));
  fs.writeFileSync(file, Papa.unparse(data, { newline: '\n', columns: ['rank', 'id', 'predicted', 'std', 'label'] }) + '\n');
}

export interface InteractiveOptions {
  /** Galaxies per batch. Default: the session's. */
  batch?: number;
  /** Draw each galaxy in the terminal (24-bit colour). Default true. */
  showImages?: boolean;
  /** Width of the drawing in character cells. Default 48. */
  imageWidth?: number;
  /** Default process.stdin. */
  input?: NodeJS.ReadableStream;
  /** Default process.stdout. */
  output?: NodeJS.WritableStream;
}

/** How an interactive session ended. */
export type InteractiveEnd = 'quit' | 'end-of-input' | 'all-seen';

/** Lines from a readline interface, one per `next()`, however fast they arrive (piped input). */
class LineQueue {
  private readonly lines: string[] = [];
  private waiting?: (line: string | null) => void;
  private closed = false;

  constructor(rl: readline.Interface) {
    rl.on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
    rl.on('close', () => {
      this.closed = true;
      this.waiting?.(null);
      this.waiting = undefined;
    });
  }

  next(): Promise<string | null> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

const PROMPT = `score ${MIN_SCORE}-${MAX_SCORE}, s=skip, q=quit > `;

/**
 * The terminal loop: for each proposed galaxy its id, image path and drawing, then a prompt until
 * a valid answer. Every score is on disk before the next galaxy is shown.
 */
export async function runInteractive(session: AnomalySession, catalog: Catalog, options: InteractiveOptions = {}): Promise<InteractiveEnd> {
  const out = options.output ?? process.stdout;
  const input = options.input ?? process.stdin;
  // Every line but a galaxy's drawing quotes data (ids, paths): printed escaped.
  const say = (s = '') => out.write(`${printable(s)}\n`);
  const draw = (s: string) => out.write(`${s}\n`);
  const batchSize = options.batch ?? session.batchSize;
  const showImages = options.showImages ?? true;

  const rows = new Map<string, CatalogRow>(catalog.rows.map((r) => [r[catalog.idCol]!, r]));
  const missing = session.finder.ids.filter((id) => !rows.has(id));
  if (missing.length > 0) {
    throw new Error(
      `galmorph anomaly: ${missing.length} of ${session.size} galaxies of the embeddings are not in column '${catalog.idCol}' of ${catalog.file}` +
        ` (e.g. ${missing.slice(0, 5).map((id) => `'${id}'`).join(', ')}); give the catalogue the embeddings were made from`,
    );
  }

  say(`galmorph anomaly: ${session.size} galaxies; scores go to ${session.labelsFile} (each written at once)`);
  say(session.resumed > 0 ? `resumed ${session.resumed} labels from ${session.labelsFile}` : 'no scores yet: a new session');
  say(`score each galaxy ${MIN_SCORE} (ordinary) to ${MAX_SCORE} (exactly what you are looking for); s skips it, q quits (rerun to continue)`);

  const terminal = (input as NodeJS.ReadStream).isTTY === true && (out as NodeJS.WriteStream).isTTY === true;
  const rl = readline.createInterface({ input, output: out, terminal });
  rl.on('SIGINT', () => rl.close()); // Ctrl-C ends the session like q: every score is already saved
  const lines = new LineQueue(rl);
  try {
    for (;;) {
      const phase = session.phase;
      if (phase === 'expected-improvement') say(`\nfitting the Gaussian process to ${session.labelledCount} scores…`);
      const ids = session.next(batchSize);
      if (ids.length === 0) {
        say('every galaxy has been scored or skipped');
        return 'all-seen';
      }
      say(
        phase === 'random'
          ? `\nbatch of ${ids.length} random galaxies (the first ${session.labelledCount + ids.length} are chosen at random)`
          : `\nbatch of ${ids.length} galaxies of highest expected improvement`,
      );
      for (let k = 0; k < ids.length; k++) {
        const id = ids[k]!;
        const file = catalog.imagePath(rows.get(id)!);
        say(`\n[${k + 1}/${ids.length}] galaxy ${id}`);
        say(`image ${file}`);
        if (showImages) {
          try {
            draw(await terminalImage(file, { width: options.imageWidth }));
          } catch (err) {
            say(`(cannot draw it: ${err instanceof Error ? err.message : String(err)})`); // score it from the path, or skip it
          }
        }
        for (;;) {
          rl.setPrompt(PROMPT);
          rl.prompt();
          const line = await lines.next();
          if (!terminal && line !== null) out.write(`${line}\n`); // a transcript of piped answers reads like a typed one
          if (line === null) {
            say(`\nend of input: ${session.summary()}; rerun the same command to continue`);
            return 'end-of-input';
          }
          const answer = line.trim().toLowerCase();
          if (answer === '') continue;
          if (answer === 'q' || answer === 'quit') {
            say(`quit: ${session.summary()}; rerun the same command to continue`);
            return 'quit';
          }
          if (answer === 's' || answer === 'skip') {
            session.skip(id);
            say(`skipped ${id}`);
            break;
          }
          if (/^[0-9]+$/.test(answer) && Number(answer) >= MIN_SCORE && Number(answer) <= MAX_SCORE) {
            const score = Number(answer);
            session.score(id, score);
            say(`saved ${score} for ${id}: ${session.summary()}`);
            break;
          }
          say(`'${line.trim()}' is not an answer: type a score ${MIN_SCORE}-${MAX_SCORE}, s to skip or q to quit`);
        }
      }
    }
  } finally {
    rl.close();
  }
}
