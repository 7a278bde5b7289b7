/**
 * The aggregation step: a run (or sweep child) changed state, so record it in its summary
 * row (and, at the end, in its status.json), then re-render the manifest's report. It is the
 * only writer of summaries and statuses: rows appear with the job's SUBMITTED event, follow
 * RUNNABLE and RUNNING (with the trainer's last checkpointed epoch and step, so a job between
 * attempts shows where it stands), and end SUCCEEDED (with its metrics) or FAILED (with why).
 *
 * Array jobs are aggregated per child, from each child's own events (job id `<parent>:<index>`);
 * the parent's SUBMITTED makes a row for every child, its SUCCEEDED is redundant and ignored,
 * and its FAILED only fills rows of children that never reported (cancelled before starting).
 * The same event twice leaves the same summary; an older event never overwrites a newer one.
 */
import { RunRecord, RunStatusDocument } from '../contracts/documents';
import { resultsKeys, runChildFiles, summaryFiles } from '../contracts/layout';
import { MetricsDocument } from '../contracts/metrics';
import { PredictionSummary } from '../contracts/predictions';
import { TrainingProgress } from '../contracts/progress';
import { rowStatusOf, type RowProgress, type SummaryRow } from '../contracts/summary';
import { joinUri } from '../storage';
import type { PipelineContext } from './context';
import { readDocument, toJson } from './documents';
import type { JobStateChange } from './events';
import { writeReports, type ReportFiles } from './report-writer';
import { joinPredictions } from './predictions';
import { childJobId } from './run-planner';
import { upsertSummaryRows, type RowSource } from './summary-store';

export type ProcessJobStateChangeDeps = PipelineContext;

export type JobStateChangeOutcome =
  | { outcome: 'recorded'; runId: string; rows: SummaryRow[]; summaryUri: string; summaryWritten: boolean; reports: ReportFiles | null }
  | { outcome: 'ignored'; reason: string };

/** One instance type's figures in a run record's stored estimate. */
type StoredInstanceEstimate = NonNullable<RunRecord['estimate']>['entries'][number]['byInstance'][number];

interface ChildResult {
  row: SummaryRow;
  status?: RunStatusDocument;
}

function baseRow(change: JobStateChange, record: RunRecord, sweepIndex: number, jobId: string): Omit<SummaryRow, 'status'> {
  const entry = record.entries.find((candidate) => candidate.sweepIndex === sweepIndex);
  const estimated = record.estimate?.entries.find((candidate) => candidate.sweepIndex === sweepIndex)?.byInstance.reduce<StoredInstanceEstimate | undefined>((a, b) => (a === undefined || b.hours > a.hours ? b : a), undefined);
  return {
    ...(estimated ? { estimate: { instanceType: estimated.instanceType, gpu: estimated.gpu, hours: estimated.hours, onDemandUsd: estimated.onDemandUsd, spotUsd: estimated.spotUsd } } : {}),
    runId: record.runId,
    sweepIndex,
    method: entry?.method ?? 'unknown',
    overrides: entry?.overrides ?? {},
    jobId,
    submittedAt: record.submittedAt,
    statusAt: change.at ?? change.finishedAt,
  };
}

/** The metrics document's key relative to the results root, or its whole URI when it lies elsewhere. */
function keyUnder(root: string, uri: string): string {
  const prefix = `${root.replace(/\/+$/, '')}/`;
  return uri.startsWith(prefix) ? uri.slice(prefix.length) : uri;
}

/** The trainer's last checkpointed position of a child, when it has written one. */
async function progressOf(record: RunRecord, sweepIndex: number, deps: ProcessJobStateChangeDeps): Promise<RowProgress | undefined> {
  try {
    const progress = (await readDocument(deps.resultsStore, runChildFiles(record.resultsUri, sweepIndex).progress, TrainingProgress))?.value;
    return progress ? { epoch: progress.epoch, epochs: progress.epochs, step: progress.step, stepsPerEpoch: progress.stepsPerEpoch, updatedAt: progress.updatedAt } : undefined;
  } catch (error) {
    deps.log.warn('a progress.json is unreadable; the row shows no progress', { runId: record.runId, sweepIndex, error });
    return undefined;
  }
}

