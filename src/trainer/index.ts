/**
 * The trainer: one job (one sweep child) from manifest to results. The Batch container
 * (container/entrypoint.ts), `sage train` and the local pipeline all call runJob.
 */
export { runJob, jobSettings, countLabels, type RunJobOptions, type RunJobResult } from './run-job';
export { jobLocations, type JobLocations } from './job-locations';
export { TrainerSettingsError, TrainerStoppedError } from './errors';
