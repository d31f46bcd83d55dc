/**
 * galmorph's public entry point. Notebooks import from 'galmorph' (and display helpers from
 * 'galmorph/kernel'); the CLI is thin over the same functions.
 */
export { VERSION } from './version';
export * from './paths';
export * from './backend/select';
export * from './data/catalog';
export * from './data/images';
export * from './data/fits';
export * from './data/stretch';
export * from './data/augment';
export * from './data/hash';
export * from './data/download';
export * from './data/manifests';
export * from './schemas/decision-tree';
export * from './schemas/galaxy-zoo';
export * from './schemas/votes';
export * from './models/encoders';
export * from './models/dirichlet';
export * from './models/galaxy-model';
export * from './models/io';
export * from './models/load';
export * from './models/evaluate';
export * from './models/model-card';
export { GalmorphBatchNorm, batchNormTraining } from './models/layers/batch-norm';
export { MonteCarloDropout } from './models/layers/mc-dropout';
export * from './training/step';
export * from './training/vote-data';
export * from './training/augment-batch';
export * from './training/train-galaxy';
export * from './representations/embed';
export * from './representations/pca';
export * from './similarity/search';
export * from './similarity/evaluate';
export * from './representations/imagenet';
export * from './plots/figure';
export * from './plots/export';
export * from './report/tables';
export * from './report/paper';
export { environmentReport, formatEnvReport } from './env';
export type { EnvReport } from './env';
export { runNotebook, NotebookCellError } from './notebooks/run';
export type { RunNotebookOptions, NotebookResult } from './notebooks/run';
export { reproduce } from './notebooks/reproduce';
