/**
 * The whole pipeline on one machine: the manifest lands in the local data bucket, the
 * validation core (the Lambda's own code) claims it and submits a job to the local
 * submitter, the trainer runs each sweep child, and the aggregation core (the other
 * Lambda's code) records each end and renders the report into the local results bucket.
 */
import type { SettingsOverrides } from '../contracts/settings';
import type { Summary } from '../contracts/summary';
import {
  processJobStateChange,
  processManifestUpload,
  randomIds,
  readSummary,
  reportUris,
  systemClock,
  type IdSource,
  type PipelineContext,
  type PipelineLog,
} from '../pipeline';
import type { ManifestProblem } from '../manifest/schema';
import { PipelineError } from '../common/errors';
import { storeFor } from '../storage';
import { localBuckets } from './buckets';
import { consoleLog } from './console-log';
import type { JobRunner } from './job-runner';
import { stageManifest } from './stage-manifest';
import { LocalJobSubmitter, type LocalJobResult } from './submitter';

export interface LocalPipelineOptions {
  /** The manifest to run: a local path or an s3:// URI. */
  manifestUri: string;
  /** Root of the local buckets (`data/`, `results/`, `artifacts/` below it). */
  bucketsRoot: string;
  runner: JobRunner;
  /** Sweep children run at most this many at a time. Default 1. */
  concurrency?: number;
  log?: PipelineLog;
  ids?: IdSource;
  /** A last settings layer (the command line's), folded into the staged manifest's sweep entries or `training`. */
  settings?: SettingsOverrides;
}

export interface LocalRunReport {
  runId: string;
  manifestName: string;
  /** The manifest's whole summary (this run and earlier ones). */
  summary: Summary;
  /** This run's children, in sweep order. */
  jobs: LocalJobResult[];
  summaryUri: string;
  reportHtmlUri: string;
  reportMarkdownUri: string;
  resultsCsvUri: string;
}

export type LocalPipelineResult =
  | ({ outcome: 'finished' } & LocalRunReport)
  | { outcome: 'rejected'; rejectionUri: string; problems: ManifestProblem[] }
  | { outcome: 'not-submitted'; reason: string };

export async function runLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipelineResult> {
  const locations = localBuckets(options.bucketsRoot);
  const log = options.log ?? consoleLog();
  const context: PipelineContext = {
    locations,
    dataStore: await storeFor(locations.data),
    resultsStore: await storeFor(locations.results),
    clock: systemClock,
    log,
  };
  const submitter = new LocalJobSubmitter({
    runner: options.runner,
    concurrency: options.concurrency,
    onStateChange: async (change) => {
      await processJobStateChange(change, context);
    },
  });

  const staged = await stageManifest(options.manifestUri, locations.data, { settings: options.settings });
  const upload = await processManifestUpload({ key: staged.key, etag: staged.etag }, { ...context, submitter, ids: options.ids ?? randomIds });
  if (upload.outcome === 'rejected') return { outcome: 'rejected', rejectionUri: upload.rejectionUri, problems: upload.problems };
  if (upload.outcome !== 'submitted') {
    return { outcome: 'not-submitted', reason: upload.outcome === 'ignored' ? upload.reason : `this upload was already handled (${upload.claimUri})` };
  }

  const jobs = await submitter.runSubmitted();
  const summary = await readSummary(context.resultsStore, upload.summaryUri);
  if (!summary) throw new PipelineError(`the run ${upload.runId} finished but its summary ${upload.summaryUri} is missing`);
  const uris = reportUris(locations.results, summary.manifestName);
  return {
    outcome: 'finished',
    runId: upload.runId,
    manifestName: summary.manifestName,
    summary,
    jobs,
    summaryUri: upload.summaryUri,
    reportHtmlUri: uris.htmlUri,
    reportMarkdownUri: uris.markdownUri,
    resultsCsvUri: uris.csvUri,
  };
}
