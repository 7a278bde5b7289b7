/**
 * Renders a manifest's results.csv, report.md and report.html from its summary and the
 * metrics of its finished runs (renderers in src/report). The files are derived data:
 * each update re-renders them from the newest summary, so the last writer always wins
 * with the newest content.
 */
import { MetricsDocument } from '../contracts/metrics';
import { summaryFiles } from '../contracts/layout';
import type { Summary } from '../contracts/summary';
import { PredictionSummary } from '../contracts/predictions';
import { isPredictionSummary, renderPredictionCsv, renderPredictionHtml, renderPredictionMarkdown, renderReportHtml, renderReportMarkdown, renderResultsCsv } from '../report';
import { joinUri, type ObjectStore } from '../storage';
import { readDocument } from './documents';
import type { PipelineLog } from './log';
import { readSummary } from './summary-store';

export interface ReportFiles {
  csvUri: string;
  markdownUri: string;
  htmlUri: string;
}

/** The summary and report files of a manifest (layout.ts summaryFiles). */
export function reportUris(resultsRoot: string, manifestName: string): ReportFiles & { summaryUri: string } {
  return summaryFiles(resultsRoot, manifestName);
}

/** The metrics documents of the summary's succeeded rows; an unreadable one is logged and left out. */
export async function loadRunMetrics(store: ObjectStore, resultsRoot: string, summary: Summary, log: PipelineLog): Promise<MetricsDocument[]> {
  const documents: MetricsDocument[] = [];
  for (const row of summary.rows) {
    if (row.status !== 'SUCCEEDED' || !row.metricsKey) continue;
    const uri = joinUri(resultsRoot, row.metricsKey);
    try {
      const stored = await readDocument(store, uri, MetricsDocument);
      if (stored) documents.push(stored.value);
      else log.warn('a succeeded run has no metrics.json', { uri });
    } catch (error) {
      log.warn('a succeeded run has an unreadable metrics.json', { uri, error });
    }
  }
  return documents;
}

/** The prediction summaries of an inference summary's succeeded slices; an unreadable one is logged and left out. */
export async function loadPredictionSummaries(store: ObjectStore, resultsRoot: string, summary: Summary, log: PipelineLog): Promise<PredictionSummary[]> {
  const documents: PredictionSummary[] = [];
  for (const row of summary.rows) {
    if (row.status !== 'SUCCEEDED' || !row.predictions) continue;
    const uri = joinUri(resultsRoot, row.predictions.summaryKey);
    try {
      const stored = await readDocument(store, uri, PredictionSummary);
      if (stored) documents.push(stored.value);
    } catch (error) {
      log.warn('a succeeded slice has an unreadable prediction summary', { uri, error });
    }
  }
  return documents;
}

/**
 * Writes the three report files for the manifest's current summary. If the summary changes
 * while rendering (another run landed), renders again from the new one, a few times at most.
 */
export async function writeReports(store: ObjectStore, resultsRoot: string, manifestName: string, log: PipelineLog): Promise<ReportFiles | null> {
  const uris = reportUris(resultsRoot, manifestName);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const before = await store.head(uris.summaryUri);
    const summary = await readSummary(store, uris.summaryUri);
    if (!before || !summary) return null;
    let csv: string;
    let markdown: string;
    let html: string;
    if (isPredictionSummary(summary)) {
      const input = { summary, slices: await loadPredictionSummaries(store, resultsRoot, summary, log) };
      [csv, markdown, html] = [renderPredictionCsv(input), renderPredictionMarkdown(input), await renderPredictionHtml(input)];
    } else {
      const input = { summary, metrics: await loadRunMetrics(store, resultsRoot, summary, log) };
      [csv, markdown, html] = [renderResultsCsv(input), renderReportMarkdown(input), await renderReportHtml(input)];
    }
    const after = await store.head(uris.summaryUri);
    if (after?.etag !== before.etag) continue;
    await store.put(uris.csvUri, csv, { contentType: 'text/csv; charset=utf-8' });
    await store.put(uris.markdownUri, markdown, { contentType: 'text/markdown; charset=utf-8' });
    await store.put(uris.htmlUri, html, { contentType: 'text/html; charset=utf-8' });
    return uris;
  }
  log.warn('the summary kept changing while rendering; the writer of the newest summary renders the report', { manifestName });
  return null;
}
