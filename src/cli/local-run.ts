/**
 * Shared by `sage run` and `sage demo`: run a manifest through the local pipeline with the
 * chosen trainer runner, then print this run's table and where the report is.
 */
import type { SettingsOverrides } from '../contracts/settings';
import type { Summary, SummaryRow } from '../contracts/summary';
import type { JobRunner } from '../local/job-runner';
import type { LocalPipelineResult } from '../local/pipeline';
import { JOB_CORES_ENV, jobCoresShare } from '../trainer/parallel/replica-count';
import { DECODE_WORKERS_ENV } from './commands/train';
import { CliInputError, CliRunFailedError } from './exit-codes';
import type { CliOutput } from './output';

export interface LocalRunFlags {
  buckets: string;
  parallel: number;
  inProcess?: boolean;
  workers?: number;
  cacheDir?: string;
  /** The command line's settings layer, folded into the staged manifest. */
  settings?: SettingsOverrides;
  /** Print the outcome as one JSON document (LocalRunJson) instead of the table. */
  json?: boolean;
}

/** What `sage run --json` prints on stdout. */
export type LocalRunJson =
  | {
      outcome: 'finished';
      runId: string;
      manifestName: string;
      summaryUri: string;
      report: { html: string; markdown: string; csv: string };
      /** This run's summary rows, in sweep order. */
      rows: SummaryRow[];
    }
  /** `rejectionUri` only when the pipeline's validation refused the staged copy; the local check of the file itself writes none. */
  | { outcome: 'rejected'; rejectionUri?: string; problems: unknown[] }
  | { outcome: 'not-submitted'; reason: string };

async function runnerFor(flags: LocalRunFlags, output: CliOutput): Promise<JobRunner> {
  const { childProcessRunner, inProcessRunner } = await import('../local/job-runner');
  if (!flags.inProcess) {
    const env: Record<string, string> = {};
    if (flags.workers !== undefined) env[DECODE_WORKERS_ENV] = String(flags.workers);
    // Jobs side by side share the cores: each job's default replicas count only its share.
    if (flags.parallel > 1) env[JOB_CORES_ENV] = String(jobCoresShare(flags.parallel));
    return childProcessRunner({ write: (line) => output.err(line), env });
  }
  const { runAnyJob } = await import('../trainer');
  const { jobSpecFromEnv } = await import('../contracts/job');
  return inProcessRunner(async (env) => {
    await runAnyJob(jobSpecFromEnv(env), { cacheDir: flags.cacheDir, workers: flags.workers, log: (line) => output.err(line) });
  });
}

/** Only this run's rows: the summary also holds every earlier run of the manifest. */
export function rowsOfRun(summary: Summary, runId: string): Summary {
  return { ...summary, rows: summary.rows.filter((row) => row.runId === runId) };
}

function printJson(output: CliOutput, document: LocalRunJson): void {
  output.out(JSON.stringify(document, null, 2));
}

/**
 * Runs `check`; when it refuses the manifest and --json is on, prints the rejected document
 * first, so a script gets one whichever check refused it (the local one, before anything is
 * staged, has no rejection file), then rethrows for the problems on stderr and exit 2.
 */
async function rejectedAsJson<T>(flags: LocalRunFlags, output: CliOutput, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    const { ManifestValidationError } = await import('../manifest');
    if (flags.json && error instanceof ManifestValidationError) printJson(output, { outcome: 'rejected', problems: [...error.problems] });
    throw error;
  }
}

/** The finished run; a refusal or a run never submitted is printed under --json and thrown (exit 2 or 1). */
async function finishedOrThrow(result: LocalPipelineResult, manifestUri: string, flags: LocalRunFlags, output: CliOutput): Promise<Extract<LocalPipelineResult, { outcome: 'finished' }>> {
  if (result.outcome === 'finished') return result;
  if (result.outcome === 'rejected') {
    if (flags.json) printJson(output, { outcome: 'rejected', rejectionUri: result.rejectionUri, problems: result.problems });
    const { ManifestValidationError } = await import('../manifest');
    throw new ManifestValidationError(result.problems, manifestUri);
  }
  if (flags.json) printJson(output, { outcome: 'not-submitted', reason: result.reason });
  throw new CliRunFailedError(result.reason);
}

