/**
 * A researcher's anomaly scores on disk: an append-only JSON Lines file, so an interactive session
 * that crashes (or is killed) loses nothing and a restart resumes it.
 *
 *   {"galmorph":"anomaly-labels","version":1,"created":"…","embeddings":{"file":"…","galaxies":1000,"dim":1280,"sha256":"…"}}
 *   {"id":"587722981736120347","score":4,"time":"2026-11-27T10:52:01.123Z"}
 *   {"id":"587722981736513681","score":0,"time":"2026-11-27T10:52:04.870Z"}
 *
 * The first line (the header) fingerprints the embeddings the labels were made with, and a resume
 * with other embeddings is refused. Every score is appended and fsync'ed before anything else
 * happens (open 'a', one write of the whole line, fsync, close). A later score for the same galaxy
 * replaces the earlier one. Loading tolerates a torn last line (a crash in the middle of a write)
 * with a warning naming the file and line; a bad line anywhere else is an error naming them.
 * A file without a header (e.g. written by hand) is accepted without the embeddings check.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Embeddings } from '../data/embeddings';

/** Lowest and highest score a researcher can give (the paper's 0-5 scale). */
export const MIN_SCORE = 0;
export const MAX_SCORE = 5;

/** Which embeddings a labels file belongs to. */
export interface EmbeddingsFingerprint {
  /** Where the embeddings were read from (informational: moving the file is fine). */
  file: string;
  galaxies: number;
  dim: number;
  /** sha256 over the ids and the vectors' bytes: what decides whether two embeddings are the same. */
  sha256: string;
}

/** The first line of a labels file. */
export interface LabelFileHeader {
  galmorph: 'anomaly-labels';
  version: 1;
  created: string;
  embeddings?: EmbeddingsFingerprint;
}

/** One score as stored, with the line it came from (1-based). */
export interface LabelRecord {
  id: string;
  score: number;
  /** ISO 8601 time the score was given. */
  time: string;
  line: number;
}

export interface LoadedLabels {
  file: string;
  header?: LabelFileHeader;
  /** Every score in file order (a galaxy scored twice appears twice). */
  records: LabelRecord[];
  /** The latest score per galaxy. */
  labels: Map<string, number>;
  /** A torn last line that was ignored: its 1-based number and the byte offset where it starts. */
  torn?: { line: number; offset: number };
  warnings: string[];
}

export interface ReadLabelsOptions {
  /** Called with each warning (a torn last line). Default: console.warn. */
  onWarning?: (message: string) => void;
}

export interface LabelStoreOptions extends ReadLabelsOptions {
  /**
   * The embeddings this session uses: written into the header of a new file, and checked against
   * the header of an existing one (a mismatch is refused). Default: no check.
   */
  embeddings?: EmbeddingsFingerprint;
  /** Create the file when it does not exist. Default true. */
  create?: boolean;
  /**
   * Only read: never create, truncate or append to the file (a torn last line is ignored, not cut
   * off), and `append` is refused. For commands that only rank. Default false.
   */
  readOnly?: boolean;
}

/** Throws unless `score` is an integer from 0 to 5; the error names the galaxy (and where, if given). */
export function checkScore(id: string, score: unknown, where = ''): number {
  if (typeof score !== 'number' || !Number.isInteger(score) || score < MIN_SCORE || score > MAX_SCORE) {
    throw new Error(`galmorph: ${where}score of galaxy '${id}' must be an integer from ${MIN_SCORE} to ${MAX_SCORE}, got ${JSON.stringify(score)}`);
  }
  return score;
}

/** The fingerprint of a set of embeddings (sha256 over ids and vector bytes). */
export function embeddingsFingerprint(e: Embeddings, file = '(in memory)'): EmbeddingsFingerprint {
  const hash = createHash('sha256');
  hash.update(`${e.ids.length} ${e.dim}\n`);
  for (const id of e.ids) hash.update(`${id}\n`);
  hash.update(new Uint8Array(e.vectors.buffer, e.vectors.byteOffset, e.vectors.byteLength));
  return { file: file === '(in memory)' ? file : path.resolve(file), galaxies: e.ids.length, dim: e.dim, sha256: hash.digest('hex') };
}

function describeFingerprint(f: EmbeddingsFingerprint): string {
  return `${f.file} (${f.galaxies} galaxies × ${f.dim}, sha256 ${f.sha256.slice(0, 12)}…)`;
}

