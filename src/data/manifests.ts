/**
 * Dataset and model manifests (`data-manifests/*.json`, validated against
 * `src/data/manifest.schema.json` at load): every file with its size and sha256, where it is found
 * and where it comes from upstream.
 *
 * A file resolves from the first data root that has `<folder>/<path>`: `GALMORPH_DATA` entries, the
 * shared mirror (`../shared/data`, `../shared/weights`), the user cache; `fetchManifest` downloads the
 * missing ones into the user cache. Checksums unknown in the committed manifest (upstream-only data)
 * are pinned after the first verified download in the user cache's copy of the manifest
 * (`<cache>/manifests/<id>.json`); a committed checksum always wins over a cached one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import manifestSchema from './manifest.schema.json';
import { dataRoots, DataRoot, projectRoot, userCacheDir } from '../paths';
import { readCatalog, Catalog, CatalogOptions, VoteColumns } from './catalog';
import { downloadFile } from './download';
import { mapLimit, sha256File } from './hash';

export interface ManifestFile {
  /** Relative to the manifest's folder. */
  path: string;
  /** Bytes; null until known (upstream-only data before its first download). */
  size: number | null;
  /** Hex sha256; null until known. */
  sha256: string | null;
  /** Download address of this file. */
  url?: string;
}

export interface Manifest {
  id: string;
  kind: 'dataset' | 'model';
  title: string;
  description?: string;
  citation: string[];
  licence: string;
  /** Folder relative to a data root. */
  folder: string;
  availability: 'mirror' | 'upstream';
  catalog?: { file: string; idCol: string; imageCol: string | null; schema?: string; votes?: VoteColumns; labels?: string[]; notes?: string };
  model?: { format: 'tfjs-layers' | 'onnx' | 'text' | 'images'; entry: string; inputSize?: number; preprocess?: string };
  upstream: { url: string; note?: string }[];
  files: ManifestFile[];
  /** The JSON file this manifest was loaded from (not part of the JSON). */
  source: string;
}

const validate = new Ajv({ allErrors: true }).compile(manifestSchema);

/** The manifests folder: `GALMORPH_MANIFESTS`, else the committed `data-manifests/`. */
export function manifestsDir(): string {
  return path.resolve(process.env.GALMORPH_MANIFESTS ?? path.join(projectRoot(), 'data-manifests'));
}

/** Where pinned copies of manifests live (checksums learnt at first download). */
export function pinnedManifestPath(id: string): string {
  return path.join(userCacheDir(), 'manifests', `${id}.json`);
}

