/**
 * The run's own S3 access (src/contracts/run-access.ts): the container's task role may only
 * assume the stack's run role (SAGE_RUN_ROLE_ARN), and the container assumes it with a session
 * policy that narrows it to this job's run, so every S3 call of the trainer is limited to the
 * manifest's data, the validated weights (and an inference job's adapter), and its own run's
 * results, checkpoints and CUDA cache. `fromTemporaryCredentials` refreshes the session before it
 * ends; role chaining caps each session at one hour, so long jobs hold a chain of them.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { JobSpec } from '../src/contracts/job';
import { RUN_ROLE_ENV, runSessionPolicy, type PolicyDocument } from '../src/contracts/run-access';
import { setS3Store } from '../src/storage';
import { S3ObjectStore, s3ClientConfigFromEnv } from '../src/storage/s3';

/** One hour: the most STS grants a session assumed by another role's session (role chaining). */
export const RUN_SESSION_SECONDS = 3600;

export interface RunSessionRequest {
  roleArn: string;
  /** The session policy, as the JSON string STS takes. */
  policy: string;
  sessionName: string;
  durationSeconds: number;
  region: string;
}

/** What S3Client takes as `credentials`: a provider called (and refreshed) by the SDK. */
export type CredentialsProvider = ReturnType<typeof fromTemporaryCredentials>;

/** Builds the credentials of the run's session; tests inject one that records the request. */
export type CredentialProviderFactory = (request: RunSessionRequest) => CredentialsProvider;

export const assumeRunRole: CredentialProviderFactory = (request) =>
  fromTemporaryCredentials({
    params: { RoleArn: request.roleArn, Policy: request.policy, RoleSessionName: request.sessionName, DurationSeconds: request.durationSeconds },
    clientConfig: { region: request.region },
  });

/** `sage-<runId>-<index>`, within STS's 64 characters of `[\w+=,.@-]`. */
export function runSessionName(spec: Pick<JobSpec, 'runId' | 'sweepIndex'>): string {
  return `sage-${spec.runId}-${spec.sweepIndex}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export interface RunStore {
  store: S3ObjectStore;
  policy: PolicyDocument;
  request: RunSessionRequest;
}

/**
 * With SAGE_RUN_ROLE_ARN set: an S3 store on the run's scoped session, installed as the store
 * every s3:// URI resolves to (setS3Store). Without it (the local pipeline, tests): null, and
 * the default credentials stay.
 */
export function installRunStore(spec: JobSpec, env: NodeJS.ProcessEnv = process.env, factory: CredentialProviderFactory = assumeRunRole): RunStore | null {
  const roleArn = env[RUN_ROLE_ENV];
  if (!roleArn) return null;
  if (!spec.weightsUri) throw new Error(`${RUN_ROLE_ENV} is set but the job names no validated weights (SAGE_WEIGHTS_URI): the run's session policy needs them`);
  const policy = runSessionPolicy({ ...spec, weightsUri: spec.weightsUri });
  const config = s3ClientConfigFromEnv(env);
  const request: RunSessionRequest = { roleArn, policy: JSON.stringify(policy), sessionName: runSessionName(spec), durationSeconds: RUN_SESSION_SECONDS, region: String(config.region ?? 'us-east-1') };
  const store = new S3ObjectStore(new S3Client({ ...config, credentials: factory(request) }));
  setS3Store(store);
  return { store, policy, request };
}
