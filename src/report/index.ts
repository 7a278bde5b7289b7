/**
 * Report renderers shared by the aggregation step (Lambda and local pipeline) and the CLI.
 * Input: a manifest's Summary and the MetricsDocuments of its succeeded runs.
 * `renderReportHtml` is async (charts render through vega); the others are synchronous.
 */
export { renderReportMarkdown, methodsTable } from './markdown';
export { renderReportHtml } from './html';
export { renderResultsCsv, RESULTS_CSV_COLUMNS } from './csv';
export { buildReportModel, formatOverrides, type ReportInput, type ReportModel, type ReportRun } from './model';
export { isPredictionSummary, renderPredictionCsv, renderPredictionHtml, renderPredictionMarkdown, type PredictionReportInput } from './predictions';