/** Validates parsed JSON as a manifest; the error names the file and every violation. */
export function parseManifest(json: unknown, source: string): Manifest {
  if (!validate(json)) {
    const problems = (validate.errors ?? []).map((e) => `  ${e.instancePath || '(top level)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? `: '${String(e.params.additionalProperty)}'` : ''}`);
    throw new Error(`galmorph: manifest ${source} does not match src/data/manifest.schema.json:\n${problems.join('\n')}`);
  }
  const m = { ...(json as Omit<Manifest, 'source'>), source };
  if (m.folder.split('/').includes('..') || path.isAbsolute(m.folder)) throw new Error(`galmorph: manifest ${source}: folder '${m.folder}' leaves the data roots`);
  const seen = new Set<string>();
  for (const f of m.files) {
    if (f.path.split('/').includes('..') || path.isAbsolute(f.path)) throw new Error(`galmorph: manifest ${source}: file path '${f.path}' leaves the dataset folder`);
    if (seen.has(f.path)) throw new Error(`galmorph: manifest ${source}: file '${f.path}' is listed twice`);
    seen.add(f.path);
  }
  if (m.catalog && !seen.has(m.catalog.file)) throw new Error(`galmorph: manifest ${source}: catalogue '${m.catalog.file}' is not among its files`);
  if (m.model && !seen.has(m.model.entry)) throw new Error(`galmorph: manifest ${source}: model entry '${m.model.entry}' is not among its files`);
  return m;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`galmorph: cannot read manifest ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Fills checksums and sizes that the committed manifest leaves null from the user cache's pinned copy. */
function withPins(m: Manifest): Manifest {
  const pinned = pinnedManifestPath(m.id);
  if (!fs.existsSync(pinned)) return m;
  const byPath = new Map(parseManifest(readJson(pinned), pinned).files.map((f) => [f.path, f]));
  return { ...m, files: m.files.map((f) => ({ ...f, sha256: f.sha256 ?? byPath.get(f.path)?.sha256 ?? null, size: f.size ?? byPath.get(f.path)?.size ?? null })) };
}

/** Every manifest in `dir` (default `data-manifests/`), validated, with pinned checksums applied. */
export function loadManifests(dir = manifestsDir()): Manifest[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const manifests = files.map((f) => withPins(parseManifest(readJson(path.join(dir, f)), path.join(dir, f))));
  const ids = new Set<string>();
  for (const m of manifests) {
    if (ids.has(m.id)) throw new Error(`galmorph: two manifests in ${dir} have the id '${m.id}'`);
    ids.add(m.id);
  }
  return manifests;
}

/** One manifest by id; the error lists the ids there are. */
export function getManifest(id: string, dir = manifestsDir()): Manifest {
  const all = loadManifests(dir);
  const m = all.find((x) => x.id === id);
  if (!m) throw new Error(`galmorph: no data manifest with id '${id}' in ${dir}. Known: ${all.map((x) => x.id).join(', ')}`);
  return m;
}

export interface FileLocation {
  file: ManifestFile;
  /** Absolute path where found, if anywhere. */
  found?: string;
  root?: DataRoot;
}

/** Where each file of a manifest is, searching the data roots in order. */
export function locateFiles(m: Manifest): FileLocation[] {
  const roots = dataRoots().filter((r) => r.exists);
  return m.files.map((file) => {
    for (const root of roots) {
      const candidate = confinedPath(root.dir, m.folder, file.path);
      if (fs.existsSync(candidate)) return { file, found: candidate, root };
    }
    return { file };
  });
}

export type FileStatus = 'ok' | 'unpinned' | 'missing' | 'size-mismatch' | 'sha256-mismatch';

export interface FileCheck {
  path: string;
  status: FileStatus;
  found?: string;
  /** Actual sha256 when hashed. */
  sha256?: string;
  size?: number;
}

export interface VerifyReport {
  manifest: Manifest;
  /** 'ok': every file present and matching; 'absent': upstream-only data not downloaded; else 'failed'. */
  status: 'ok' | 'failed' | 'absent';
  files: FileCheck[];
  /** Bytes hashed. */
  bytes: number;
  /** Data roots the files were found in, with how many from each. */
  roots: { dir: string; source: string; files: number }[];
}

/** Checks every file of a manifest: present, right size, right sha256 (hashes 4 files at a time). */
export async function verifyManifest(m: Manifest, onFile?: (done: number, total: number) => void): Promise<VerifyReport> {
  const located = locateFiles(m);
  let done = 0;
  const files = await mapLimit(located, 4, async ({ file, found }): Promise<FileCheck> => {
    const check = await checkFile(file, found);
    onFile?.(++done, located.length);
    return check;
  });
  const present = files.filter((f) => f.status !== 'missing');
  const failed = files.some((f) => f.status !== 'ok' && f.status !== 'unpinned');
  const status = m.availability === 'upstream' && present.length === 0 ? 'absent' : failed ? 'failed' : 'ok';
  const roots = new Map<string, { dir: string; source: string; files: number }>();
  for (const l of located) {
    if (!l.root) continue;
    const r = roots.get(l.root.dir) ?? { dir: l.root.dir, source: l.root.source, files: 0 };
    r.files++;
    roots.set(l.root.dir, r);
  }
  return { manifest: m, status, files, bytes: present.reduce((s, f) => s + (f.size ?? 0), 0), roots: [...roots.values()] };
}

async function checkFile(file: ManifestFile, found: string | undefined): Promise<FileCheck> {
  if (!found) return { path: file.path, status: 'missing' };
  const size = fs.statSync(found).size;
  if (file.size !== null && size !== file.size) return { path: file.path, status: 'size-mismatch', found, size };
  const sha256 = await sha256File(found);
  const status = file.sha256 === null ? 'unpinned' : sha256 === file.sha256 ? 'ok' : 'sha256-mismatch';
  return { path: file.path, status, found, sha256, size };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A few lines describing a verification: what was checked, where, and every problem (first 10). */
export function formatVerifyReport(r: VerifyReport): string {
  const m = r.manifest;
  const count = (s: FileStatus) => r.files.filter((f) => f.status === s).length;
  if (r.status === 'absent') {
    return `absent  ${m.id}: upstream only, none of its ${m.files.length} files is local; \`galmorph data fetch ${m.id}\` downloads them from ${m.upstream[0]!.url}`;
  }
  const where = r.roots.map((x) => `${x.files} in ${path.join(x.dir, m.folder)} (${x.source})`).join('; ');
  const head = `${r.status === 'ok' ? 'ok    ' : 'FAILED'}  ${m.id}: ${r.files.length - count('missing')}/${r.files.length} files, ${megabytes(r.bytes)}, sha256 and size checked; ${where}`;
  const lines = [head];
  if (count('unpinned') > 0) lines.push(`        ${count('unpinned')} file(s) have no recorded checksum yet (upstream-only); fetch pins them`);
  const bad = r.files.filter((f) => f.status !== 'ok' && f.status !== 'unpinned');
  for (const f of bad.slice(0, 10)) {
    const expected = m.files.find((x) => x.path === f.path)!;
    const detail =
      f.status === 'missing' ? `missing ${path.join(m.folder, f.path)}`
        : f.status === 'size-mismatch' ? `${f.found}: ${f.size} bytes, manifest says ${expected.size}`
          : `${f.found}: sha256 ${f.sha256}, manifest says ${expected.sha256}`;
    lines.push(`        ${f.status}: ${detail}`);
  }
  if (bad.length > 10) lines.push(`        ... and ${bad.length - 10} more`);
  return lines.join('\n');
}

