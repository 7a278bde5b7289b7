/**
 * Where things live in the buckets: the one owner of every key and file name. Keys are
 * relative to a bucket (or a local folder standing in for one); join them onto a root URI
 * with joinUri. The IAM grants and lifecycle rules in infra/ are built from the same
 * prefixes, so a key and the permission to write it cannot drift apart.
 *
 *   data bucket      manifests/<name>.json              (uploaded by the user; never altered)
 *   results bucket   runs/<runId>/run.json              (the run record: manifest, job, sweep)
 *                    runs/<runId>/<sweepIndex>/metrics.json, log.jsonl, progress.json,
 *                                                adapter.safetensors, adapter.json   (the trainer)
 *                    runs/<runId>/<sweepIndex>/best/adapter.safetensors, adapter.json   (the best evaluated weights, with evalEvery)
 *                    runs/<runId>/<sweepIndex>/status.json   (aggregation: SUCCEEDED / FAILED + reason)
 *                    runs/<runId>/<slice>/predictions.jsonl, predictions.csv, prediction-summary.json   (an inference slice)
 *                    runs/<runId>/predictions.jsonl, predictions.csv   (an inference run's slices, joined by aggregation)
 *                    rejections/<name>/<etag>.json       (validation report of a refused manifest)
 *                    summaries/<name>/summary.json, results.csv, report.md, report.html
 *                    claims/<name>/<etag>.json           (idempotency claim of one upload)
 *   artifacts bucket weights/...                         (CLIP folders)
 *                    checkpoints/<runId>/<sweepIndex>/   (resumable training state)
 *                    cuda-cache/                         (the CUDA JIT cache between jobs)
 */
import { joinUri } from '../storage';

/** Top-level prefixes of each bucket (with their trailing slash). */
export const DATA_PREFIXES = { manifests: 'manifests/' } as const;
export const RESULTS_PREFIXES = { runs: 'runs/', rejections: 'rejections/', summaries: 'summaries/', claims: 'claims/' } as const;
export const ARTIFACTS_PREFIXES = { weights: 'weights/', checkpoints: 'checkpoints/', cudaCache: 'cuda-cache/' } as const;

export const MANIFEST_PREFIX = DATA_PREFIXES.manifests;

/** File names inside one run child's results folder `runs/<runId>/<sweepIndex>/`. */
export const RUN_FILES = {
  metrics: 'metrics.json',
  log: 'log.jsonl',
  progress: 'progress.json',
  status: 'status.json',
  adapterTensors: 'adapter.safetensors',
  adapterHeader: 'adapter.json',
  /** An inference slice's outputs (src/contracts/predictions.ts). */
  predictions: 'predictions.jsonl',
  predictionsCsv: 'predictions.csv',
  predictionSummary: 'prediction-summary.json',
} as const;

/** The folder inside a run child's results folder where the trainer keeps the best evaluated weights (RUN_FILES' adapter files). */
export const RUN_BEST_ADAPTER_DIR = 'best';

/** The folder inside a run child's checkpoint folder where an AWS job keeps its text classifier (W^zs) across attempts. */
export const TEXT_CLASSIFIER_DIR = 'text-classifier';

/** The run record's file name inside `runs/<runId>/`. */
export const RUN_RECORD_FILE = 'run.json';

/** File names inside `summaries/<name>/`. */
export const SUMMARY_FILES = { summary: 'summary.json', csv: 'results.csv', markdown: 'report.md', html: 'report.html' } as const;

