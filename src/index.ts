/**
 * galmorph's public entry point. Notebooks import from 'galmorph' (and display helpers from
 * 'galmorph/kernel'); the CLI is thin over the same functions. The core (backend, data, encoders,
 * models) is at the top level; each task has a namespace: `gm.similarity`, `gm.anomaly`,
 * `gm.finetuning`, `gm.plot`. Everything else is internal.
 */
export { VERSION } from './version';

// Compute backend
export { initBackend, describeBackend, BACKEND_NAMES } from './backend/select';
export type { BackendChoice, BackendName } from './backend/select';
export { environmentReport, formatEnvReport } from './env';

// Data: files, catalogues, datasets, images, representations on disk
export { outDir, resolveDataPath } from './paths';
export { InterruptedError, setAmbientHooks, track } from './progress';
export type { ProgressEvent, ProgressListener, AmbientHooks, Tracker } from './progress';
export { Catalog, readCatalog } from './data/catalog';
export { toDataFrame, fromDataFrame, danfojs } from './data/dataframe';
export type { DataFrame, ToDataFrameOptions, FromDataFrameOptions } from './data/dataframe';
export type { CatalogRow, CatalogOptions } from './data/catalog';
export { openDatasetCatalog, loadManifests, resolveManifest } from './data/manifests';
export { readImage, readRgb, ImageLoader } from './data/images';
export { readEmbeddings, readFeatures, writeEmbeddings, selectRows } from './data/embeddings';
export type { Embeddings } from './data/embeddings';
export type { Preprocess } from './data/preprocess';
export { schemaByName } from './schemas/galaxy-zoo';
export { KAGGLE_COLUMNS, NOMINAL_GZ2_VOTES, kaggleRmse, readKaggleCumulative, toKaggleCumulative } from './schemas/kaggle';
export type { KaggleCumulative } from './schemas/kaggle';

// Encoders: one registry, one loop
export { loadEncoder, ENCODERS, ENCODER_IDS, galaxyModelEncoder, embeddingCachePath, cacheName } from './encoders/registry';
export type { Encoder, EncoderInfo, LoadEncoderOptions } from './encoders/registry';
export { encode } from './encoders/encode';
export type { ImageSource } from './encoders/encode';
export type { BatchOptions } from './data/batches';

// Models: the galaxy model and fine-tuned models, prediction as data
export { loadGalaxyModel, defaultModelDir, defaultEncoderDir } from './models/load';
export type { LoadedGalaxyModel, GalaxyModelConfig } from './models/galaxy-model';
export { FineTunedModel } from './models/finetuned-model';
export { loadModel, predictCatalog, CatalogPrediction } from './models/predict';
export type { GalmorphModel, PredictCatalogOptions } from './models/predict';
export { evaluateOnGz2Test, readSplit, readTrainLog, writeModelCard } from './training/model-card';

// Training the galaxy model
export { trainGalaxyModel } from './training/train-galaxy';
export type { TrainOptions, EpochRecord } from './training/train-galaxy';
export { EXCLUSION_PRESETS } from './training/exclusion';
export type { ExclusionSpec, ExclusionPreset } from './training/exclusion';
export { loadVoteDataset, fromCatalog } from './schemas/vote-datasets';
export type { VoteDataset } from './schemas/vote-datasets';

// Representations of catalogues
export { embedCatalog } from './representations/embed';
export { datasetEmbeddings, cachedEmbeddings } from './representations/cache';
export { RepresentationPca, readPca, writePca } from './representations/pca';

// Results as data
export { summarise, summariseBy, formatMeanStd } from './report/summary';
export type { Summary } from './report/summary';
export { toCsv, toMarkdown, writeTable, pivot } from './report/tables';
export type { TableRow, PivotOptions } from './report/tables';
export { PAPER_VALUES } from './report/paper';

// Tasks
export * as similarity from './similarity';
export * as anomaly from './anomaly';
export * as finetuning from './finetune';
export * as plot from './plots';