/** Thrown when a dataset's files are not all on disk; says what is missing and how to get it. */
export class MissingDataError extends Error {}

function missingMessage(m: Manifest, missing: ManifestFile[]): string {
  const list = missing.slice(0, 10).map((f) => `  ${path.join(m.folder, f.path)}`).join('\n');
  const roots = dataRoots().map((r) => `  ${path.join(r.dir, m.folder)} (${r.source}${r.exists ? '' : ', folder missing'})`).join('\n');
  const how = missing.every((f) => f.url)
    ? `Get it with \`galmorph data fetch ${m.id}\` (downloads into ${path.join(userCacheDir(), m.folder)} from ${m.upstream[0]!.url}),`
    : `Download it from ${m.upstream.map((u) => u.url).join(' or ')}`;
  return (
    `galmorph: ${m.kind} '${m.id}' (${m.title}) is not available: ${missing.length} of ${m.files.length} files missing; the first ${Math.min(10, missing.length)}:\n${list}\n` +
    `Searched:\n${roots}\n${how} or put its files in <dir>/${m.folder}/ with <dir> listed in GALMORPH_DATA.`
  );
}

export interface ResolvedData {
  manifest: Manifest;
  /** Absolute path of each file, by its manifest path. */
  paths: Map<string, string>;
}

/** Finds every file of a manifest (sizes checked, not hashes: `verifyManifest` does that), or throws MissingDataError. */
export function resolveManifest(idOrManifest: string | Manifest): ResolvedData {
  const m = typeof idOrManifest === 'string' ? getManifest(idOrManifest) : idOrManifest;
  const located = locateFiles(m);
  const missing = located.filter((l) => !l.found).map((l) => l.file);
  if (missing.length > 0) throw new MissingDataError(missingMessage(m, missing));
  for (const l of located) {
    const size = fs.statSync(l.found!).size;
    if (l.file.size !== null && size !== l.file.size) {
      throw new Error(`galmorph: ${l.found} has ${size} bytes but manifest ${m.id} says ${l.file.size}: refused. Replace it, or run \`galmorph data verify ${m.id}\``);
    }
  }
  return { manifest: m, paths: new Map(located.map((l) => [l.file.path, l.found!])) };
}

/** Opens a dataset's catalogue with the manifest's column mapping (overridable). */
export function openDatasetCatalog(id: string, overrides: CatalogOptions = {}): Catalog {
  const m = getManifest(id);
  if (!m.catalog) throw new Error(`galmorph: manifest '${id}' (${m.source}) has no catalogue`);
  const { paths } = resolveManifest(m);
  return readCatalog(paths.get(m.catalog.file)!, { idCol: m.catalog.idCol, imageCol: m.catalog.imageCol, ...overrides });
}

export interface FetchProgress {
  /** Called when a file starts downloading. */
  onStart?: (file: ManifestFile, index: number, count: number) => void;
  onBytes?: (done: number, total: number | undefined) => void;
}

export interface FetchReport {
  manifest: Manifest;
  /** Files already on disk somewhere. */
  present: number;
  downloaded: { path: string; size: number; sha256: string; resumedFrom: number }[];
  /** Checksums learnt (were unknown) and written to the pinned copy. */
  pinned: string[];
}

/**
 * Downloads the files of a manifest that no data root has, into the user cache, verifying each.
 * Checksums the manifest did not know are pinned in `<cache>/manifests/<id>.json`.
 */
