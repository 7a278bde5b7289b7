/**
 * What one training run may touch in S3, as the session policy the container passes when it
 * assumes the stack's run role. The run role is the envelope of every run; the session is the
 * intersection of the two, so a job reads the data bucket and the weights it was given, and
 * writes only under its own run's prefixes:
 *
 *   data bucket       read                      (the manifest and what it names; validation held them to it)
 *   weights folder    read                      (SAGE_WEIGHTS_URI: the manifest's weights, as validated)
 *   adapter folder    read                      (SAGE_ADAPTER_URI: an inference job's adapter, as validated)
 *   results           read + write              runs/<runId>/*
 *   artifacts         read + write + delete     checkpoints/<runId>/*
 *   artifacts         read + write              cuda-cache/*
 *
 * Built from the job's own URIs (src/contracts/job.ts) and the bucket layout (layout.ts).
 */
import { parseS3Uri } from '../storage';
import type { JobSpec } from './job';
import { PipelineError } from '../common/errors';

/** The stack sets it on the job definition: the role the container assumes for its run. */
export const RUN_ROLE_ENV = 'SAGE_RUN_ROLE_ARN';

export interface PolicyStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** STS refuses a session policy above 2,048 characters (packed). */
export const MAX_SESSION_POLICY_CHARS = 2048;

export class RunAccessError extends PipelineError {
  constructor(message: string) {
    super(message);
    this.name = 'RunAccessError';
  }
}

function objectArn(bucket: string, keyPattern: string): string {
  return `arn:aws:s3:::${bucket}/${keyPattern}`;
}

function s3Location(uri: string, what: string): { bucket: string; key: string } {
  if (!uri.startsWith('s3://')) throw new RunAccessError(`a scoped run session needs S3 locations; ${what} is ${uri}`);
  return parseS3Uri(uri);
}

/** A key prefix ending in `/` (or empty for a whole bucket). */
function asPrefix(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

/**
 * The session policy of one run. Needs the job's S3 URIs; `weightsUri` is the validated
 * weights folder (the trainer refuses a manifest whose weights differ from it).
 */
export function runSessionPolicy(spec: Pick<JobSpec, 'manifestUri' | 'resultsUri' | 'checkpointUri' | 'cudaCacheUri' | 'adapterUri'> & { weightsUri: string }): PolicyDocument {
  const data = s3Location(spec.manifestUri, 'the manifest');
  const results = s3Location(spec.resultsUri, 'the results URI');
  const checkpoints = s3Location(spec.checkpointUri, 'the checkpoint URI');
  const weights = s3Location(spec.weightsUri, 'the weights');
  const statements: PolicyStatement[] = [
    { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objectArn(data.bucket, '*'), objectArn(weights.bucket, `${asPrefix(weights.key)}*`)] },
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [objectArn(results.bucket, `${asPrefix(results.key)}*`)] },
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [objectArn(checkpoints.bucket, `${asPrefix(checkpoints.key)}*`)] },
  ];
  const buckets = new Set([data.bucket, results.bucket, checkpoints.bucket, weights.bucket]);
  if (spec.adapterUri) {
    // An inference job reads the adapter (and its run's metrics.json) of the run it names.
    const adapter = s3Location(spec.adapterUri, 'the adapter');
    statements[0]!.Resource.push(objectArn(adapter.bucket, `${asPrefix(adapter.key)}*`));
    buckets.add(adapter.bucket);
  }
  if (spec.cudaCacheUri) {
    const cache = s3Location(spec.cudaCacheUri, 'the CUDA cache URI');
    statements.push({ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [objectArn(cache.bucket, `${asPrefix(cache.key)}*`)] });
    buckets.add(cache.bucket);
  }
  // ListBucket makes a missing key read as 404 rather than 403.
  statements.push({ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [...buckets].sort().map((bucket) => `arn:aws:s3:::${bucket}`) });
  const policy: PolicyDocument = { Version: '2012-10-17', Statement: statements };
  const size = JSON.stringify(policy).length;
  if (size > MAX_SESSION_POLICY_CHARS) throw new RunAccessError(`the run's session policy is ${size} characters; STS accepts at most ${MAX_SESSION_POLICY_CHARS} (bucket names or keys too long)`);
  return policy;
}
