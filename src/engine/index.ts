/**
 * The Sage fine-tuning engine: LIFT (AdaptFormer + LA), Sage (SG-Adapter + Init + CF + FIT)
 * and every combination of the components, on a frozen CLIP from src/clip.
 */
export { createSageModel, type CreateSageModelOptions } from './create-model';
export { buildSageModel, type BuildSageModelOptions, type SageModel } from './model';
export { trainSage, abortOnTermination, checkTrainCounts, type TrainSageOptions, type TrainResult, type ZeroShotFeatureStrategy } from './train';
export { evaluate, summarizePredictions, batchLogits, type EvaluateOptions, type EvaluationResult } from './evaluate';
export { buildMetricsDocument, type MetricsInputs } from './metrics';
export { saveAdapter, loadAdapter, type AdapterHeader } from './adapter-file';
export { predict, type Prediction, type ClassScore } from './predict';
export { consoleProgress, silentProgress, JsonlLog, type ProgressReporter, type StepProgress, type EpochProgress } from './progress';
export { readHeader as readCheckpointHeader, type CheckpointHeader } from './checkpoint';
export { liftBottleneck, perBlockFormula, parameterReport } from './parameters';
export { logitAdjustment, logCompensation } from './compensation';
export { cosineLearningRate } from './schedule';
export { EngineEmptyClassError, EngineNonFiniteLossError, EngineInputError, EngineCheckpointError } from './errors';
