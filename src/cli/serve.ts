/** `galmorph serve`: the galaxy explorer in the browser (browse, similar, words, anomalies, map). */
import { Command } from 'commander';
import { describeBackend, initBackend } from '../backend/select';
import { ANOMALY_DEFAULTS } from '../anomaly/personalised';
import { defaultModelDir } from '../models/load';
import { loadModel } from '../models/predict';
import { defaultLabelsFile, Explorer } from '../serve/explorer';
import { startServer } from '../serve/server';
import { addCatalogSourceOptions, CatalogSourceOptions, integer, NON_NEGATIVE_INTEGER, POSITIVE_INTEGER, resolveCatalog, validated } from './options';

interface ServeCliOptions extends CatalogSourceOptions {
  embeddings: string;
  labels?: string;
  model: string | false;
  port: number;
  host: string;
  batch: number;
  initial: number;
  seed: number;
}

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('a galaxy explorer in the browser, offline: browse, similar galaxies, describe in words, score anomalies, a 2-D map')
    .requiredOption('--embeddings <file>', 'representations from galmorph embed (.parquet or .arrow)');
  return addCatalogSourceOptions(cmd, {
    catalog: 'catalogue with the images the embeddings were made from (CSV, Parquet, Arrow)',
    dataset: 'or a dataset of data-manifests as the catalogue (e.g. decals-rings-470)',
  })
    .option('--labels <file>', 'anomaly scores, JSON Lines, shared with galmorph anomaly and the notebook form (default: <embeddings>.labels.jsonl)')
    .option('--model <dir>', 'model for predicted vote fractions and "describe in words"', defaultModelDir())
    .option('--no-model', 'no predictions (faster start; "describe in words" is off)')
    .addOption(validated('--port <n>', 'port (0: any free one)', NON_NEGATIVE_INTEGER, 8765))
    .option('--host <address>', 'address to listen on; anything but loopback exposes your catalogue and labels to the network', '127.0.0.1')
    .addOption(validated('--batch <n>', 'galaxies per anomaly batch (the Gaussian process refits between batches)', POSITIVE_INTEGER, ANOMALY_DEFAULTS.batchSize))
    .addOption(validated('--initial <n>', 'random galaxies scored before expected improvement chooses', integer(2), ANOMALY_DEFAULTS.initialLabels))
    .addOption(validated('--seed <n>', 'seed of the random first galaxies', NON_NEGATIVE_INTEGER, ANOMALY_DEFAULTS.seed))
    .action(async (opts: ServeCliOptions) => {
      const catalog = resolveCatalog(opts, 'serve', 'so the galaxies can be shown');
      const log = (line: string) => console.error(line);
      const explorer = Explorer.open({
        embeddings: opts.embeddings,
        catalog,
        labels: opts.labels ?? defaultLabelsFile(opts.embeddings),
        batchSize: opts.batch,
        initialLabels: opts.initial,
        seed: opts.seed,
        log,
      });
      const running = await startServer(explorer, { port: opts.port, host: opts.host, log });
      const state = explorer.anomalyState();
      console.error(`labels: ${explorer.labelsFile} (${state.labelled} scored${state.resumed > 0 ? ', resumed' : ''})`);
      if (opts.host !== '127.0.0.1' && opts.host !== 'localhost' && opts.host !== '::1') {
        console.error(`galmorph serve: listening on ${opts.host}: anyone who can reach this address can see the catalogue and write to ${explorer.labelsFile}`);
      }
      // the line tests and scripts wait for
      console.log(`galmorph explorer: ${running.url} (${explorer.size} galaxies)`);
      if (opts.model !== false) {
        const dir = opts.model;
        void (async () => {
          console.error(`predicting vote fractions with ${dir} — ${describeBackend(await initBackend())}`);
          const t = performance.now();
          await explorer.predict(await loadModel(dir));
          console.error(`predicted ${explorer.predictions!.columns.length} vote fractions of ${explorer.size} galaxies in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        })().catch((err: unknown) => console.error(`galmorph serve: predictions failed: ${err instanceof Error ? err.message : String(err)}`));
      }
      const stop = () => void running.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
