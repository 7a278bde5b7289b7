/**
 * How the validation core hands a run to a compute back end. AWS Batch implements it in
 * batch-submitter.ts; the local pipeline implements it with a local trainer process.
 */

export interface JobSubmission {
  runId: string;
  /** Job name: letters, digits, hyphens and underscores, at most 128 characters (Batch's rule). */
  name: string;
  /** 1 for a single job; N > 1 for an array job whose children get AWS_BATCH_JOB_ARRAY_INDEX 0..N-1. */
  arraySize: number;
  /** The job's environment (src/contracts/job.ts jobSpecToEnv). */
  env: Record<string, string>;
  /** Attempts the job may use (the estimate's need, spot allowance included); default: the job definition's. */
  attempts?: number;
}

export interface SubmittedJob {
  /** The job's id; array children are `<jobId>:<index>`. */
  jobId: string;
}

export interface JobSubmitter {
  submit(job: JobSubmission): Promise<SubmittedJob>;
  /**
   * The job already submitted under `name`, if any. Job names are derived from the run id,
   * so a handler that took over a dead one's claim finds the job it may have submitted
   * instead of submitting a second one.
   */
  find(name: string): Promise<SubmittedJob | undefined>;
}

const JOB_NAME_LIMIT = 128;

/** `sage-<manifest name>-<runId>`, reduced to Batch's alphabet and length. */
export function jobNameFor(manifestName: string, runId: string): string {
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  const suffix = `-${safe(runId)}`;
  const head = `sage-${safe(manifestName)}`.slice(0, JOB_NAME_LIMIT - suffix.length);
  return `${head}${suffix}`;
}
