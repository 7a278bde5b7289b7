/** Environment of the Lambda functions, set by the CDK stack (infra/sage-pipeline-stack.ts). */
import { GpuSpec, type AttemptBudget } from '../../src/estimate';
import { z } from 'zod';
import { PipelineError } from '../../src/common/errors';

export const FUNCTION_ENV = {
  dataBucket: 'DATA_BUCKET',
  resultsBucket: 'RESULTS_BUCKET',
  artifactsBucket: 'ARTIFACTS_BUCKET',
  jobQueue: 'JOB_QUEUE',
  jobDefinition: 'JOB_DEFINITION',
  logLevel: 'LOG_LEVEL',
  /** JSON: the estimate's budget (instance types, GPU table without sources, timeout, attempts, GPUs per job). */
  estimateBudget: 'ESTIMATE_BUDGET',
} as const;

/** The budget as the stack writes it into ESTIMATE_BUDGET: the GPU table's figures without their (long) sources. */
const BudgetJson = z.object({
  instanceTypes: z.array(z.string()).min(1),
  gpus: z.record(z.string(), GpuSpec.omit({ source: true, measuredBy: true })),
  jobTimeoutMinutes: z.number().int().positive(),
  spotRetries: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  /** sage:jobGpus: the job definition's GPU count, which the estimate divides the compute by. */
  jobGpus: z.number().int().positive(),
});

/** The estimate's budget in the form the function's environment carries it (4 KB for all variables: no sources). */
export function budgetToEnv(budget: AttemptBudget): string {
  const gpus = Object.fromEntries(Object.entries(budget.gpus).map(([type, spec]) => [type, { ...spec, source: undefined, measuredBy: undefined }]));
  // Always written, so the function estimates with the GPUs the job definition reserves.
  return JSON.stringify({ ...budget, gpus, jobGpus: budget.jobGpus ?? 1 });
}

/** ESTIMATE_BUDGET, parsed; undefined when the variable is unset (then no estimate is made). */
export function budgetFromEnv(env: NodeJS.ProcessEnv = process.env): AttemptBudget | undefined {
  const raw = env[FUNCTION_ENV.estimateBudget];
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new FunctionConfigMissingError([`${FUNCTION_ENV.estimateBudget} (invalid: not JSON)`]);
  }
  const parsed = BudgetJson.safeParse(json);
  if (!parsed.success) throw new FunctionConfigMissingError([`${FUNCTION_ENV.estimateBudget} (invalid: ${parsed.error.issues[0]?.message ?? 'bad shape'})`]);
  const gpus = Object.fromEntries(Object.entries(parsed.data.gpus).map(([type, spec]) => [type, { ...spec, source: 'the stack settings (sage:gpus)' }]));
  return { ...parsed.data, gpus };
}

export class FunctionConfigMissingError extends PipelineError {
  constructor(readonly missing: string[]) {
    super(`the function's environment is incomplete: missing ${missing.join(', ')} (set by the CDK stack)`);
    this.name = 'FunctionConfigMissingError';
  }
}

/** Reads the named variables; throws naming every missing one. */
export function requireEnv<const K extends string>(names: readonly K[], env: NodeJS.ProcessEnv = process.env): Record<K, string> {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) throw new FunctionConfigMissingError(missing);
  return Object.fromEntries(names.map((name) => [name, env[name]!])) as Record<K, string>;
}

/** Roots of the three buckets as the pipeline cores want them. */
export function bucketLocations(env: NodeJS.ProcessEnv = process.env): { data: string; results: string; artifacts: string } {
  const vars = requireEnv([FUNCTION_ENV.dataBucket, FUNCTION_ENV.resultsBucket, FUNCTION_ENV.artifactsBucket], env);
  return {
    data: `s3://${vars[FUNCTION_ENV.dataBucket]}`,
    results: `s3://${vars[FUNCTION_ENV.resultsBucket]}`,
    artifacts: `s3://${vars[FUNCTION_ENV.artifactsBucket]}`,
  };
}
