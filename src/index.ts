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
export * from './plots/figure';
export * from './plots/export';
export * from './report/tables';
export * from './report/paper';
export { environmentReport, formatEnvReport } from './env';
export type { EnvReport } from './env';
export { runNotebook, NotebookCellError } from './notebooks/run';
export type { RunNotebookOptions, NotebookResult } from './notebooks/run';
export { reproduce } from './notebooks/reproduce';
