/** Where one job (one sweep child) reads and writes, from its JobSpec and the bucket layout. */
import type { JobSpec } from '../contracts/job';
import { joinUri } from '../storage';

export interface JobLocations {
  /** `<resultsUri>/<sweepIndex>/`: metrics.json, log.jsonl, and the adapter (adapter.safetensors + adapter.json). */
  resultsDir: string;
  metricsUri: string;
  logUri: string;
  adapterUri: string;
  /** `<checkpointUri>/<sweepIndex>/`: the resumable training state. */
  checkpointDir: string;
}

/** The file names match src/contracts/layout.ts resultsKeys (`runs/<runId>/<sweepIndex>/...`). */
export function jobLocations(spec: Pick<JobSpec, 'resultsUri' | 'checkpointUri' | 'sweepIndex'>): JobLocations {
  const resultsDir = joinUri(spec.resultsUri, String(spec.sweepIndex));
  return {
    resultsDir,
    metricsUri: joinUri(resultsDir, 'metrics.json'),
    logUri: joinUri(resultsDir, 'log.jsonl'),
    adapterUri: joinUri(resultsDir, 'adapter.safetensors'),
    checkpointDir: `${joinUri(spec.checkpointUri, String(spec.sweepIndex))}/`,
  };
}
