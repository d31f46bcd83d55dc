/**
 * The `galmorph` command line. Thin over the library: each subcommand parses its options and
 * calls one library function. Later issues add anomaly and finetune.
 */
import { Command } from 'commander';
import { environmentReport, formatEnvReport } from '../env';
import { dataCommand } from './data';
import { finetuneCommand } from './finetune';
import { printable } from './terminal-text';
import { embedCommand, evaluateCommand, predictCommand, trainCommand } from './model';
import { indexCommand, similarCommand } from './similarity';
import { anomalyCommand } from './anomaly';
import { workerCommand } from './scale';
import { serveCommand } from './serve';
import { reproduce } from '../notebooks/reproduce';
import { VERSION } from '../version';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('galmorph')
    .description('Galaxy morphology tools from deep supervised representation learning (Walmsley et al. 2022)')
    .version(VERSION);

  program
    .command('env')
    .description('show Node and tfjs versions, the compute backend chosen and why, Jupyter/tslab and Chromium status, and where data resolves from')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await environmentReport();
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatEnvReport(report));
    });

  program
    .command('reproduce')
    .description('execute every notebook in notebooks/ headless and write out/ (executed notebooks, figures, tables, REPORT.md)')
    .option('--only <names...>', 'only notebooks whose file name contains one of these')
    .option('--out <dir>', 'output folder (default: GALMORPH_OUT or ./out)')
    .option('--full', 'full-size experiments (slower) instead of the quick defaults')
    .action(async (opts: { only?: string[]; out?: string; full?: boolean }) => {
      await reproduce({ only: opts.only, out: opts.out, full: opts.full });
    });

  program.addCommand(dataCommand());
  program.addCommand(trainCommand());
  program.addCommand(predictCommand());
  program.addCommand(evaluateCommand());
  program.addCommand(embedCommand());
  program.addCommand(similarCommand());
  program.addCommand(finetuneCommand());
  program.addCommand(anomalyCommand());
  program.addCommand(indexCommand());
  program.addCommand(workerCommand());
  program.addCommand(serveCommand());

  return program;
}

/** Runs the CLI on an argv array (as process.argv). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Messages quote ids and paths from data: never let them drive the terminal.
    if (err instanceof Error) err.message = printable(err.message);
    throw err;
  }
}
