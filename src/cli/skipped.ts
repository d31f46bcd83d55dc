/**
 * `--skip-unreadable` (predict, embed, train): every image left out is reported on stderr with its
 * catalogue row and id, and the whole list is written beside the output as CSV (file, where, reason).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import Papa from 'papaparse';
import type { SkippedImage } from '../data/batches';

export function addSkipUnreadableOption(cmd: Command): Command {
  return cmd.option('--skip-unreadable', 'leave out images that cannot be read, report each (row, id, file) and write the list beside the output (…skipped.csv)');
}

/** Where the list of skipped images of an output goes: `preds.csv` → `preds.skipped.csv`, a folder → `folder/skipped.csv`. */
export function skippedListFile(out: string, folder = false): string {
  if (folder) return path.join(out, 'skipped.csv');
  const ext = path.extname(out);
  return `${ext ? out.slice(0, -ext.length) : out}.skipped.csv`;
}

/** Collects skipped images, printing each; `write()` puts the list in `file` (and removes a stale one when none were skipped). */
export function skipReporter(command: string, file: string): { onSkip: (s: SkippedImage) => void; skipped: SkippedImage[]; write: () => void } {
  const skipped: SkippedImage[] = [];
  return {
    skipped,
    onSkip: (s) => {
      skipped.push(s);
      process.stderr.write(`\ngalmorph ${command}: skipped ${s.where}: ${s.reason}\n`);
    },
    write: () => {
      if (skipped.length === 0) {
        fs.rmSync(file, { force: true });
        return;
      }
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, Papa.unparse(skipped.map((s) => ({ file: s.file, where: s.where, reason: s.reason })), { newline: '\n' }) + '\n');
      console.error(`galmorph ${command}: skipped ${skipped.length} unreadable image(s); the list is in ${file}`);
    },
  };
}