/** Runs the manifest locally; prints the table and the report's path; throws when a job failed or the manifest was refused. */
export async function runManifestLocally(manifestUri: string, flags: LocalRunFlags, output: CliOutput): Promise<void> {
  const { jobKind } = await import('../trainer');
  if ((await rejectedAsJson(flags, output, () => jobKind(manifestUri))) === 'predict') return runPredictManifestLocally(manifestUri, flags, output);
  const { loadManifest } = await import('../manifest');
  // Validating the user's own file first gives problems with its line numbers; the pipeline validates its copy again.
  const { manifest } = await rejectedAsJson(flags, output, () => loadManifest(manifestUri, { checkStorage: true }));
  if (flags.settings) {
    // The layer joins every sweep entry: a combination it makes invalid is the flags' problem, named here.
    const { runsWithLayer, allRuns } = await import('./settings-layer');
    runsWithLayer(manifest, flags.settings, allRuns(manifest));
  }
  const { runLocalPipeline } = await import('../local/pipeline');
  const { consoleLog } = await import('../local/console-log');
  const outcome = await runLocalPipeline({
    manifestUri,
    bucketsRoot: flags.buckets,
    runner: await runnerFor(flags, output),
    concurrency: flags.parallel,
    log: consoleLog((line) => output.err(line)),
    ...(flags.settings ? { settings: flags.settings } : {}),
  });
  const result = await finishedOrThrow(outcome, manifestUri, flags, output);
  const { buildReportModel, methodsTable } = await import('../report');
  const { loadRunMetrics } = await import('../pipeline');
  const { silentLog } = await import('../pipeline');
  const { storeFor } = await import('../storage');
  const { localBuckets } = await import('../local/buckets');
  const resultsRoot = localBuckets(flags.buckets).results;
  const summary = rowsOfRun(result.summary, result.runId);
  if (flags.json) {
    printJson(output, {
      outcome: 'finished',
      runId: result.runId,
      manifestName: result.manifestName,
      summaryUri: result.summaryUri,
      report: { html: result.reportHtmlUri, markdown: result.reportMarkdownUri, csv: result.resultsCsvUri },
      rows: [...summary.rows].sort((a, b) => a.sweepIndex - b.sweepIndex),
    });
  } else {
    const metrics = await loadRunMetrics(await storeFor(resultsRoot), resultsRoot, summary, silentLog);
    output.out(`\nRun ${result.runId} of "${result.manifestName}": top-1 accuracy (%)\n`);
    output.out(methodsTable(buildReportModel({ summary, metrics })));
    output.out(`\nreport:  ${result.reportHtmlUri}`);
    output.out(`summary: ${result.summaryUri}`);
  }
  const failed = summary.rows.filter((row) => row.status !== 'SUCCEEDED');
  if (failed.length > 0) {
    throw new CliRunFailedError(`${failed.length} of ${summary.rows.length} run(s) failed: ${failed.map((r) => `#${r.sweepIndex} ${r.method}: ${r.reason ?? r.status}`).join('; ')}`);
  }
}

/** An inference manifest through the local pipeline: validated, sliced, labelled, joined and reported as on AWS. */
async function runPredictManifestLocally(manifestUri: string, flags: LocalRunFlags, output: CliOutput): Promise<void> {
  const { readManifestBytes, validateUpload, ManifestValidationError } = await import('../manifest');
  const { storeFor, joinUri } = await import('../storage');
  const { resultsKeys, runPredictionFiles } = await import('../contracts/layout');
  if (flags.settings) throw new CliInputError('settings flags (--epochs, --set, --config ...) apply to training manifests; an inference manifest has topK, tte and sliceSize fields');
  // The user's own file first, for problems with its line numbers.
  await rejectedAsJson(flags, output, async () => {
    const checked = await validateUpload(await readManifestBytes(await storeFor(manifestUri), manifestUri), { manifestUri, checkStorage: true });
    if (!checked.result.ok) throw new ManifestValidationError(checked.result.problems, manifestUri);
  });
  const { runLocalPipeline } = await import('../local/pipeline');
  const { consoleLog } = await import('../local/console-log');
  const { localBuckets } = await import('../local/buckets');
  const outcome = await runLocalPipeline({ manifestUri, bucketsRoot: flags.buckets, runner: await runnerFor(flags, output), concurrency: flags.parallel, log: consoleLog((line) => output.err(line)) });
  const result = await finishedOrThrow(outcome, manifestUri, flags, output);
  const rows = result.summary.rows.filter((row) => row.runId === result.runId).sort((a, b) => a.sweepIndex - b.sweepIndex);
  const files = runPredictionFiles(joinUri(localBuckets(flags.buckets).results, resultsKeys.run(result.runId)));
  const images = rows.reduce((sum, row) => sum + (row.predictions?.images ?? 0), 0);
  const skipped = rows.reduce((sum, row) => sum + (row.predictions?.skipped ?? 0), 0);
  if (flags.json) {
    output.out(JSON.stringify({ outcome: 'finished', kind: 'predict', runId: result.runId, manifestName: result.manifestName, images, skipped, predictions: files, report: { html: result.reportHtmlUri, markdown: result.reportMarkdownUri, csv: result.resultsCsvUri }, rows }, null, 2));
  } else {
    output.out(`\nInference run ${result.runId} of "${result.manifestName}": ${images} images labelled in ${rows.length} slice(s), ${skipped} skipped`);
    output.out(`predictions: ${files.jsonl}`);
    output.out(`             ${files.csv}`);
    output.out(`report:      ${result.reportHtmlUri}`);
  }
  const failed = rows.filter((row) => row.status !== 'SUCCEEDED');
  if (failed.length > 0) throw new CliRunFailedError(`${failed.length} of ${rows.length} slice(s) failed: ${failed.map((r) => `#${r.sweepIndex}: ${r.reason ?? r.status}`).join('; ')}`);
}
