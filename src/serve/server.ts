/**
 * The HTTP side of `galmorph serve`, on node:http (no framework: a dozen routes, JSON in and out).
 * Everything the page needs comes from here: its HTML, script and style (./page), plotly from
 * node_modules, galaxy images by id, and a JSON API over the Explorer. Safety rules:
 *   - images are addressed by galaxy id only; the file read is the catalogue's file for that id, so
 *     no path in a request (`../`, absolute, encoded) ever reaches the disk;
 *   - the page builds every element from data with textContent / attributes, never HTML strings;
 *     a Content-Security-Policy forbids inline and remote scripts and any network but this server;
 *   - bound to 127.0.0.1 by default; on a loopback address the Host header must name it (no DNS
 *     rebinding), and requests that change state must be JSON from this origin (no cross-site form posts).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import Papa from 'papaparse';
import { plotlyBundle } from '../plots/figure';
import { Explorer, ScoredRow } from './explorer';
import { knownPhrases, DescribeTerm } from './words';

export interface ServeOptions {
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

export interface RunningServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/** Folder of the page's static files (in the source tree; dist/ code finds them there too). */
export function pageDir(): string {
  for (const dir of [path.join(__dirname, 'page'), path.resolve(__dirname, '..', '..', '..', 'src', 'serve', 'page')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`galmorph serve: the page's files (src/serve/page) were not found next to ${__dirname}`);
}

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/static/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/static/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // plotly sets inline styles on the elements it draws
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CSP,
    ...extra,
  });
  res.end(body);
}

