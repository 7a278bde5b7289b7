/** The report as markdown (`report.md`): the paper-style table, failures, and the per-class table. */
import { PAPER_METRICS, type PaperMetric } from '../repro/paper';
import { formatCount, formatMillions, formatPaperDelta, formatPaperParameters, formatPaperValue, formatPercent, statusLabel } from './format';
import { buildReportModel, runsWithMetrics, type ReportInput, type ReportModel, type ReportRun } from './model';
import { FACTS_NOTE, parametersFootnote, RUN_FACT_COLUMNS, runFactCells, runFactsRuns } from './notes';
import { reproCaption } from './repro';

/** Past this many classes the markdown lists only the first ones; the HTML report and metrics.json have all. */
export const MARKDOWN_CLASS_LIMIT = 200;

/**
 * Markdown renders raw HTML, so a class or run name such as `<img onerror=...>` must reach
 * report.md as text: `&`, `<` and `>` become entities, as report.html escapes them.
 */
export function escapeMarkdownText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeCell(text: string): string {
  return escapeMarkdownText(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  const rule = `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const METRIC_HEADER: Record<PaperMetric, string> = { all: 'All', head: 'Head', medium: 'Medium', tail: 'Tail' };

function hasTop5(model: ReportModel): boolean {
  return model.runs.some((r) => r.accuracy?.top5 !== undefined);
}

/** Params (M) as the paper counts them, and every trainable parameter beside it. */
function parameterCells(run: ReportRun): string[] {
  return [formatPaperParameters(run.paperParameters), formatMillions(run.parameters?.total)];
}

/** A reproduction's table: each of our figures followed by the paper's and, unless a toy, the difference. */
function reproTable(model: ReportModel): string {
  const repro = model.repro!;
  const withDelta = !repro.toy;
  const header = ['Paper row', 'Status'];
  const align: ('l' | 'r')[] = ['l', 'l'];
  for (const metric of PAPER_METRICS) {
    const compared = repro.metrics.includes(metric);
    header.push(METRIC_HEADER[metric], ...(compared ? ['paper', ...(withDelta ? ['Δ'] : [])] : []));
    align.push('r', ...(compared ? ['r' as const, ...(withDelta ? ['r' as const] : [])] : []));
  }
  const top5 = hasTop5(model);
  if (top5) {
    header.push('Top-5');
    align.push('r');
  }
  header.push('Params (M)', 'Trainable (M)', 'Settings');
  align.push('r', 'r', 'l');
  const cells = (run: ReportRun): string[] => {
    const out = [run.label, statusLabel(run)];
    for (const metric of PAPER_METRICS) {
      const ours = run.accuracy?.[metric];
      out.push(formatPercent(ours));
      if (!repro.metrics.includes(metric)) continue;
      out.push(formatPaperValue(run.paper?.[metric]));
      if (withDelta) out.push(formatPaperDelta(ours, run.paper?.[metric]));
    }
    if (top5) out.push(formatPercent(run.accuracy?.top5));
    out.push(...parameterCells(run), run.settings || '–');
    return out;
  };
  return table(header, model.runs.map(cells), align);
}

/** The results table; for a reproduction, led by what it reproduces and with the paper's figures beside ours. */
export function methodsTable(model: ReportModel): string {
  if (model.repro) return [...reproCaption(model.repro), '', reproTable(model)].join('\n');
  const top5 = hasTop5(model);
  const rows = model.runs.map((run) => [
    run.label,
    statusLabel(run),
    formatPercent(run.accuracy?.all),
    formatPercent(run.accuracy?.head),
    formatPercent(run.accuracy?.medium),
    formatPercent(run.accuracy?.tail),
    ...(top5 ? [formatPercent(run.accuracy?.top5)] : []),
    ...parameterCells(run),
    run.settings || '–',
  ]);
  const header = ['Method', 'Status', 'All', 'Head', 'Medium', 'Tail', ...(top5 ? ['Top-5'] : []), 'Params (M)', 'Trainable (M)', 'Settings'];
  return table(header, rows, ['l', 'l', 'r', 'r', 'r', 'r', ...(top5 ? ['r' as const] : []), 'r', 'r', 'l']);
}

function runFacts(model: ReportModel): string[] {
  const runs = runFactsRuns(model);
  if (runs.length === 0) return [];
  const rows = runs.map((run) => [run.label, ...runFactCells(run)]);
  const header = ['Method', ...RUN_FACT_COLUMNS.map((c) => c.label)];
  return ['## Runs', '', table(header, rows, ['l', ...RUN_FACT_COLUMNS.map((c) => c.align)]), '', escapeMarkdownText(FACTS_NOTE), ''];
}

function worstClasses(model: ReportModel): string[] {
  const runs = model.runs.filter((r) => r.worstClasses.length > 0);
  if (runs.length === 0) return [];
  const lines = runs.map((run) => `- **${escapeMarkdownText(run.label)}**: ${run.worstClasses.map((c) => `${escapeMarkdownText(c.name)} ${formatPercent(c.accuracy)} (${c.group}, ${formatCount(c.trainCount)})`).join('; ')}`);
  return ['## Ten worst classes', '', 'Per method, the classes with the lowest test accuracy (%), with their group and training images.', '', ...lines, ''];
}

function confusedPairs(model: ReportModel): string[] {
  const runs = model.runs.filter((r) => r.confusedPairs.length > 0);
  if (runs.length === 0) return [];
  const lines = runs.map(
    (run) => `- **${escapeMarkdownText(run.label)}**: ${run.confusedPairs.map((p) => `${escapeMarkdownText(p.labelName)} → ${escapeMarkdownText(p.predictedName)} ${p.count} (${formatPercent(p.share)} %)`).join('; ')}`,
  );
  const matrices = model.confusionMatrices ? ' The HTML report draws each run\'s confusion matrix.' : '';
  return ['## Most confused classes', '', `Per method, the most frequent mistakes: true class → predicted class, test images (share of the true class's test images).${matrices}`, '', ...lines, ''];
}

function failures(model: ReportModel): string[] {
  return model.runs
    .filter((r) => r.row.status === 'FAILED')
    .map((r) => `- **${escapeMarkdownText(r.label)}** (${escapeMarkdownText(r.key)}): ${escapeMarkdownText(r.row.reason ?? 'no reason recorded').replace(/\r?\n/g, ' ')}`);
}

/** Runs whose loss grew by an order of magnitude: their accuracy is not to be trusted as a result of the method. */
export function divergenceLines(model: ReportModel): string[] {
  return model.runs
    .filter((r) => r.diverged)
    .map((r) => {
      const d = r.diverged!;
      return `${r.label} (${r.key}): the smoothed training loss reached ${d.loss.toPrecision(4)} at epoch ${d.epoch}, step ${d.step}, more than ${d.factor}× the first step's ${d.reference.toPrecision(4)}; lower the learning rate or check the data`;
    });
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
    `# Sage report: ${escapeMarkdownText(model.manifestName)}`,
    '',
    `Updated ${model.updatedAt}. Top-1 accuracy (%) over all test images and per-class means over head (> 100 training images), medium (20-100) and tail (< 20) classes.`,
    '',
    methodsTable(model),
    '',
    ...(parametersFootnote(model) ? [escapeMarkdownText(parametersFootnote(model)!), ''] : []),
    ...(model.repro ? ['## Notes on the reproduction', '', ...model.repro.notes.map((note) => `- ${escapeMarkdownText(note)}`), ''] : []),
    ...(failed.length > 0 ? ['## Failed runs', '', ...failed, ''] : []),
    ...(divergenceLines(model).length > 0 ? ['## Diverged runs', '', ...divergenceLines(model).map((line) => `- ${escapeMarkdownText(line)}`), ''] : []),
    ...runFacts(model),
    ...worstClasses(model),
    ...confusedPairs(model),
    ...perClassTable(model),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}