function snippet(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}

function isHeader(v: unknown): v is LabelFileHeader {
  return typeof v === 'object' && v !== null && (v as { galmorph?: unknown }).galmorph === 'anomaly-labels';
}

/** Parses one non-header line into a record; throws a message without the file prefix. */
/**
 * A line `{"id": "…", "withdrawn": true, "time": "…"}`: the galaxy's scores so far no longer count
 * (an undone score). The file stays append-only, so an undo survives a crash like a score does.
 */
function parseWithdrawal(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as { id?: unknown; withdrawn?: unknown };
  return r.withdrawn === true && typeof r.id === 'string' && r.id !== '' ? r.id : undefined;
}

function parseRecord(value: unknown, line: number): LabelRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const r = value as { id?: unknown; score?: unknown; time?: unknown };
  if (typeof r.id !== 'string' || r.id === '') throw new Error(`no galaxy id (expected {"id": "…", "score": 0-5, "time": "…"})`);
  const score = checkScore(r.id, r.score);
  return { id: r.id, score, time: typeof r.time === 'string' ? r.time : '', line };
}

/**
 * Reads a labels file. A torn last line is skipped with a warning; any other bad line throws,
 * naming the file and line. Reads only: see `LabelStore.open` for the repair before appending.
 */
export function readLabels(file: string, options: ReadLabelsOptions = {}): LoadedLabels {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new Error(`galmorph: labels file not found: ${abs}`);
  const text = fs.readFileSync(abs, 'utf8');
  const out: LoadedLabels = { file: abs, records: [], labels: new Map(), warnings: [] };
  const lines = text.split('\n');
  let lastContent = -1;
  lines.forEach((l, i) => {
    if (l.trim() !== '') lastContent = i;
  });
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineOffset = offset;
    offset += Buffer.byteLength(raw, 'utf8') + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const n = i + 1;
    try {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new SyntaxError(`not valid JSON: ${snippet(line)}`);
      }
      if (isHeader(value)) {
        if (out.header || out.records.length > 0) throw new Error('a header line must be the first line of the file');
        if (value.version !== 1) throw new Error(`labels file version ${JSON.stringify(value.version)} is not supported (this galmorph reads version 1)`);
        out.header = value;
        continue;
      }
      const withdrawn = parseWithdrawal(value);
      if (withdrawn !== undefined) {
        out.labels.delete(withdrawn);
        out.records = out.records.filter((r) => r.id !== withdrawn);
        continue;
      }
      const record = parseRecord(value, n);
      out.records.push(record);
      out.labels.delete(record.id); // keep Map order = order of the latest scores
      out.labels.set(record.id, record.score);
    } catch (err) {
      const msg = (err instanceof Error ? err.message : String(err)).replace(/^galmorph: /, '');
      // Only a line that does not even parse, at the very end, can be a write cut short by a crash.
      if (err instanceof SyntaxError && i === lastContent) {
        out.torn = { line: n, offset: lineOffset };
        const warning = `galmorph: ${abs}, line ${n}: ignoring an incomplete last line (a write cut short, e.g. by a crash): ${snippet(line)}`;
        out.warnings.push(warning);
        (options.onWarning ?? console.warn)(warning);
        continue;
      }
      throw new Error(`galmorph: ${abs}, line ${n}: ${msg}`);
    }
  }
  return out;
}

/** Appends one line to a file and makes it durable before returning. */
function appendDurable(file: string, line: string): void {
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync of a folder, so a newly created file's name survives a crash too (not possible everywhere). */
function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Windows cannot open folders; the file's own fsync still holds its content.
  }
}

/** The append-only store of one researcher's scores (see the file comment for the format). */
export class LabelStore {
  private readonly latest: Map<string, number>;
  private readonly all: LabelRecord[];
  private lines: number;

  private constructor(
    /** Absolute path of the labels file. */
    readonly file: string,
    readonly header: LabelFileHeader | undefined,
    loaded: LoadedLabels,
    lines: number,
    /** Warnings from loading (a torn last line). */
    readonly warnings: string[],
    /** Opened with `readOnly`: append is refused. */
    readonly readOnly = false,
  ) {
    this.latest = loaded.labels;
    this.all = loaded.records;
    this.lines = lines;
  }

