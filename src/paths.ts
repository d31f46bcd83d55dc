/**
 * Where galmorph finds things on disk: its own install, the shared data mirror, the output folder.
 * Every path can be overridden by an environment variable so that notebooks, the CLI and tests agree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The galmorph package root (the folder holding package.json), found from this file's location. */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'galmorph') return dir;
      } catch {
        // an unreadable package.json further down is not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`galmorph: cannot find the galmorph package root above ${__dirname}`);
    dir = parent;
  }
}

/** Splits a PATH-like variable (':'-separated) into absolute directories. */
function splitDirs(value: string | undefined): string[] {
  return (value ?? '').split(path.delimiter).filter((d) => d.length > 0).map((d) => path.resolve(d));
}

export interface DataRoot {
  /** Absolute directory. */
  dir: string;
  /** Why it is searched: 'GALMORPH_DATA', 'shared mirror' or 'user cache'. */
  source: 'GALMORPH_DATA' | 'shared mirror' | 'user cache';
  exists: boolean;
}

/** The user cache for downloaded datasets and models (`GALMORPH_CACHE` or ~/.cache/galmorph). */
export function userCacheDir(): string {
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '.';
  return path.resolve(process.env.GALMORPH_CACHE ?? path.join(home, '.cache', 'galmorph'));
}

/**
 * Directories searched for datasets and weights, in order: `GALMORPH_DATA` entries, the read-only
 * shared mirror beside the project (`../shared/data`, `../shared/weights`), then the user cache.
 */
export function dataRoots(): DataRoot[] {
  const root = projectRoot();
  const shared = path.resolve(root, '..', 'shared');
  const roots: DataRoot[] = [
    ...splitDirs(process.env.GALMORPH_DATA).map((dir) => ({ dir, source: 'GALMORPH_DATA' as const })),
    { dir: path.join(shared, 'data'), source: 'shared mirror' as const },
    { dir: path.join(shared, 'weights'), source: 'shared mirror' as const },
    { dir: userCacheDir(), source: 'user cache' as const },
  ].map((r) => ({ ...r, exists: fs.existsSync(r.dir) }));
  return roots;
}

/**
 * Resolves a dataset-relative path (e.g. `gz2-hart16-1000/catalog.csv`) against the data roots.
 * Throws an error listing every place searched when it is nowhere.
 */
export function resolveDataPath(relative: string): string {
  const roots = dataRoots();
  for (const r of roots) {
    const candidate = path.join(r.dir, relative);
    if (fs.existsSync(candidate)) return candidate;
  }
  const searched = roots.map((r) => `  ${path.join(r.dir, relative)} (${r.source}${r.exists ? '' : ', folder missing'})`);
  throw new Error(
    `galmorph: data file '${relative}' not found. Searched:\n${searched.join('\n')}\n` +
      `Put the dataset in one of these folders, or point GALMORPH_DATA at the folder that holds it.`,
  );
}

/** Output folder for figures, tables and executed notebooks (`GALMORPH_OUT` or `<project>/out`). */
export function outDir(): string {
  return path.resolve(process.env.GALMORPH_OUT ?? path.join(projectRoot(), 'out'));
}
