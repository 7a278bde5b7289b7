/**
 * Lambda: Batch "Job State Change" (SUCCEEDED / FAILED, this pipeline's queue) → record the
 * run's result and update its manifest's summary and report. The logic is src/pipeline's
 * processJobStateChange; this file only adapts the event and wires AWS in.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type BatchJobStateChangeEvent, jobStateChangeFromEvent, type JobStateChangeOutcome, processJobStateChange, type ProcessJobStateChangeDeps, systemClock } from '../../src/pipeline';
import type { StructuredLog } from '../../src/pipeline/log';
import { sharedS3Store } from '../commons/clients';
import { bucketLocations } from '../commons/config';
import { createFunctionLog, logInvocation } from '../commons/middleware';

const defaultLog = createFunctionLog('aggregate-metrics');

export type AggregateMetricsDeps = Omit<ProcessJobStateChangeDeps, 'log'>;

/** Dependencies from the function's environment (DATA_BUCKET, RESULTS_BUCKET, ARTIFACTS_BUCKET). */
export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): AggregateMetricsDeps {
  const store = sharedS3Store();
  return { locations: bucketLocations(env), dataStore: store, resultsStore: store, clock: systemClock };
}

/** The handler, with its dependencies made on first use by `makeDeps`, logging JSON lines to `log`. */
export function createAggregateMetricsHandler(makeDeps: () => AggregateMetricsDeps = () => depsFromEnv(), log: StructuredLog = defaultLog) {
  let deps: AggregateMetricsDeps | undefined;
  return middy<BatchJobStateChangeEvent, JobStateChangeOutcome, Error, Context>()
    .use(logInvocation<BatchJobStateChangeEvent, JobStateChangeOutcome>(log))
    .handler(async (event) => {
      deps ??= makeDeps();
      const change = jobStateChangeFromEvent(event);
      const outcome = await processJobStateChange(change, { ...deps, log });
      if (outcome.outcome === 'ignored') log.info('event ignored', { jobId: change.jobId, status: change.status, reason: outcome.reason });
      return outcome;
    });
}

export const handler = createAggregateMetricsHandler();
