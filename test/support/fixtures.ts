/** Small real inputs for tests: a few galaxies from the shared mirror, and temp folders. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCatalog, Catalog } from '../../src/data/catalog';
import { projectRoot, resolveDataPath } from '../../src/paths';

/** The GZ2 catalogue of the shared mirror, cut to its first `n` galaxies. */
export function gz2Sample(n = 4): Catalog {
  return readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'asset_id' }).subset(n);
}

/**
 * A fresh temporary folder, removed when the process exits. `insideProject` puts it under the
 * project's .cache/ (notebooks there resolve `import ... from "galmorph"` like the shipped ones).
 */
export function tempDir(prefix = 'galmorph-test-', insideProject = false): string {
  const parent = insideProject ? path.join(projectRoot(), '.cache', 'tests') : os.tmpdir();
  fs.mkdirSync(parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  created.push(dir);
  return dir;
}

const created: string[] = [];
process.on('exit', () => created.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
