/**
 * `results.csv`: one row per run and sweep child, accuracies as fractions in [0, 1] for
 * machines. For a reproduction sweep the last columns hold the paper's row and figures
 * (fractions too); they are empty otherwise, so the header never changes. Columns added later
 * go at the end: top-5 (a fraction) and "Params (M)" as the paper counts it (facts.ts).
 */
import type { PaperValue } from '../repro/paper';
import { buildReportModel, type ReportInput } from './model';

export const RESULTS_CSV_COLUMNS = [
  'runId',
  'sweepIndex',
  'method',
  'status',
  'accuracyAll',
  'accuracyHead',
  'accuracyMedium',
  'accuracyTail',
  'trainableParameters',
  'adapterParameters',
  'settings',
  'jobId',
  'submittedAt',
  'finishedAt',
  'reason',
  'paperTable',
  'paperRow',
  'paperAll',
  'paperHead',
  'paperMedium',
  'paperTail',
  'accuracyTop5',
  'paperParametersM',
] as const;

function paperFraction(value: PaperValue | undefined): number | undefined {
  return typeof value === 'number' ? Math.round(value * 10) / 1000 : undefined;
}

/** RFC 4180: quote a field holding a comma, quote or line break; double the quotes. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderResultsCsv(input: ReportInput): string {
  const model = buildReportModel(input);
  const lines = [RESULTS_CSV_COLUMNS.join(',')];
  const table = model.repro?.table.source;
  model.runs.forEach((run, i) => {
    const { row } = run;
    const paperRow = model.repro?.runs[i]?.label;
    const values: (string | number | null | undefined)[] = [
      row.runId,
      row.sweepIndex,
      row.method,
      row.status,
      run.accuracy?.all,
      run.accuracy?.head,
      run.accuracy?.medium,
      run.accuracy?.tail,
      run.parameters?.total,
      run.parameters?.adapters,
      run.settings,
      row.jobId,
      row.submittedAt,
      row.finishedAt,
      row.reason,
      paperRow ? table : undefined,
      paperRow,
      paperFraction(run.paper?.all),
      paperFraction(run.paper?.head),
      paperFraction(run.paper?.medium),
      paperFraction(run.paper?.tail),
      run.accuracy?.top5,
      run.paperParameters ? Number(run.paperParameters.millions.toPrecision(6)) : undefined,
    ];
    lines.push(values.map(csvField).join(','));
  });
  return `${lines.join('\n')}\n`;
}
