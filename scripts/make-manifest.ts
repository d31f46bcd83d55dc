/**
 * Refreshes the `files` of a manifest from a folder on disk: size and sha256 of every file (or of the
 * listed entries), keeping any per-file `url` already in the manifest. The result is validated against
 * the manifest schema before it is written.
 *
 *   node dist/scripts/make-manifest.js data-manifests/<id>.json <data-root> [entries...]
 *   e.g. node dist/scripts/make-manifest.js data-manifests/gz2-hart16-1000.json ../shared/data
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatManifestJson, parseManifest, scanFiles, ManifestFile } from '../src/data/manifests';

async function main(argv: string[]): Promise<void> {
  const [file, root, ...entries] = argv;
  if (!file || !root) throw new Error('usage: make-manifest <manifest.json> <data-root> [entries...]');
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { folder: string; files: Partial<ManifestFile>[] };
  const urls = new Map(json.files.map((f) => [f.path, f.url]));
  const scanned = await scanFiles(path.join(root, json.folder), entries);
  json.files = scanned.map((f) => (urls.get(f.path) ? { ...f, url: urls.get(f.path) } : f));
  parseManifest(json, file);
  fs.writeFileSync(file, formatManifestJson(json));
  const bytes = scanned.reduce((s, f) => s + (f.size ?? 0), 0);
  console.log(`${file}: ${scanned.length} files, ${(bytes / 1e6).toFixed(1)} MB from ${path.join(root, json.folder)}`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
