/**
 * The Sage fine-tuning engine, a library: LIFT (AdaptFormer + LA), Sage (SG-Adapter + Init +
 * CF + FIT) and every combination of the components, on a frozen CLIP from src/clip. It opens
 * no file, looks no store up from a URI and touches no terminal or signal: callers hand it
 * ObjectStores (checkpoint folder, adapter folder), a TrainingLog and a ProgressReporter.
 */
export { createSageModel, batchLogits, type CreateSageModelOptions, type SageModel, type ZeroShotFromText, type ZeroShotTensors } from './model';
export { trainSage, checkTrainCounts, DEFAULT_DIVERGENCE_RULE, type CheckpointPoint, type DivergenceRule, type TrainSageOptions, type TrainResult, type ZeroShotFeatureStrategy } from './train';
export {
  batchGradients,
  checkTrainingBatch,
  microBatchGradients,
  meanGradients,
  cosineLearningRate,
  SgdMomentum,
  GradientAccumulator,
  type BatchGradients,
  type GradientSource,
  type StepContext,
  type OptimizerState,
} from './step';
export { localLogits, type LogitSource } from './logit-source';
export { evaluate, summarizePredictions, predict, buildMetricsDocument, type EvaluateOptions, type EvaluationResult, type MetricsInputs, type Prediction, type ClassScore } from './evaluate';
export { saveAdapter, loadAdapter, loadAdapterWeights, readAdapterHeader, type AdapterHeader } from './adapter-file';
export { readCheckpointHeader, type CheckpointHeader, type CheckpointGeneration } from './checkpoint';
export type { StoreLocation } from './files';
export { silentProgress, type ProgressReporter, type StepProgress, type EpochProgress, type TrainingLog, type TrainingLogRecord, type TrainingWarningKind } from './progress';
export { liftBottleneck, perBlockFormula, parameterReport, type NamedVariable } from './adapters';
export { logitAdjustment, logCompensation } from './heads';
export { EngineEmptyClassError, EngineNonFiniteLossError, EngineInputError, EngineCheckpointError } from './errors';
export {
  adaptiveGradients,
  isOutOfMemoryError,
  recoversFromOutOfMemory,
  releaseAbandonedTape,
  EngineOutOfMemoryError,
  type AdaptiveGradients,
  type AdaptiveGradientsOptions,
  type MicroBatchBackoff,
} from './out-of-memory';
