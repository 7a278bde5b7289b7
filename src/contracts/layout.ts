/**
 * Where things live in the buckets. Keys are relative to a bucket (or a local folder
 * standing in for one); join them onto a root URI with joinUri.
 *
 *   data bucket     manifests/<name>.json              (uploaded by the user; never altered)
 *   results bucket  runs/<runId>/run.json              (the run record: manifest, job, sweep)
 *                   runs/<runId>/<sweepIndex>/metrics.json, log.jsonl, adapter.safetensors, adapter.json
 *                   runs/<runId>/<sweepIndex>/status.json   (written by aggregation: SUCCEEDED / FAILED + reason)
 *                   rejections/<name>/<etag>.json       (validation report of a refused manifest)
 *                   summaries/<name>/summary.json, results.csv, report.md, report.html
 *                   claims/<name>/<etag>.json           (idempotency claim of one upload)
 *   artifacts bucket weights/..., checkpoints/<runId>/<sweepIndex>/, cuda-cache/
 */
export const MANIFEST_PREFIX = 'manifests/';

/** `manifests/cifar/run1.json` → `cifar/run1`. Keeps sub-folders so two users' names never collide. */
export function manifestNameFromKey(key: string): string {
  return key.replace(/^manifests\//, '').replace(/\.json$/i, '');
}

/** S3 etags come quoted; keys should not contain quotes. */
export function cleanEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

export const resultsKeys = {
  runRecord: (runId: string): string => `runs/${runId}/run.json`,
  runPrefix: (runId: string, sweepIndex: number): string => `runs/${runId}/${sweepIndex}/`,
  metrics: (runId: string, sweepIndex: number): string => `runs/${runId}/${sweepIndex}/metrics.json`,
  log: (runId: string, sweepIndex: number): string => `runs/${runId}/${sweepIndex}/log.jsonl`,
  adapter: (runId: string, sweepIndex: number): string => `runs/${runId}/${sweepIndex}/adapter.safetensors`,
  status: (runId: string, sweepIndex: number): string => `runs/${runId}/${sweepIndex}/status.json`,
  rejection: (name: string, etag: string): string => `rejections/${name}/${cleanEtag(etag)}.json`,
  claim: (name: string, etag: string): string => `claims/${name}/${cleanEtag(etag)}.json`,
  summaryPrefix: (name: string): string => `summaries/${name}/`,
};

export const artifactsKeys = {
  checkpoints: (runId: string, sweepIndex: number): string => `checkpoints/${runId}/${sweepIndex}/`,
  cudaCache: (): string => 'cuda-cache/',
};
