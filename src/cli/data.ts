/**
 * `galmorph data ...`: list, verify and fetch manifests; check a catalogue. Thin over src/data.
 */
import { Command } from 'commander';
import { addVoteOptions, voteColumnsOption, VoteCliOptions } from './options';
import { SingleBar, Presets } from 'cli-progress';
import * as path from 'node:path';
import { readCatalog } from '../data/catalog';
import { fetchManifest, formatManifestList, formatVerifyReport, getManifest, loadManifests, verifyManifest, VerifyReport } from '../data/manifests';
import { schemaByName } from '../schemas/galaxy-zoo';
import { voteCounts, questionTotal } from '../schemas/votes';

async function verify(ids: string[]): Promise<void> {
  const manifests = ids.length > 0 ? ids.map((id) => getManifest(id)) : loadManifests();
  const reports: VerifyReport[] = [];
  for (const m of manifests) {
    const r = await verifyManifest(m);
    console.log(formatVerifyReport(r));
    reports.push(r);
  }
  const n = (s: VerifyReport['status']) => reports.filter((r) => r.status === s).length;
  const files = reports.reduce((s, r) => s + r.files.filter((f) => f.status !== 'missing').length, 0);
  const bytes = reports.reduce((s, r) => s + r.bytes, 0);
  console.log(`verified ${reports.length} manifests: ${n('ok')} ok, ${n('absent')} not downloaded (upstream only), ${n('failed')} failed; ${files} files, ${(bytes / 1e6).toFixed(1)} MB hashed (sha256)`);
  if (n('failed') > 0) process.exitCode = 1;
}

async function fetch(id: string): Promise<void> {
  const m = getManifest(id);
  const bar = new SingleBar({ format: '{file} [{bar}] {percentage}% {value}/{total} bytes', noTTYOutput: !process.stderr.isTTY, stream: process.stderr }, Presets.shades_classic);
  let started = false;
  const report = await fetchManifest(m, {
    onStart: (f, i, count) => {
      if (started) bar.stop();
      started = true;
      bar.start(f.size ?? 0, 0, { file: `${i + 1}/${count} ${f.path}` });
    },
    onBytes: (done, total) => {
      if (total !== undefined && total !== bar.getTotal()) bar.setTotal(total);
      bar.update(done);
    },
  }).finally(() => started && bar.stop());
  console.log(`${m.id}: ${report.present} file(s) already local, ${report.downloaded.length} downloaded and verified (sha256)` +
    (report.pinned.length > 0 ? `; pinned ${report.pinned.length} new checksum(s) in the user cache` : ''));
}

interface CatalogOpts extends VoteCliOptions { idCol: string; imageCol: string; images: boolean; schema?: string }

function catalogCheck(file: string, o: CatalogOpts): void {
  const cat = readCatalog(file, { idCol: o.idCol, imageCol: o.images ? o.imageCol : null });
  console.log(`${cat.file}: ${cat.length} rows, ${cat.columns.length} columns; ids unique in '${cat.idCol}'` +
    (cat.imageCol ? `; all ${cat.length} images in '${cat.imageCol}' exist (relative to ${path.dirname(cat.file)})` : ''));
  if (!o.schema) return;
  if (cat.length === 0) throw new Error(`galmorph: ${cat.file} has no rows: no votes to count`);
  const schema = schemaByName(o.schema);
  const votes = voteCounts(cat, schema, voteColumnsOption(o));
  console.log(`votes (${schema.name}, ${schema.questions.length} questions, ${schema.answerCount} answers) from ${votes.detail ?? votes.method}:`);
  for (const q of schema.questions) {
    let sum = 0;
    for (let i = 0; i < cat.length; i++) sum += questionTotal(votes, i, q);
    console.log(`  ${q.key.padEnd(24)} mean ${(sum / cat.length).toFixed(1)} votes per galaxy`);
  }
}

export function dataCommand(): Command {
  const data = new Command('data').description('datasets and models: list the manifests, verify files (sha256), fetch from upstream, check a catalogue');
  data.command('list').description('every dataset and model manifest, where its files are, their count and size').action(() => {
    console.log(formatManifestList(loadManifests()));
  });
  data
    .command('verify')
    .description('check that every file of a manifest is present with the right size and sha256')
    .argument('[ids...]', 'manifest ids')
    .option('--all', 'every manifest')
    .action(async (ids: string[], opts: { all?: boolean }) => {
      if (ids.length === 0 && !opts.all) throw new Error('galmorph data verify: name a manifest id, or pass --all');
      await verify(opts.all ? [] : ids);
    });
  data
    .command('fetch')
    .description('download the files of a manifest that are not local into the user cache (resumable, sha256-verified)')
    .argument('<id>', 'manifest id')
    .action(fetch);
  data
    .command('catalog')
    .description('read a catalogue (CSV, CSV.gz, Parquet, Arrow) and check ids, images and, with --schema, Galaxy Zoo votes')
    .argument('<file>', 'catalogue file')
    .option('--id-col <name>', 'id column', 'id')
    .option('--image-col <name>', 'image path column (absolute or relative to the catalogue folder)', 'file')
    .option('--no-images', 'the table has no image column');
  addVoteOptions(data.commands.at(-1)!).action(catalogCheck);
  return data;
}