  /**
   * Opens (or creates, with a header) a labels file for appending. An existing file's header must
   * match `options.embeddings`; a torn last line is cut off (after a warning) so that the next
   * score starts on a line of its own.
   */
  static open(file: string, options: LabelStoreOptions = {}): LabelStore {
    const abs = path.resolve(file);
    const exists = fs.existsSync(abs) && fs.statSync(abs).size > 0;
    if (!exists) {
      if (options.readOnly || !(options.create ?? true)) throw new Error(`galmorph: labels file not found: ${abs}`);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      const header: LabelFileHeader = { galmorph: 'anomaly-labels', version: 1, created: new Date().toISOString(), embeddings: options.embeddings };
      appendDurable(abs, `${JSON.stringify(header)}\n`);
      fsyncDir(path.dirname(abs));
      return new LabelStore(abs, header, { file: abs, header, records: [], labels: new Map(), warnings: [] }, 1, []);
    }

    const loaded = readLabels(abs, options);
    const want = options.embeddings;
    const have = loaded.header?.embeddings;
    if (want && have && (want.sha256 !== have.sha256 || want.galaxies !== have.galaxies || want.dim !== have.dim)) {
      throw new Error(
        `galmorph: ${abs} holds scores made with other embeddings: it was started with ${describeFingerprint(have)}, ` +
          `but this session uses ${describeFingerprint(want)}. Resume with the embeddings it was started with, or give a new labels file.`,
      );
    }
    if (options.readOnly) {
      const complete = (loaded.header ? 1 : 0) + loaded.records.length;
      return new LabelStore(abs, loaded.header, loaded, complete, loaded.warnings, true);
    }
    // Make the end of the file a clean line boundary before anything is appended.
    let size = fs.statSync(abs).size;
    if (loaded.torn) {
      fs.truncateSync(abs, loaded.torn.offset);
      size = loaded.torn.offset;
      // Nothing complete was left (the header itself was cut short): start the file afresh.
      if (!loaded.header && loaded.records.length === 0) {
        fs.truncateSync(abs, 0);
        return LabelStore.open(abs, options);
      }
    }
    if (size > 0) {
      const fd = fs.openSync(abs, 'r');
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      fs.closeSync(fd);
      if (last[0] !== 0x0a) appendDurable(abs, '\n');
    }
    const lines = fs.readFileSync(abs, 'utf8').split('\n').length - 1;
    return new LabelStore(abs, loaded.header, loaded, lines, loaded.warnings);
  }

  /** Galaxies scored (each counted once). */
  get count(): number {
    return this.latest.size;
  }

  /** The latest score per galaxy, in the order they were (last) given. */
  labels(): Map<string, number> {
    return new Map(this.latest);
  }

  /** Every stored score in file order, re-scores included. */
  records(): LabelRecord[] {
    return [...this.all];
  }

  /** The latest score of one galaxy, if it has one. */
  get(id: string): number | undefined {
    return this.latest.get(id);
  }

  /** Withdraws every score of a galaxy (an undo): one durable line, after which it counts as unscored. */
  withdraw(id: string, time: Date = new Date()): void {
    if (this.readOnly) throw new Error(`galmorph: ${this.file} was opened read-only; open it without readOnly to withdraw scores`);
    if (!this.latest.has(id)) throw new Error(`galmorph: galaxy '${id}' has no score in ${this.file} to withdraw`);
    appendDurable(this.file, `${JSON.stringify({ id, withdrawn: true, time: time.toISOString() })}\n`);
    this.lines += 1;
    this.latest.delete(id);
    for (let i = this.all.length - 1; i >= 0; i--) if (this.all[i]!.id === id) this.all.splice(i, 1);
  }

  /** Writes one score to disk (fsync'ed) and returns the record; replaces an earlier score of the galaxy. */
  append(id: string, score: number, time: Date = new Date()): LabelRecord {
    if (typeof id !== 'string' || id === '') throw new Error(`galmorph: a score for ${this.file} needs a galaxy id, got ${JSON.stringify(id)}`);
    checkScore(id, score);
    if (this.readOnly) throw new Error(`galmorph: ${this.file} was opened read-only; open it without readOnly to add scores`);
    const record: LabelRecord = { id, score, time: time.toISOString(), line: this.lines + 1 };
    appendDurable(this.file, `${JSON.stringify({ id, score, time: record.time })}\n`);
    this.lines += 1;
    this.all.push(record);
    this.latest.delete(id);
    this.latest.set(id, score);
    return record;
  }
}
