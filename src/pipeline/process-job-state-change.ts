/**
 * The aggregation step: a run (or sweep child) ended, so record how in its status.json and
 * its summary row, then re-render the manifest's report. Array jobs are aggregated per
 * child, from each child's own event (job id `<parent>:<index>`); the parent's SUCCEEDED is
 * redundant and ignored, and its FAILED only fills rows of children that never reported
 * (for example cancelled before starting). The same event twice leaves the same summary.
 */
import { MetricsDocument } from '../contracts/metrics';
import { resultsKeys } from '../contracts/layout';
import type { SummaryRow } from '../contracts/summary';
import { joinUri } from '../storage';
import type { PipelineContext } from './context';
import { RunRecord, RunStatusDocument, readDocument, toJson } from './documents';
import type { JobStateChange } from './events';
import { writeReports, type ReportFiles } from './report-writer';
import { upsertSummaryRows, type RowSource } from './summary-store';

export type ProcessJobStateChangeDeps = PipelineContext;

export type JobStateChangeOutcome =
  | { outcome: 'recorded'; runId: string; rows: SummaryRow[]; summaryUri: string; summaryWritten: boolean; reports: ReportFiles | null }
  | { outcome: 'ignored'; reason: string };

const TERMINAL = new Set(['SUCCEEDED', 'FAILED']);

interface ChildResult {
  row: SummaryRow;
  status?: RunStatusDocument;
}

/** The row of a single job or array child, from its metrics (SUCCEEDED) or its reason (FAILED). */
async function childResult(change: JobStateChange, record: RunRecord, sweepIndex: number, deps: ProcessJobStateChangeDeps): Promise<ChildResult> {
  const entry = record.entries.find((candidate) => candidate.sweepIndex === sweepIndex);
  const base = {
    runId: record.runId,
    sweepIndex,
    method: entry?.method ?? 'unknown',
    overrides: entry?.overrides ?? {},
    jobId: change.jobId,
    submittedAt: record.submittedAt,
    finishedAt: change.finishedAt,
  };
  let row: SummaryRow;
  if (change.status === 'SUCCEEDED') {
    const metricsKey = resultsKeys.metrics(record.runId, sweepIndex);
    const metricsUri = joinUri(deps.locations.results, metricsKey);
    let problem: string | undefined;
    let metrics: MetricsDocument | undefined;
    try {
      metrics = (await readDocument(deps.resultsStore, metricsUri, MetricsDocument))?.value;
      if (!metrics) problem = `the job succeeded but wrote no metrics at ${metricsUri}`;
    } catch (error) {
      problem = `the job succeeded but its metrics are unreadable: ${error instanceof Error ? error.message : String(error)}`;
    }
    row = metrics
      ? { ...base, status: 'SUCCEEDED', method: metrics.method, metricsKey, accuracy: metrics.accuracy, parameters: metrics.parameters }
      : { ...base, status: 'FAILED', reason: problem };
  } else {
    row = { ...base, status: 'FAILED', reason: change.reason ?? 'the job failed and Batch gave no reason' };
  }
  const status: RunStatusDocument = {
    runId: record.runId,
    sweepIndex,
    status: row.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
    jobId: change.jobId,
    ...(row.reason ? { reason: row.reason } : {}),
    finishedAt: change.finishedAt,
  };
  return { row, status };
}

/** Rows for the children of a failed array job that have not reported themselves. */
async function unreportedChildren(change: JobStateChange, record: RunRecord, deps: ProcessJobStateChangeDeps): Promise<SummaryRow[]> {
  const rows: SummaryRow[] = [];
  for (const entry of record.entries) {
    const statusUri = joinUri(deps.locations.results, resultsKeys.status(record.runId, entry.sweepIndex));
    if (await deps.resultsStore.exists(statusUri)) continue;
    rows.push({
      runId: record.runId,
      sweepIndex: entry.sweepIndex,
      status: 'FAILED',
      method: entry.method,
      overrides: entry.overrides,
      jobId: `${change.jobId}:${entry.sweepIndex}`,
      reason: `the array job failed before this child reported: ${change.reason ?? 'no reason given'}`,
      submittedAt: record.submittedAt,
      finishedAt: change.finishedAt,
    });
  }
  return rows;
}

export async function processJobStateChange(change: JobStateChange, deps: ProcessJobStateChangeDeps): Promise<JobStateChangeOutcome> {
  const { log } = deps;
  if (!TERMINAL.has(change.status)) return { outcome: 'ignored', reason: `status ${change.status} is not terminal` };
  if (!change.runId) return { outcome: 'ignored', reason: `job ${change.jobId} has no SAGE_RUN_ID: not a pipeline job` };
  if (change.role.kind === 'parent' && change.status === 'SUCCEEDED') {
    return { outcome: 'ignored', reason: 'an array job succeeded: its children have reported each result' };
  }
  const recordUri = joinUri(deps.locations.results, resultsKeys.runRecord(change.runId));
  const record = (await readDocument(deps.resultsStore, recordUri, RunRecord))?.value;
  if (!record) {
    log.error('a pipeline job ended but its run record is missing', { recordUri, jobId: change.jobId });
    return { outcome: 'ignored', reason: `no run record at ${recordUri}` };
  }

  let rows: SummaryRow[];
  let source: RowSource;
  if (change.role.kind === 'parent') {
    rows = await unreportedChildren(change, record, deps);
    source = 'array-parent';
  } else {
    const { row, status } = await childResult(change, record, change.role.sweepIndex, deps);
    if (status) {
      const statusUri = joinUri(deps.locations.results, resultsKeys.status(record.runId, status.sweepIndex));
      await deps.resultsStore.put(statusUri, toJson(status), { contentType: 'application/json' });
    }
    rows = [row];
    source = 'job';
  }

  const summaryUri = joinUri(deps.locations.results, resultsKeys.summaryPrefix(record.manifestName), 'summary.json');
  const update = await upsertSummaryRows(deps.resultsStore, summaryUri, record.manifestName, rows, source, { now: () => deps.clock.now() });
  const reports = await writeReports(deps.resultsStore, deps.locations.results, record.manifestName, log);
  log.info('run recorded', {
    runId: record.runId,
    jobId: change.jobId,
    status: change.status,
    rows: rows.map((row) => ({ sweepIndex: row.sweepIndex, status: row.status })),
    summaryWritten: update.written,
  });
  return { outcome: 'recorded', runId: record.runId, rows, summaryUri, summaryWritten: update.written, reports };
}
