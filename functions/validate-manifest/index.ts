/**
 * Lambda: S3 "Object Created" (via EventBridge) on manifests/*.json → validate, then submit
 * the Batch job or write the rejection report. The logic is src/pipeline's
 * processManifestUpload; this file only adapts the event and wires AWS in.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { BatchJobSubmitter } from '../../src/pipeline/batch-submitter';
import { manifestUploadFromEvent, type ManifestUploadOutcome, processManifestUpload, type ProcessManifestUploadDeps, randomIds, type S3ObjectCreatedEvent, systemClock } from '../../src/pipeline';
import type { StructuredLog } from '../../src/pipeline/log';
import { sharedS3Store } from '../commons/clients';
import { FUNCTION_ENV, bucketLocations, budgetFromEnv, requireEnv } from '../commons/config';
import { createFunctionLog, logInvocation } from '../commons/middleware';

const defaultLog = createFunctionLog('validate-manifest');

export type ValidateManifestDeps = Omit<ProcessManifestUploadDeps, 'owner' | 'log'>;

/** Dependencies from the function's environment (DATA_BUCKET, RESULTS_BUCKET, ARTIFACTS_BUCKET, JOB_QUEUE, JOB_DEFINITION). */
export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): ValidateManifestDeps {
  const batch = requireEnv([FUNCTION_ENV.jobQueue, FUNCTION_ENV.jobDefinition], env);
  const store = sharedS3Store();
  const budget = budgetFromEnv(env);
  return {
    locations: bucketLocations(env),
    dataStore: store,
    resultsStore: store,
    // Every reference goes to S3: a path the manifest names is never opened on this function's disk.
    referenceStore: store,
    submitter: new BatchJobSubmitter({ jobQueue: batch[FUNCTION_ENV.jobQueue], jobDefinition: batch[FUNCTION_ENV.jobDefinition] }),
    clock: systemClock,
    ids: randomIds,
    ...(budget ? { budget } : {}),
  };
}

/** The handler, with its dependencies made on first use by `makeDeps`, logging JSON lines to `log`. */
export function createValidateManifestHandler(makeDeps: () => ValidateManifestDeps = () => depsFromEnv(), log: StructuredLog = defaultLog) {
  let deps: ValidateManifestDeps | undefined;
  return middy<S3ObjectCreatedEvent, ManifestUploadOutcome, Error, Context>()
    .use(logInvocation<S3ObjectCreatedEvent, ManifestUploadOutcome>(log))
    .handler(async (event, context) => {
      deps ??= makeDeps();
      const { bucket, upload } = manifestUploadFromEvent(event);
      const expected = deps.locations.data.replace(/^s3:\/\//, '');
      if (deps.locations.data.startsWith('s3://') && bucket !== expected) {
        log.warn('ignored an upload to another bucket', { bucket, expected });
        return { outcome: 'ignored', reason: `bucket "${bucket}" is not the data bucket "${expected}"` };
      }
      // The claim's lease is this invocation's own remaining time (Powertools' in-progress expiry).
      return processManifestUpload(upload, { ...deps, log, owner: context.awsRequestId, remainingMs: context.getRemainingTimeInMillis() });
    });
}

export const handler = createValidateManifestHandler();
