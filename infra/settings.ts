/**
 * Deployment settings, read from CDK context (`cdk.json` or `cdk deploy -c sage:maxvCpus=64`).
 * Every key has a default here; docs/aws.md lists them. Values given on the command line
 * arrive as strings and are coerced (numbers, true/false, comma-separated lists).
 */
import type { Node } from 'constructs';
import { z } from 'zod';
import { BATCH_MAX_ATTEMPTS, DEFAULT_BUDGET, DEFAULT_GPUS, GpuTable, type AttemptBudget } from '../src/estimate';
import { PipelineError } from '../src/common/errors';

const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().min(1)).min(1));

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export const PipelineSettings = z.object({
  /** GPU instance types the compute environments may launch (T4 g4dn runs tfjs-node-gpu's kernels natively). */
  instanceTypes: list.default([...DEFAULT_BUDGET.instanceTypes]),
  /** Upper bound on vCPUs running at once, per compute environment. */
  maxvCpus: int(1, 100_000).default(64),
  /** Spot first, with an on-demand compute environment after it in the queue. False: on-demand only. */
  spot: bool.default(true),
  /** Highest spot price as a percentage of on-demand. */
  spotBidPercentage: int(1, 100).default(100),
  /** vCPUs and memory (MiB) the training container reserves. */
  jobVcpus: int(1, 192).default(4),
  jobMemoryMiB: int(1024, 2_000_000).default(14_336),
  /**
   * GPUs the training container reserves; the trainer runs one data-parallel replica per GPU it
   * sees (SPEC section 7). Every type of instanceTypes must have that many. 8: the most an EC2 instance has.
   */
  jobGpus: int(1, 8).default(DEFAULT_BUDGET.jobGpus ?? 1),
  /** Hard limit on one attempt of a job; a longer run checkpoints before it and continues in the next attempt. */
  jobTimeoutMinutes: int(5, 14 * 24 * 60).default(DEFAULT_BUDGET.jobTimeoutMinutes),
  /**
   * Most attempts a job may have (Batch allows 10). Each job gets what its estimate needs:
   * ceil(estimated time / usable time per attempt) + spotRetries; a run needing more is refused.
   */
  jobAttempts: int(1, BATCH_MAX_ATTEMPTS).default(DEFAULT_BUDGET.maxAttempts),
  /** Attempts kept for spot reclaims on top of those a run's estimate needs. */
  spotRetries: int(0, BATCH_MAX_ATTEMPTS - 1).default(DEFAULT_BUDGET.spotRetries),
  /**
   * GPU throughput and prices per instance type, for the estimate (src/estimate/gpus.ts):
   * each entry { gpu, gpus, memoryGiB, peakTflops, efficiency, onDemandUsdPerHour,
   * spotUsdPerHour, startupMinutes, source }. `sage doctor --json` output replaces an assumed efficiency.
   */
  gpus: z.preprocess((v) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v), GpuTable).default(DEFAULT_GPUS),
  /** A prebuilt image (`<account>.dkr.ecr.<region>.amazonaws.com/sage:tag`); empty: build container/Dockerfile at deploy. */
  containerImage: z.string().default(''),
  /** Days before checkpoints and CUDA-cache non-current versions expire. */
  checkpointRetentionDays: int(1, 3650).default(30),
  /** Days before non-current versions in results and artifacts expire. */
  noncurrentVersionDays: int(1, 3650).default(90),
  /** Days before upload claims (duplicate-event guards) expire. */
  claimRetentionDays: int(1, 3650).default(30),
  /** Lambda log and Batch log retention in days: one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, ...). */
  logRetentionDays: z.coerce
    .number()
    .refine((days) => LOG_RETENTION_DAYS.includes(days), { message: `expected one of ${LOG_RETENTION_DAYS.join(', ')}` })
    .default(30),
  validateMemoryMiB: int(128, 10_240).default(1024),
  validateTimeoutSeconds: int(10, 900).default(300),
  aggregateMemoryMiB: int(128, 10_240).default(1024),
  aggregateTimeoutSeconds: int(10, 900).default(120),
  /** Availability zones of the VPC the GPU instances run in. */
  maxAzs: int(1, 6).default(2),
});
export type PipelineSettings = z.infer<typeof PipelineSettings>;

export const CONTEXT_PREFIX = 'sage:';

export class PipelineSettingsError extends PipelineError {
  constructor(message: string) {
    super(message, { kind: 'bad-input' });
    this.name = 'PipelineSettingsError';
  }
}

/** Reads `sage:<name>` context values; throws naming each bad key with its allowed range. */
export function readPipelineSettings(node: Pick<Node, 'tryGetContext'>): PipelineSettings {
  const raw = Object.fromEntries(
    Object.keys(PipelineSettings.shape)
      .map((name) => [name, node.tryGetContext(`${CONTEXT_PREFIX}${name}`) as unknown])
      .filter(([, value]) => value !== undefined && value !== null),
  );
  const parsed = PipelineSettings.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${CONTEXT_PREFIX}${issue.path.join('.')}: ${issue.message}`);
    throw new PipelineSettingsError(`invalid CDK context:\n${lines.join('\n')}`);
  }
  const unknown = parsed.data.instanceTypes.filter((type) => !parsed.data.gpus[type]);
  if (unknown.length > 0) {
    throw new PipelineSettingsError(`invalid CDK context:\n  ${CONTEXT_PREFIX}gpus: no entry for ${unknown.join(', ')} of ${CONTEXT_PREFIX}instanceTypes (the estimate needs each type's throughput and price)`);
  }
  // Batch never places a job on an instance with fewer GPUs than it reserves: such a type would only ever idle.
  const tooFew = parsed.data.instanceTypes.filter((type) => parsed.data.gpus[type]!.gpus < parsed.data.jobGpus);
  if (tooFew.length > 0) {
    const has = tooFew.map((type) => `${type} has ${parsed.data.gpus[type]!.gpus}`).join(', ');
    throw new PipelineSettingsError(`invalid CDK context:\n  ${CONTEXT_PREFIX}jobGpus: ${parsed.data.jobGpus} GPUs per job, but ${has} (${CONTEXT_PREFIX}gpus): drop ${tooFew.length > 1 ? 'them' : 'it'} from ${CONTEXT_PREFIX}instanceTypes or lower ${CONTEXT_PREFIX}jobGpus`);
  }
  return parsed.data;
}

/**
 * The estimate's budget from the settings: what the stack hands the validation function
 * (ESTIMATE_BUDGET) and what `sage validate` / `submit --dry-run` should estimate with, so both
 * agree. The GPU table keeps only the types the queue may launch.
 */
export function settingsBudget(settings: PipelineSettings): Required<AttemptBudget> {
  return {
    instanceTypes: settings.instanceTypes,
    gpus: Object.fromEntries(settings.instanceTypes.map((type) => [type, settings.gpus[type]!])),
    jobTimeoutMinutes: settings.jobTimeoutMinutes,
    spotRetries: settings.spotRetries,
    maxAttempts: settings.jobAttempts,
    jobGpus: settings.jobGpus,
  };
}
