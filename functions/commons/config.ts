/** Environment of the Lambda functions, set by the CDK stack (infra/constructs/pipeline-functions.ts). */

export const FUNCTION_ENV = {
  dataBucket: 'DATA_BUCKET',
  resultsBucket: 'RESULTS_BUCKET',
  artifactsBucket: 'ARTIFACTS_BUCKET',
  jobQueue: 'JOB_QUEUE',
  jobDefinition: 'JOB_DEFINITION',
  logLevel: 'LOG_LEVEL',
} as const;

export class FunctionConfigMissingError extends Error {
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
