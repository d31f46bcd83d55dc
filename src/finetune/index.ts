/**
 * Fine-tuning (`gm.finetuning`): a new head, and optionally the top of the encoder, trained on a
 * few labelled galaxies; the paper's ring learning curve.
 */
export { finetuneCatalog } from './run';
export type { FinetuneCatalogOptions, FinetuneCatalogResult } from './run';
export { finetune, FINETUNE_DEFAULTS } from './train';
export type { FinetuneOptions, EpochLog } from './train';
export { learningCurve, summariseCurve, mostWrong, balancedSplit, trainingIndices, curveProgress, probeCurve } from './experiment';
export type { CurveRun, LearningCurve, LearningCurveOptions, RunRecord, Depth, CurvePoint, ProbeRecord, ProbeCurveOptions } from './experiment';
export { fitLogistic, chooseC, fitLinearProbe, probeScores, LOGISTIC_DEFAULTS } from './logistic';
export type { LogisticOptions, LogisticModel, CvOptions, CvResult, LinearProbe } from './logistic';
export { binaryTargets, classificationTargets, regressionTargets, treeTargets, FINETUNE_TASKS } from './labels';
export { binaryAccuracy, rocAuc } from './metrics';