/** `manifests/cifar/run1.json` → `cifar/run1`. Keeps sub-folders so two users' names never collide. */
export function manifestNameFromKey(key: string): string {
  return key.replace(/^manifests\//, '').replace(/\.json$/i, '');
}

/** Whether a data-bucket key is an upload the pipeline handles: `manifests/<name>.json`. */
export function isManifestKey(key: string): boolean {
  return key.startsWith(MANIFEST_PREFIX) && key.toLowerCase().endsWith('.json') && !key.endsWith('/');
}

/**
 * The name an upload of a manifest is filed under (`manifests/<name>.json`): its own `name`
 * when that is a usable key, else the file's name made safe. `sage submit` and the local
 * pipeline's staging both use it, so the same file lands under the same key either way.
 */
export function uploadNameOf(parsed: unknown, sourceUri: string): string {
  const name = parsed !== null && typeof parsed === 'object' ? (parsed as { name?: unknown }).name : undefined;
  if (typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) return name;
  const base = sourceUri.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return base.replace(/\.json$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-') || 'manifest';
}

/** `manifests/<name>.json` for an upload name. */
export function manifestKey(name: string): string {
  return `${MANIFEST_PREFIX}${name}.json`;
}

/** S3 etags come quoted; keys should not contain quotes. */
export function cleanEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

export const resultsKeys = {
  runRecord: (runId: string): string => `${RESULTS_PREFIXES.runs}${runId}/${RUN_RECORD_FILE}`,
  /** `runs/<runId>/`: the results URI handed to the trainer; each sweep child writes below it. */
  run: (runId: string): string => `${RESULTS_PREFIXES.runs}${runId}/`,
  rejection: (name: string, etag: string): string => `${RESULTS_PREFIXES.rejections}${name}/${cleanEtag(etag)}.json`,
  claim: (name: string, etag: string): string => `${RESULTS_PREFIXES.claims}${name}/${cleanEtag(etag)}.json`,
  summaryPrefix: (name: string): string => `${RESULTS_PREFIXES.summaries}${name}/`,
  summary: (name: string): string => `${resultsKeys.summaryPrefix(name)}${SUMMARY_FILES.summary}`,
};

export const artifactsKeys = {
  /** `checkpoints/<runId>/`: the checkpoint URI handed to the trainer; each child keeps `<sweepIndex>/` below it. */
  checkpoints: (runId: string): string => `${ARTIFACTS_PREFIXES.checkpoints}${runId}/`,
  cudaCache: (): string => ARTIFACTS_PREFIXES.cudaCache,
};

/** The files of one run child, from the run's results URI (`…/runs/<runId>/`) as the job received it. */
export interface RunChildFiles {
  /** `<resultsUri>/<sweepIndex>/`. */
  dir: string;
  metrics: string;
  log: string;
  progress: string;
  status: string;
  /** The adapter's folder (adapter.safetensors + adapter.json live in `dir`). */
  adapterDir: string;
  predictions: string;
  predictionsCsv: string;
  predictionSummary: string;
}

/** The one derivation of a child's file URIs: the trainer writes and the aggregation step reads through it. */
export function runChildFiles(resultsUri: string, sweepIndex: number): RunChildFiles {
  const dir = joinUri(resultsUri, String(sweepIndex));
  return {
    dir,
    metrics: joinUri(dir, RUN_FILES.metrics),
    log: joinUri(dir, RUN_FILES.log),
    progress: joinUri(dir, RUN_FILES.progress),
    status: joinUri(dir, RUN_FILES.status),
    adapterDir: dir,
    predictions: joinUri(dir, RUN_FILES.predictions),
    predictionsCsv: joinUri(dir, RUN_FILES.predictionsCsv),
    predictionSummary: joinUri(dir, RUN_FILES.predictionSummary),
  };
}

/** An inference run's joined outputs, beside its slices: `<resultsUri>/predictions.jsonl` and `.csv`. */
export function runPredictionFiles(resultsUri: string): { jsonl: string; csv: string } {
  return { jsonl: joinUri(resultsUri, RUN_FILES.predictions), csv: joinUri(resultsUri, RUN_FILES.predictionsCsv) };
}

/** `<checkpointUri>/<sweepIndex>/`: one child's checkpoint folder. */
export function childCheckpointUri(checkpointUri: string, sweepIndex: number): string {
  return `${joinUri(checkpointUri, String(sweepIndex))}/`;
}

/** The summary files of one manifest under a results root. */
export function summaryFiles(resultsRoot: string, manifestName: string): { summaryUri: string; csvUri: string; markdownUri: string; htmlUri: string } {
  const prefix = joinUri(resultsRoot, resultsKeys.summaryPrefix(manifestName));
  return {
    summaryUri: joinUri(prefix, SUMMARY_FILES.summary),
    csvUri: joinUri(prefix, SUMMARY_FILES.csv),
    markdownUri: joinUri(prefix, SUMMARY_FILES.markdown),
    htmlUri: joinUri(prefix, SUMMARY_FILES.html),
  };
}