/** The row of a single job or array child that ended: from its metrics (SUCCEEDED) or its reason (FAILED). */
async function finishedChild(change: JobStateChange, record: RunRecord, sweepIndex: number, deps: ProcessJobStateChangeDeps): Promise<ChildResult> {
  const base = { ...baseRow(change, record, sweepIndex, change.jobId), finishedAt: change.finishedAt };
  let row: SummaryRow;
  if (change.status === 'SUCCEEDED' && record.kind === 'predict') {
    row = await finishedSlice(base, record, sweepIndex, deps);
  } else if (change.status === 'SUCCEEDED') {
    // The same derivation the trainer wrote it with (runChildFiles), from the record's results URI.
    const metricsUri = runChildFiles(record.resultsUri, sweepIndex).metrics;
    let problem: string | undefined;
    let metrics: MetricsDocument | undefined;
    try {
      metrics = (await readDocument(deps.resultsStore, metricsUri, MetricsDocument))?.value;
      if (!metrics) problem = `the job succeeded but wrote no metrics at ${metricsUri}`;
    } catch (error) {
      problem = `the job succeeded but its metrics are unreadable: ${error instanceof Error ? error.message : String(error)}`;
    }
    row = metrics
      ? { ...base, status: 'SUCCEEDED', method: metrics.method, metricsKey: keyUnder(deps.locations.results, metricsUri), accuracy: metrics.accuracy, parameters: metrics.parameters }
      : { ...base, status: 'FAILED', reason: problem };
  } else {
    row = { ...base, status: 'FAILED', reason: change.reason ?? 'the job failed and Batch gave no reason' };
  }
  const status: RunStatusDocument = {
    version: 1,
    runId: record.runId,
    sweepIndex,
    status: row.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
    jobId: change.jobId,
    ...(row.reason ? { reason: row.reason } : {}),
    finishedAt: change.finishedAt,
  };
  return { row, status };
}

