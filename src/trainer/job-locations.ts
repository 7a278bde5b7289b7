/** Where one job (one sweep child) reads and writes, from its JobSpec and the bucket layout (src/contracts/layout.ts). */
import type { JobSpec } from '../contracts/job';
import { childCheckpointUri, runChildFiles } from '../contracts/layout';

export interface JobLocations {
  /** `<resultsUri>/<sweepIndex>/`: metrics.json, log.jsonl, progress.json, and the adapter (adapter.safetensors + adapter.json). */
  resultsDir: string;
  metricsUri: string;
  logUri: string;
  /** Where the run stands at its last checkpoint (TrainingProgress), for the summary between attempts. */
  progressUri: string;
  /** `<checkpointUri>/<sweepIndex>/`: the resumable training state. */
  checkpointDir: string;
}

/** The one derivation of a child's files is layout.ts's runChildFiles; this adds the checkpoint folder. */
export function jobLocations(spec: Pick<JobSpec, 'resultsUri' | 'checkpointUri' | 'sweepIndex'>): JobLocations {
  const files = runChildFiles(spec.resultsUri, spec.sweepIndex);
  return {
    resultsDir: files.dir,
    metricsUri: files.metrics,
    logUri: files.log,
    progressUri: files.progress,
    checkpointDir: childCheckpointUri(spec.checkpointUri, spec.sweepIndex),
  };
}
