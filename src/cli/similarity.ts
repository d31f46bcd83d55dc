/** `galmorph similar`: ranked neighbours of one galaxy in representation space. */
import * as fs from 'node:fs';
import { Command } from 'commander';
import Papa from 'papaparse';
import { readEmbeddings } from '../representations/embed';
import { Metric, similar } from '../similarity/search';

export function similarCommand(): Command {
  return new Command('similar')
    .description('the galaxies most similar to one galaxy (exact search over its representations)')
    .requiredOption('--embeddings <file>', 'from galmorph embed (.parquet or .arrow)')
    .requiredOption('--query <id>', 'id of the query galaxy')
    .option('--k <n>', 'neighbours to return', '10')
    .option('--metric <name>', 'cosine or euclidean', 'cosine')
    .option('--pca <n>', 'compare on this many PCA components (fitted on the embeddings)')
    .option('--out <file>', 'also write the neighbours as CSV (rank, id, distance)')
    .action((opts: { embeddings: string; query: string; k: string; metric: string; pca?: string; out?: string }) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1) throw new Error(`galmorph similar: --k must be a positive integer, got '${opts.k}'`);
      const pca = opts.pca === undefined ? undefined : Number(opts.pca);
      const found = similar(readEmbeddings(opts.embeddings), opts.query, { k, metric: opts.metric as Metric, pca });
      console.log(`neighbours of ${opts.query} (${opts.metric}${pca ? `, ${pca} PCA components` : ''}):`);
      for (const n of found) console.log(`${String(n.rank).padStart(4)}  ${n.id.padEnd(24)} ${n.distance.toFixed(5)}`);
      if (opts.out) fs.writeFileSync(opts.out, Papa.unparse(found.map((n) => ({ rank: n.rank, id: n.id, distance: n.distance })), { newline: '\n' }) + '\n');
    });
}