/** An inference slice that ended: its summary document says how many images it labelled. */
async function finishedSlice(base: Omit<SummaryRow, 'status'>, record: RunRecord, sweepIndex: number, deps: ProcessJobStateChangeDeps): Promise<SummaryRow> {
  const summaryUri = runChildFiles(record.resultsUri, sweepIndex).predictionSummary;
  try {
    const summary = (await readDocument(deps.resultsStore, summaryUri, PredictionSummary))?.value;
    if (!summary) return { ...base, status: 'FAILED', reason: `the job succeeded but wrote no prediction summary at ${summaryUri}` };
    return { ...base, status: 'SUCCEEDED', predictions: { images: summary.images, skipped: summary.skipped.length, summaryKey: keyUnder(deps.locations.results, summaryUri) } };
  } catch (error) {
    return { ...base, status: 'FAILED', reason: `the job succeeded but its prediction summary is unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Rows for the children of a failed array job that have not reported themselves. */
async function unreportedChildren(change: JobStateChange, record: RunRecord, deps: ProcessJobStateChangeDeps): Promise<SummaryRow[]> {
  const rows: SummaryRow[] = [];
  for (const entry of record.entries) {
    if (await deps.resultsStore.exists(runChildFiles(record.resultsUri, entry.sweepIndex).status)) continue;
    rows.push({
      ...baseRow(change, record, entry.sweepIndex, childJobId(change.jobId, record.arraySize, entry.sweepIndex)),
      status: 'FAILED',
      reason: `the array job failed before this child reported: ${change.reason ?? 'no reason given'}`,
      finishedAt: change.finishedAt,
    });
  }
  return rows;
}

/** The rows an event makes, and what they may replace. */
async function rowsFor(change: JobStateChange, record: RunRecord, deps: ProcessJobStateChangeDeps): Promise<{ rows: SummaryRow[]; source: RowSource } | { ignored: string }> {
  const status = rowStatusOf(change.status);
  if (!status) return { ignored: `status ${change.status} is not one the summary shows` };
  const terminal = status === 'SUCCEEDED' || status === 'FAILED';
  if (change.role.kind === 'parent') {
    if (status === 'SUCCEEDED') return { ignored: 'an array job succeeded: its children have reported each result' };
    if (status === 'FAILED') return { rows: await unreportedChildren(change, record, deps), source: 'array-parent' };
    // The parent's own progress says little: it only makes sure every child has a row.
    const rows = record.entries.map((entry) => ({ ...baseRow(change, record, entry.sweepIndex, childJobId(change.jobId, record.arraySize, entry.sweepIndex)), status: 'SUBMITTED' as const }));
    return { rows, source: 'placeholder' };
  }
  const sweepIndex = change.role.sweepIndex;
  if (terminal) {
    const { row, status: document } = await finishedChild(change, record, sweepIndex, deps);
    if (document) await deps.resultsStore.put(runChildFiles(record.resultsUri, sweepIndex).status, toJson(document), { contentType: 'application/json' });
    return { rows: [row], source: 'job' };
  }
  const progress = status === 'SUBMITTED' ? undefined : await progressOf(record, sweepIndex, deps);
  return { rows: [{ ...baseRow(change, record, sweepIndex, change.jobId), status, ...(progress ? { progress } : {}) }], source: 'state' };
}

export async function processJobStateChange(change: JobStateChange, deps: ProcessJobStateChangeDeps): Promise<JobStateChangeOutcome> {
  const { log } = deps;
  if (!change.runId) return { outcome: 'ignored', reason: `job ${change.jobId} has no SAGE_RUN_ID: not a pipeline job` };
  if (!rowStatusOf(change.status)) return { outcome: 'ignored', reason: `status ${change.status} is not one the summary shows` };
  const recordUri = joinUri(deps.locations.results, resultsKeys.runRecord(change.runId));
  const record = (await readDocument(deps.resultsStore, recordUri, RunRecord))?.value;
  if (!record) {
    log.error('a pipeline job changed state but its run record is missing', { recordUri, jobId: change.jobId, status: change.status });
    return { outcome: 'ignored', reason: `no run record at ${recordUri}` };
  }
  const planned = await rowsFor(change, record, deps);
  if ('ignored' in planned) return { outcome: 'ignored', reason: planned.ignored };

  const { summaryUri } = summaryFiles(deps.locations.results, record.manifestName);
  const update = await upsertSummaryRows(deps.resultsStore, summaryUri, record.manifestName, planned.rows, planned.source, { now: () => deps.clock.now() });
  // An inference run whose every slice succeeded gets its predictions joined (again, harmlessly, on a repeated event).
  if (record.kind === 'predict' && (planned.source === 'job' || planned.source === 'array-parent')) {
    const rows = update.summary.rows.filter((row) => row.runId === record.runId);
    if (rows.length === record.arraySize && rows.every((row) => row.status === 'SUCCEEDED')) {
      const joined = await joinPredictions(record, deps.resultsStore);
      log.info('inference run complete: predictions joined', { runId: record.runId, ...joined });
    }
  }
  // Derived files follow the summary. An end is always re-rendered (a retried event may come from
  // an invocation that wrote the summary and died before the report); progress only when it moved.
  const ended = planned.source === 'job' || planned.source === 'array-parent';
  const reports = update.written || ended ? await writeReports(deps.resultsStore, deps.locations.results, record.manifestName, log) : null;
  log.info('run state recorded', {
    runId: record.runId,
    jobId: change.jobId,
    status: change.status,
    rows: planned.rows.map((row) => ({ sweepIndex: row.sweepIndex, status: row.status })),
    summaryWritten: update.written,
  });
  return { outcome: 'recorded', runId: record.runId, rows: planned.rows, summaryUri, summaryWritten: update.written, reports };
}
