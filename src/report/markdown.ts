/** The report as markdown (`report.md`): the paper-style table, failures, and the per-class table. */
import { formatCount, formatMillions, formatPercent } from './format';
import { buildReportModel, runsWithMetrics, type ReportInput, type ReportModel } from './model';

/** Past this many classes the markdown lists only the first ones; the HTML report and metrics.json have all. */
export const MARKDOWN_CLASS_LIMIT = 200;

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  const rule = `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function methodsTable(model: ReportModel): string {
  const rows = model.runs.map((run) => [
    run.label,
    run.row.status,
    formatPercent(run.accuracy?.all),
    formatPercent(run.accuracy?.head),
    formatPercent(run.accuracy?.medium),
    formatPercent(run.accuracy?.tail),
    formatMillions(run.parameters?.total),
    run.settings || '–',
  ]);
  return table(['Method', 'Status', 'All', 'Head', 'Medium', 'Tail', 'Params (M)', 'Settings'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'l']);
}

function failures(model: ReportModel): string[] {
  return model.runs.filter((r) => r.row.status === 'FAILED').map((r) => `- **${r.label}** (${r.key}): ${r.row.reason ?? 'no reason recorded'}`);
}

function perClassTable(model: ReportModel): string[] {
  const runs = runsWithMetrics(model);
  if (runs.length === 0 || model.classes.length === 0) return [];
  const shown = model.classes.slice(0, MARKDOWN_CLASS_LIMIT);
  const rows = shown.map((c) => [String(c.index), c.name, formatCount(c.trainCount), c.group, ...runs.map((r) => formatPercent(c.accuracy.get(r.key)))]);
  const out = ['## Per-class accuracy (%)', '', table(['#', 'Class', 'Train images', 'Group', ...runs.map((r) => r.label)], rows, ['r', 'l', 'r', 'l', ...runs.map(() => 'r' as const)])];
  if (model.classes.length > shown.length) out.push('', `(${shown.length} of ${model.classes.length} classes shown; the HTML report and each run's metrics.json have all.)`);
  return out;
}

export function renderReportMarkdown(input: ReportInput): string {
  const model = buildReportModel(input);
  const failed = failures(model);
  const lines = [
    `# Sage report: ${model.manifestName}`,
    '',
    `Updated ${model.updatedAt}. Top-1 accuracy (%) over all test images and per-class means over head (> 100 training images), medium (20-100) and tail (< 20) classes.`,
    '',
    methodsTable(model),
    '',
    ...(failed.length > 0 ? ['## Failed runs', '', ...failed, ''] : []),
    ...perClassTable(model),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}
