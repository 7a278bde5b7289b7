/**
 * How the validation Lambda hands a job to the trainer: environment variables on the
 * Batch job (or on the local trainer process). One place defines the names so the
 * Lambda, the container and the local pipeline cannot drift apart.
 */
import { z } from 'zod';
import { TrainerError } from '../common/errors';

/** The job's environment (the container's SAGE_* variables) is incomplete or malformed: a deployment to fix, not a failed run. */
export class TrainerJobEnvironmentError extends TrainerError {
  constructor(message: string) {
    super(message, { kind: 'bad-input' });
    this.name = 'TrainerJobEnvironmentError';
  }
}

export const JOB_ENV = {
  runId: 'SAGE_RUN_ID',
  manifestUri: 'SAGE_MANIFEST_URI',
  /** Results prefix of the run: `s3://results/runs/<runId>/`; each sweep child writes under `<index>/`. */
  resultsUri: 'SAGE_RESULTS_URI',
  /** Checkpoint prefix of the run (artifacts bucket). */
  checkpointUri: 'SAGE_CHECKPOINT_URI',
  /** Where the CUDA JIT cache is kept between jobs (artifacts bucket). */
  cudaCacheUri: 'SAGE_CUDA_CACHE_URI',
  /** Sweep index for a single (non-array) job; Batch sets AWS_BATCH_JOB_ARRAY_INDEX for array children. */
  sweepIndex: 'SAGE_SWEEP_INDEX',
  /**
   * Comma-separated `s3://bucket/prefix/` roots the manifest's references must lie under (the
   * validation Lambda's own rule), so the trainer refuses what validation would have.
   */
  referenceRoots: 'SAGE_REFERENCE_ROOTS',
  /** The CLIP weights folder validation accepted: the run's session may read only it, and the trainer refuses others. */
  weightsUri: 'SAGE_WEIGHTS_URI',
  /** An inference job's adapter folder, as validated: its session may read it. */
  adapterUri: 'SAGE_ADAPTER_URI',
  arrayIndex: 'AWS_BATCH_JOB_ARRAY_INDEX',
  /** Set on the job definition (infra/constructs/gpu-batch.ts): the backend the trainer must run on (`tensorflow`), or it exits 3. */
  requiredBackend: 'SAGE_REQUIRED_BACKEND',
  /** Set on the job definition: one attempt's timeout in seconds; the trainer checkpoints before it and exits 75. */
  attemptSeconds: 'SAGE_ATTEMPT_SECONDS',
  /** Batch's 1-based attempt number (progress.json records it). */
  attempt: 'AWS_BATCH_JOB_ATTEMPT',
} as const;

/** What the job definition and Batch tell one attempt about itself (not part of the per-run JobSpec). */
export interface AttemptContext {
  requiredBackend?: 'tensorflow' | 'wasm' | 'cpu';
  /** The attempt's timeout, from the moment the container started. */
  attemptSeconds?: number;
  /** 1-based. */
  attempt?: number;
}

/** Reads the attempt's context; a value that is set but malformed is refused, naming the variable. */
export function attemptFromEnv(env: NodeJS.ProcessEnv = process.env): AttemptContext {
  const context: AttemptContext = {};
  const backend = env[JOB_ENV.requiredBackend];
  if (backend) {
    if (backend !== 'tensorflow' && backend !== 'wasm' && backend !== 'cpu') throw new TrainerJobEnvironmentError(`${JOB_ENV.requiredBackend} is "${backend}"; expected tensorflow, wasm or cpu`);
    context.requiredBackend = backend;
  }
  const seconds = env[JOB_ENV.attemptSeconds];
  if (seconds) {
    const value = Number(seconds);
    if (!(Number.isFinite(value) && value > 0)) throw new TrainerJobEnvironmentError(`${JOB_ENV.attemptSeconds} is "${seconds}"; expected a positive number of seconds`);
    context.attemptSeconds = value;
  }
  const attempt = env[JOB_ENV.attempt];
  if (attempt && Number.isInteger(Number(attempt)) && Number(attempt) > 0) context.attempt = Number(attempt);
  return context;
}

/**
 * Most children one AWS Batch array job may have (Batch's own limit). Validation refuses an
 * inference manifest whose slices would need more (a training sweep's schema limit,
 * MAX_SWEEP_ENTRIES, is below it), so the refusal is a rejection report and not a SubmitJob
 * failure after the run record is written.
 */
export const MAX_ARRAY_SIZE = 10_000;