function json(res: http.ServerResponse, value: unknown, status = 200): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function csv(res: http.ServerResponse, name: string, rows: Record<string, unknown>[], columns: string[]): void {
  // a leading =, +, - or @ would be a formula in a spreadsheet: prefix such text cells with '
  const safe = rows.map((r) => Object.fromEntries(columns.map((c) => [c, typeof r[c] === 'string' && /^[=+\-@\t\r]/.test(r[c] as string) ? `'${r[c]}` : r[c]])));
  send(res, 200, 'text/csv; charset=utf-8', `${Papa.unparse(safe, { columns, newline: '\n' })}\n`, { 'Content-Disposition': `attachment; filename="${name}"` });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 4 * 1024 * 1024) throw new HttpError(413, 'request too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the body is not a JSON object');
  }
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new HttpError(400, `${what} must be a list of galaxy ids`);
  return v as string[];
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const t = url.searchParams.get(name);
  if (t === null || t === '') return fallback;
  const n = Number(t);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}, got '${t}'`);
  return n;
}

function termsFrom(v: unknown): DescribeTerm[] {
  if (!Array.isArray(v)) throw new HttpError(400, 'terms must be a list');
  return v.map((t) => {
    const term = t as { phrase?: unknown; answers?: unknown };
    if (typeof term.phrase !== 'string' || !Array.isArray(term.answers)) throw new HttpError(400, 'a term is {phrase, answers: [{column, weight}]}');
    return {
      phrase: term.phrase,
      answers: (term.answers as { column?: unknown; weight?: unknown }[]).map((a) => {
        if (typeof a.column !== 'string' || typeof a.weight !== 'number' || !Number.isFinite(a.weight) || a.weight < 0) throw new HttpError(400, 'an answer is {column, weight >= 0}');
        return { column: a.column, weight: a.weight };
      }),
    };
  });
}

/** The list for the page: the top `top` rows with their ids (the full ranking goes to CSV). */
function ranked(rows: ScoredRow[], top: number): { total: number; rows: ScoredRow[] } {
  return { total: rows.length, rows: rows.slice(0, top) };
}

/** Starts the explorer's server; resolves once it listens. */
export async function startServer(explorer: Explorer, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const dir = pageDir();
  let port = 0;
  const loopbackOnly = LOOPBACK.has(host);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (loopbackOnly) {
      const h = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK.has(h)) throw new HttpError(403, 'this server answers only requests addressed to the loopback address it listens on');
    }
    const raw = req.url ?? '/';
    // The raw target as sent: anything that tries to climb out is refused before routing.
    if (!raw.startsWith('/') || /(^|\/|%2f|\\|%5c)(\.|%2e){2}(\/|%2f|\\|%5c|$)/i.test(raw)) throw new HttpError(404, 'not found');
    const url = new URL(raw, 'http://localhost');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'POST') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) throw new HttpError(403, 'cross-origin request refused');
    } else if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');

    const page = STATIC[p];
    if (page && method !== 'POST') return send(res, 200, page.type, fs.readFileSync(path.join(dir, page.file)));
    if (p === '/static/plotly.js') return send(res, 200, 'text/javascript; charset=utf-8', plotlyBundle(), { 'Cache-Control': 'max-age=3600' });

    if (p.startsWith('/image/')) {
      let id: string;
      try {
        id = decodeURIComponent(p.slice('/image/'.length));
      } catch {
        throw new HttpError(400, 'bad id');
      }
      const size = intParam(url, 'size', 160, 16, 512);
      const jpeg = await explorer.image(id, size);
      if (!jpeg) throw new HttpError(404, 'no such galaxy in the catalogue');
      return send(res, 200, 'image/jpeg', jpeg, { 'Cache-Control': 'max-age=3600' });
    }

    if (p === '/api/info') {
      const prediction = explorer.predictions;
      return json(res, {
        galaxies: explorer.size,
        embeddings: path.basename(explorer.embeddingsFile),
        catalog: path.basename(explorer.catalog.file),
        idColumn: explorer.catalog.idCol,
        columns: explorer.catalog.columns,
        numericColumns: explorer.catalog.columns.filter((c) => explorer.colour(c)?.some((v) => v !== null)),
        predictions: prediction ? prediction.columns : null,
        predictionProgress: explorer.predictionProgress,
        phrases: knownPhrases(),
        labelsFile: explorer.labelsFile,
      });
    }
    if (p === '/api/galaxies') {
      const offset = intParam(url, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(url, 'limit', 200, 1, 5000);
      return json(res, { total: explorer.size, offset, ids: explorer.ids.slice(offset, offset + limit) });
    }
    if (p === '/api/galaxy') {
      const g = explorer.galaxy(url.searchParams.get('id') ?? '');
      if (!g) throw new HttpError(404, 'no such galaxy');
      return json(res, g);
    }
    if (p === '/api/similar') {
      const id = url.searchParams.get('id') ?? '';
      if (!explorer.rowOf.has(id)) throw new HttpError(404, 'no such galaxy');
      return json(res, { id, metric: 'cosine', neighbours: explorer.similar(id, intParam(url, 'k', 10, 1, 1000)) });
    }
    if (p === '/api/like' && method === 'POST') {
      const body = await readJson(req);
      const like = stringList(body.like, 'like');
      const unlike = stringList(body.unlike, 'unlike');
      if (like.length === 0) throw new HttpError(400, 'mark at least one galaxy as "like these"');
      return json(res, ranked(explorer.likeThese(like, unlike), Number(body.top ?? 60)));
    }
    if (p === '/api/describe') {
      if (method === 'POST') {
        const body = await readJson(req);
        const terms = termsFrom(body.terms);
        return json(res, { terms, ...ranked(explorer.rankByWords(terms, body.absolute !== false), Number(body.top ?? 60)) });
      }
      const d = explorer.describe(url.searchParams.get('q') ?? '');
      if (!explorer.predictions) return json(res, { ...d, total: 0, rows: [], waiting: explorer.predictionProgress });
      return json(res, { ...d, ...ranked(explorer.rankByWords(d.terms, url.searchParams.get('absolute') !== 'false'), intParam(url, 'top', 60, 1, 100000)) });
    }
    if (p === '/api/anomaly') return json(res, explorer.anomalyState(intParam(url, 'top', 20, 1, 100000)));
    if (p === '/api/anomaly/score' && method === 'POST') {
      const body = await readJson(req);
      if (typeof body.id !== 'string') throw new HttpError(400, 'id must be a string');
      if (body.skip === true) explorer.skip(body.id);
      else explorer.score(body.id, body.score as number); // fsync'ed before this line returns
      return json(res, explorer.anomalyState(intParam(url, 'top', 20, 1, 100000)));
    }
    if (p === '/api/map') {
      const methodName = url.searchParams.get('method') === 'umap' ? 'umap' : 'pca';
      const xy = await explorer.map(methodName);
      const colourBy = url.searchParams.get('color') ?? '';
      const colour = colourBy === '' ? undefined : explorer.colour(colourBy);
      if (colourBy !== '' && !colour) throw new HttpError(404, `no column '${colourBy}' (or no anomaly scores yet)`);
      return json(res, { method: methodName, ids: explorer.ids, x: Array.from({ length: explorer.size }, (_, i) => xy[2 * i]), y: Array.from({ length: explorer.size }, (_, i) => xy[2 * i + 1]), color: colour ?? null });
    }
    if (p === '/export/anomaly-ranking.csv') {
      const r = explorer.anomalyRanking();
      if (!r) throw new HttpError(409, 'score at least 2 galaxies first');
      return csv(res, 'anomaly-ranking.csv', r.map((g) => ({ rank: g.rank, id: g.id, predicted: Number(g.predicted.toFixed(5)), std: Number(g.std.toFixed(5)), label: g.label ?? '' })), ['rank', 'id', 'predicted', 'std', 'label']);
    }
    if (p === '/export/list.csv' && method === 'POST') {
      const body = await readJson(req);
      const rows = (Array.isArray(body.rows) ? body.rows : []) as { id?: unknown; score?: unknown; list?: unknown }[];
      const out = rows
        .filter((r) => typeof r.id === 'string' && explorer.rowOf.has(r.id))
        .map((r, i) => ({ rank: i + 1, id: r.id, score: typeof r.score === 'number' ? r.score : '', list: typeof r.list === 'string' ? r.list : '' }));
      return csv(res, typeof body.name === 'string' && /^[\w.-]{1,60}$/.test(body.name) ? body.name : 'galaxies.csv', out, ['rank', 'id', 'score', 'list']);
    }
    throw new HttpError(404, 'not found');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) options.log?.(`galmorph serve: ${req.method} ${req.url}: ${message}`);
      if (!res.headersSent) json(res, { error: message.replace(/^galmorph( serve)?: /, '') }, status);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shown}:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
