/** `results.csv`: one row per run and sweep child, accuracies as fractions in [0, 1] for machines. */
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
] as const;

/** RFC 4180: quote a field holding a comma, quote or line break; double the quotes. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderResultsCsv(input: ReportInput): string {
  const model = buildReportModel(input);
  const lines = [RESULTS_CSV_COLUMNS.join(',')];
  for (const run of model.runs) {
    const { row } = run;
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
    ];
    lines.push(values.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