export const JobSpec = z.object({
  runId: z.string().min(1),
  manifestUri: z.string().min(1),
  resultsUri: z.string().min(1),
  checkpointUri: z.string().min(1),
  cudaCacheUri: z.string().optional(),
  sweepIndex: z.number().int().nonnegative(),
  referenceRoots: z.array(z.string().startsWith('s3://')).optional(),
  weightsUri: z.string().optional(),
  adapterUri: z.string().optional(),
});
export type JobSpec = z.infer<typeof JobSpec>;

/** Reads the job from the environment; throws naming every missing variable. */
export function jobSpecFromEnv(env: NodeJS.ProcessEnv = process.env): JobSpec {
  const missing = [JOB_ENV.runId, JOB_ENV.manifestUri, JOB_ENV.resultsUri, JOB_ENV.checkpointUri].filter((name) => !env[name]);
  if (missing.length > 0) throw new TrainerJobEnvironmentError(`the trainer's job is incomplete: missing environment variable(s) ${missing.join(', ')}`);
  const index = env[JOB_ENV.arrayIndex] ?? env[JOB_ENV.sweepIndex] ?? '0';
  const sweepIndex = Number(index);
  if (!Number.isInteger(sweepIndex) || sweepIndex < 0) throw new TrainerJobEnvironmentError(`sweep index "${index}" is not a non-negative integer`);
  return JobSpec.parse({
    runId: env[JOB_ENV.runId],
    manifestUri: env[JOB_ENV.manifestUri],
    resultsUri: env[JOB_ENV.resultsUri],
    checkpointUri: env[JOB_ENV.checkpointUri],
    cudaCacheUri: env[JOB_ENV.cudaCacheUri] || undefined,
    sweepIndex,
    referenceRoots: env[JOB_ENV.referenceRoots] ? env[JOB_ENV.referenceRoots]!.split(',').filter((root) => root.length > 0) : undefined,
    weightsUri: env[JOB_ENV.weightsUri] || undefined,
    adapterUri: env[JOB_ENV.adapterUri] || undefined,
  });
}

/** The environment for a job, the inverse of jobSpecFromEnv (without the array index). */
export function jobSpecToEnv(spec: JobSpec): Record<string, string> {
  return {
    [JOB_ENV.runId]: spec.runId,
    [JOB_ENV.manifestUri]: spec.manifestUri,
    [JOB_ENV.resultsUri]: spec.resultsUri,
    [JOB_ENV.checkpointUri]: spec.checkpointUri,
    ...(spec.cudaCacheUri ? { [JOB_ENV.cudaCacheUri]: spec.cudaCacheUri } : {}),
    [JOB_ENV.sweepIndex]: String(spec.sweepIndex),
    ...(spec.referenceRoots ? { [JOB_ENV.referenceRoots]: spec.referenceRoots.join(',') } : {}),
    ...(spec.weightsUri ? { [JOB_ENV.weightsUri]: spec.weightsUri } : {}),
    ...(spec.adapterUri ? { [JOB_ENV.adapterUri]: spec.adapterUri } : {}),
  };
}

/**
 * The trainer's exit codes (SPEC section 6), one meaning each: what Batch retries and what
 * the CLI and the logs say.
 */
export const TRAINER_EXIT = {
  done: 0,
  failed: 1,
  badInput: 2,
  /** The backend the job needs (SAGE_REQUIRED_BACKEND) did not load: retrying on the same image cannot help. */
  backendUnavailable: 3,
  /** Checkpointed before the attempt's deadline: to be continued by the next attempt. */
  toBeContinued: 75,
  /** Stopped by SIGTERM after a checkpoint (a spot reclaim, a cancel). */
  stopped: 143,
} as const;

/**
 * When Batch retries an attempt, in order (the first match decides): a spot host taken back
 * ("Host EC2 (instance i-...) terminated.") and an attempt that checkpointed before its
 * deadline (exit 75) are retried and resume from the checkpoint; anything else is the job's
 * own end. The job definition and every SubmitJob (whose attempts come from the estimate) use it.
 */
export const JOB_RETRY_RULES: readonly { action: 'RETRY' | 'EXIT'; onStatusReason?: string; onExitCode?: string; onReason?: string }[] = [
  { action: 'RETRY', onStatusReason: 'Host EC2*' },
  { action: 'RETRY', onExitCode: String(TRAINER_EXIT.toBeContinued) },
  { action: 'EXIT', onReason: '*' },
];
