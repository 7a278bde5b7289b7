/**
 * The pipeline's handler cores, shared by the Lambda functions and the local pipeline.
 * Nothing here loads the AWS SDK; the Batch submitter is imported from ./batch-submitter.
 */
export { processManifestUpload, defaultReferenceRoots, estimateProblems } from './process-manifest-upload';
export type { ManifestUpload, ManifestUploadOutcome, ProcessManifestUploadDeps, RejectionReport } from './process-manifest-upload';
export { planRun, runEntriesOf, childJobId, estimateManifest, type RunPlan, type RunPlanInput } from './run-planner';
export { UploadClaims, DEFAULT_LEASE_MS, type ClaimBudget, type ClaimResult } from './upload-claims';
export { processJobStateChange } from './process-job-state-change';
export type { JobStateChangeOutcome, ProcessJobStateChangeDeps } from './process-job-state-change';
export { jobNameFor, type JobSubmission, type JobSubmitter, type SubmittedJob } from './job-submitter';
export { jobStateChangeFromEvent, manifestUploadFromEvent, type JobStateChange, type JobRole, type S3ObjectCreatedEvent, type BatchJobStateChangeEvent } from './events';
export { randomIds, systemClock, type Clock, type IdSource, type PipelineContext, type PipelineLocations } from './context';
export { StructuredLog, silentLog, serializeError, type PipelineLog } from './log';
export { RejectionReport as RejectionReportSchema, RunRecord, RunStatusDocument, UploadClaim, readDocument } from './documents';
export { mergeRows, readSummary, upsertSummaryRows } from './summary-store';
export { reportUris, writeReports, loadRunMetrics } from './report-writer';
export * from './errors';
