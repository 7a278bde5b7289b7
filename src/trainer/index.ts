/**
 * The trainer: one job (one sweep child) from manifest to results. The Batch container
 * (container/entrypoint.ts), `sage train` and the local pipeline all call runJob. It owns what
 * the engine library leaves to its caller: stores looked up from URIs, the console progress,
 * the JSONL log file and SIGTERM.
 */
export { runJob, jobSettings, countLabels, removeLocalTemporaryFiles, type RunJobOptions, type RunJobResult } from './run-job';
export { jobLocations, type JobLocations } from './job-locations';
export { consoleProgress, TrainingLogFile, abortOnTermination } from './progress';
export { TrainerSettingsError, TrainerStoppedError, TrainerDeadlineError, TrainerBackendError } from './errors';
export { trainerExitCode, type TrainerExitCode } from './exit-codes';
export { AttemptDeadline, MIN_MARGIN_SECONDS, type AttemptDeadlineOptions } from './deadline';
export { planMicroBatch, planEvaluationBatch, deviceBudget, type MicroBatchPlan } from './micro-batch';
export { runDoctor, runDoctorCommand, DOCTOR_SHAPES, type DoctorOptions, type DoctorShape } from './doctor';
export { writeProgress } from './attempt';
export { runAnyJob, jobKind, type AnyJobResult } from './dispatch';
export { runPredictJob, streamPredictions, PREDICT_BATCH, type PredictJobOptions, type PredictJobResult, type StreamPredictionsOptions } from './predict-job';
