/** `sage report`: the HTML, markdown and CSV report from a summary or from metrics files. */
import type { Command } from 'commander';
import type { Accuracies, ParameterReport } from '../../contracts/metrics';
import type { RunStatus } from '../../contracts/summary';
import type { ReportModel, ReportRun } from '../../report';
import { locationOption, parseLocation } from '../options';
import type { CliOutput } from '../output';

interface ReportFlags {
  out: string;
  name?: string;
  json?: boolean;
}

/**
 * One row of the methods table as data. The summary row's own fields keep their names and
 * forms (`sage run --json`'s rows, summary.json: fractions in [0, 1], absent when the run has
 * none); the rest is what the table adds from the report model.
 */
export interface ReportJsonRow {
  /** The table's Method column: the method, told apart where it repeats; in a reproduction, the paper's row label. */
  label: string;
  runId: string;
  sweepIndex: number;
  method: string;
  status: RunStatus;
  reason?: string;
  /** From the run's metrics.json when it has one, else the summary row's (top5 only when recorded). */
  accuracy?: Accuracies;
  parameters?: ParameterReport;
  /** The Params (M) column: adapters only, / 2^20 with the SG-Adapter, / 10^6 otherwise. */
  paperParameters?: ReportRun['paperParameters'];
  /** The Settings column (`key=value, ...`; empty when nothing differs). */
  settings: string;
  overrides: Record<string, unknown>;
  /** Set when the run's loss diverged (metrics.json `diverged`). */
  diverged?: ReportRun['diverged'];
  /** A reproduction's paper figures for the row, when the paper has them. */
  paper?: ReportRun['paper'];
}

/** What `sage report --json` prints on stdout. */
export interface ReportJson {
  report: { html: string; markdown: string; csv: string };
  /** The methods table's rows, in its order. */
  rows: ReportJsonRow[];
}

export function reportRows(model: ReportModel): ReportJsonRow[] {
  return model.runs.map((run) => ({
    label: run.label,
    runId: run.row.runId,
    sweepIndex: run.row.sweepIndex,
    method: run.row.method,
    status: run.row.status,
    ...(run.row.reason !== undefined ? { reason: run.row.reason } : {}),
    ...(run.accuracy ? { accuracy: run.accuracy } : {}),
    ...(run.parameters ? { parameters: run.parameters } : {}),
    ...(run.paperParameters ? { paperParameters: run.paperParameters } : {}),
    settings: run.settings,
    overrides: run.row.overrides,
    ...(run.diverged ? { diverged: run.diverged } : {}),
    ...(run.paper ? { paper: run.paper } : {}),
  }));
}

export function registerReport(program: Command, output: CliOutput): void {
  program
    .command('report')
    .description('render report.html (charts), report.md and results.csv from a summary.json or metrics.json files, and print the table')
    .argument('<inputs...>', 'a summaries/<name>/summary.json of a results bucket, metrics.json files, or folders holding them (paths or s3:// URIs)')
    .addOption(locationOption('-o, --out <dir>', 'folder (or s3:// prefix) for the report files', 'out/report'))
    .option('--name <name>', 'title of a report built from metrics files (default: the dataset name)')
    .option('--json', 'print {report: {html, markdown, csv}, rows} (the table as data) as JSON on stdout instead of the table')
    .action(async (inputs: string[], flags: ReportFlags) => {
      const { loadReportInput } = await import('../report-input');
      const { renderReportHtml, renderReportMarkdown, renderResultsCsv, methodsTable, buildReportModel } = await import('../../report');
      const { joinUri, storeFor } = await import('../../storage');
      const { SUMMARY_FILES } = await import('../../contracts/layout');
      const input = await loadReportInput(inputs.map(parseLocation), flags.name);
      const store = await storeFor(flags.out);
      // The same file names as a results bucket's summaries/<name>/ (layout.ts).
      const files = { html: joinUri(flags.out, SUMMARY_FILES.html), markdown: joinUri(flags.out, SUMMARY_FILES.markdown), csv: joinUri(flags.out, SUMMARY_FILES.csv) };
      await store.put(files.html, await renderReportHtml(input), { contentType: 'text/html; charset=utf-8' });
      await store.put(files.markdown, renderReportMarkdown(input), { contentType: 'text/markdown; charset=utf-8' });
      await store.put(files.csv, renderResultsCsv(input), { contentType: 'text/csv; charset=utf-8' });
      const model = buildReportModel(input);
      if (flags.json) {
        const document: ReportJson = { report: files, rows: reportRows(model) };
        output.out(JSON.stringify(document, null, 2));
        return;
      }
      output.out(methodsTable(model));
      output.out(`\nreport: ${files.html}`);
    });
}