export async function fetchManifest(m: Manifest, progress: FetchProgress = {}): Promise<FetchReport> {
  const missing = locateFiles(m).filter((l) => !l.found).map((l) => l.file);
  const noUrl = missing.filter((f) => !f.url);
  if (noUrl.length > 0) throw new MissingDataError(missingMessage(m, noUrl));
  const report: FetchReport = { manifest: m, present: m.files.length - missing.length, downloaded: [], pinned: [] };
  for (const [i, f] of missing.entries()) {
    progress.onStart?.(f, i, missing.length);
    const dest = confinedPath(userCacheDir(), m.folder, f.path);
    const r = await downloadFile(f.url!, dest, { sha256: f.sha256, size: f.size, onProgress: progress.onBytes, allowedHosts: manifestHosts(m) });
    report.downloaded.push({ path: f.path, size: r.size, sha256: r.sha256, resumedFrom: r.resumedFrom });
    if (f.sha256 === null || f.size === null) {
      report.pinned.push(f.path);
      pin(m, f.path, r.sha256, r.size);
    }
  }
  return report;
}

/** `root/folder/file`, refused unless it lies inside `root` (whatever `..` or links the parts hold). */
export function confinedPath(root: string, folder: string, file: string): string {
  const base = path.resolve(root);
  const full = path.resolve(base, folder, file);
  const rel = path.relative(base, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`galmorph: '${path.join(folder, file)}' leaves ${base}`);
  return full;
}

/** Hosts a manifest's downloads may be redirected to: those of its own urls and of the storage services they use. */
export function manifestHosts(m: Manifest): string[] {
  const hosts = new Set(STORAGE_HOSTS);
  for (const u of [...m.upstream.map((x) => x.url), ...m.files.flatMap((f) => (f.url ? [f.url] : []))]) {
    try {
      hosts.add(new URL(u).hostname);
    } catch {
      // the schema already requires http(s) urls
    }
  }
  return [...hosts];
}

/** Where the hosts of the committed manifests redirect downloads to. */
const STORAGE_HOSTS = ['objects.githubusercontent.com', 'release-assets.githubusercontent.com', 'codeload.github.com', 'zenodo.org'];

/** Records a learnt checksum in the user cache's copy of the manifest. */
function pin(m: Manifest, file: string, sha256: string, size: number): void {
  const target = pinnedManifestPath(m.id);
  // The committed manifest's $schema path is relative to data-manifests/, so the cached copy drops it.
  const { $schema: _, ...base } = (fs.existsSync(target) ? readJson(target) : readJson(m.source)) as { $schema?: string; files: ManifestFile[] };
  const files = base.files.map((f) => (f.path === file ? { ...f, sha256, size } : f));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, formatManifestJson({ ...base, files }));
}

/** Manifest JSON as committed: two-space indentation, one line per file so diffs stay readable. */
export function formatManifestJson(json: { files: unknown[] }): string {
  const files = json.files.map((f) => `    ${JSON.stringify(f)}`).join(',\n');
  return JSON.stringify({ ...json, files: '\u0000files' }, null, 2).replace('"\\u0000files"', `[\n${files}\n  ]`) + '\n';
}

/** Size and sha256 of every file under `dir` (or of the listed entries), sorted: the `files` of a manifest. */
export async function scanFiles(dir: string, only: string[] = []): Promise<ManifestFile[]> {
  const walk = (rel: string): string[] => {
    const abs = path.join(dir, rel);
    if (!fs.statSync(abs).isDirectory()) return [rel];
    return fs.readdirSync(abs).flatMap((e) => walk(rel === '' ? e : `${rel}/${e}`));
  };
  const rels = (only.length > 0 ? only.flatMap(walk) : walk('')).sort();
  return mapLimit(rels, 4, async (rel) => ({ path: rel, size: fs.statSync(path.join(dir, rel)).size, sha256: await sha256File(path.join(dir, rel)) }));
}

/** One line per manifest: id, kind, where it is, file count and size, title. */
export function formatManifestList(manifests: Manifest[]): string {
  const rows = manifests.map((m) => {
    const located = locateFiles(m);
    const present = located.filter((l) => l.found).length;
    const known = m.files.every((f) => f.size !== null);
    const bytes = m.files.reduce((s, f) => s + (f.size ?? 0), 0);
    const where = present === m.files.length ? `local (${located[0]!.root!.source})` : present === 0 ? `${m.availability === 'upstream' ? 'upstream only' : 'MISSING'}` : `partial ${present}/${m.files.length}`;
    return [m.id, m.kind, where, `${m.files.length} files`, known ? megabytes(bytes) : 'size unknown', m.title];
  });
  const widths = [0, 1, 2, 3, 4].map((j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows.map((r) => r.map((c, j) => (j < 5 ? c.padEnd(widths[j]!) : c)).join('  ')).join('\n');
}
