/**
 * The report as one self-contained HTML page (`report.html`): inline CSS and inline SVG charts,
 * no scripts and no external requests, so it opens from a bucket, a mail attachment or disk.
 */
import type { TopLevelSpec } from 'vega-lite';
import { confusionMatrixChartSpec, groupBarsChartSpec, perClassChartSpec, renderChartSvg, trainingCurvesChartSpec } from './charts';
import { PAPER_METRICS, type PaperMetric } from '../repro/paper';
import { formatCount, formatMillions, formatPaperDelta, formatPaperParameters, formatPaperValue, formatPercent, statusLabel } from './format';
import { divergenceLines } from './markdown';
import { buildReportModel, runsWithMetrics, type ReportInput, type ReportModel, type ReportRun } from './model';
import { curvesCaption, FACTS_NOTE, groupsCaption, parametersFootnote, perClassCaption, RUN_FACT_COLUMNS, runFactCells, runFactsRuns } from './notes';
import { reproCaption } from './repro';

/** Above this many classes the per-class table starts folded. */
const FOLD_CLASSES_ABOVE = 60;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2329; margin: 0; background: #f6f7f9; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid #e3e6ea; padding-bottom: 4px; }
p.meta { color: #5b6670; margin: 0 0 16px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num, th.num { text-align: right; }
td.settings { color: #5b6670; font-size: 13px; max-width: 280px; }
tr.failed td { color: #a1261b; }
tr.best td.all { font-weight: 700; }
figure { margin: 18px 0; } figcaption { color: #5b6670; font-size: 13px; margin-top: 4px; }
.charts svg { max-width: 100%; height: auto; }
.matrices { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.matrices figure { margin: 6px 0; }
p.footnote { color: #5b6670; font-size: 13px; margin: 6px 0 0; max-width: 900px; }
table.facts, table.worst, table.pairs { font-size: 13px; } table.facts td, table.facts th { padding: 4px 7px; } table.facts td.num { white-space: nowrap; }
table.facts td.kept { min-width: 130px; }
table.worst td, table.pairs td { padding: 3px 8px; } table.worst td.acc, table.pairs td.acc { color: #5b6670; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.scroll { overflow-x: auto; max-width: 100%; }
.status { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #e7f4ea; color: #1e6b34; }
.status.FAILED { background: #fbe9e7; color: #a1261b; } .status.RUNNING, .status.SUBMITTED { background: #eef1f8; color: #33508a; }
details summary { cursor: pointer; color: #33508a; margin: 6px 0; }
table.repro-table { font-size: 13px; } table.repro-table th, table.repro-table td { padding: 4px 6px; }
table.repro-table td.label { min-width: 110px; max-width: 180px; } table.repro-table td.settings { max-width: 150px; font-size: 12px; }
th.group { text-align: center; border-left: 1px solid #d5dae0; } td.first, th.first { border-left: 1px solid #d5dae0; }
td.paper { color: #5b6670; } td.delta.up { color: #1e6b34; } td.delta.down { color: #a1261b; }
.repro { background: #f4f6fb; border-left: 4px solid #33508a; padding: 8px 12px; margin: 0 0 14px; }
.repro.toy { border-left-color: #b26b00; background: #fdf6ea; }
.repro p { margin: 4px 0; } .toy-label { font-weight: 700; color: #b26b00; text-transform: uppercase; font-size: 12px; letter-spacing: 0.04em; }
ul.notes { color: #3b4650; font-size: 14px; }
.group-tag { color: #5b6670; font-size: 12px; }
`;

function statusBadge(run: ReportRun): string {
  const status = run.row.status;
  const label = statusLabel(run);
  return `<span class="status ${escapeHtml(status)}${run.diverged ? ' diverged' : ''}">${escapeHtml(label.toLowerCase())}</span>`;
}

/** The run's label with its chart colour beside it. */
function runName(run: ReportRun): string {
  return `<span class="swatch" style="background:${run.colour}"></span>${escapeHtml(run.label)}`;
}

function hasTop5(model: ReportModel): boolean {
  return model.runs.some((r) => r.accuracy?.top5 !== undefined);
}

function parameterCells(run: ReportRun): string {
  return `<td class="num params">${formatPaperParameters(run.paperParameters)}</td><td class="num trainable">${formatMillions(run.parameters?.total)}</td>`;
}

function footnoteHtml(model: ReportModel): string {
  const note = parametersFootnote(model);
  return note ? `<p class="footnote" id="params-note">${escapeHtml(note)}</p>` : '';
}

function methodsTableHtml(model: ReportModel): string {
  const best = Math.max(...model.runs.map((r) => r.accuracy?.all ?? -1));
  const top5 = hasTop5(model);
  const rows = model.runs.map((run) => {
    const classes = [run.row.status === 'FAILED' ? 'failed' : '', run.accuracy && run.accuracy.all === best ? 'best' : ''].filter(Boolean).join(' ');
    const a = run.accuracy;
    return `<tr${classes ? ` class="${classes}"` : ''}><td>${runName(run)}</td><td>${statusBadge(run)}</td>
<td class="num all">${formatPercent(a?.all)}</td><td class="num">${formatPercent(a?.head)}</td><td class="num">${formatPercent(a?.medium)}</td><td class="num">${formatPercent(a?.tail)}</td>${top5 ? `<td class="num top5">${formatPercent(a?.top5)}</td>` : ''}
${parameterCells(run)}<td class="settings">${escapeHtml(run.settings || '–')}</td></tr>`;
  });
  return `<table id="results-table"><thead><tr><th>Method</th><th>Status</th><th class="num">All</th><th class="num">Head</th><th class="num">Medium</th><th class="num">Tail</th>${top5 ? '<th class="num">Top-5</th>' : ''}<th class="num">Params (M)</th><th class="num">Trainable (M)</th><th>Settings</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

const METRIC_HEADER: Record<PaperMetric, string> = { all: 'All', head: 'Head', medium: 'Medium', tail: 'Tail' };

function deltaClass(delta: string): string {
  return delta.startsWith('+') ? ' up' : delta.startsWith('-') ? ' down' : '';
}

/** A reproduction's table: per metric our figure, the paper's, and (unless a toy) the difference, under one group header. */
function reproTableHtml(model: ReportModel): string {
  const repro = model.repro!;
  const withDelta = !repro.toy;
  const span = (metric: PaperMetric): number => (repro.metrics.includes(metric) ? (withDelta ? 3 : 2) : 1);
  const top = PAPER_METRICS.map((m) => `<th class="group num" colspan="${span(m)}">${METRIC_HEADER[m]}</th>`).join('');
  const sub = PAPER_METRICS.map((m) => {
    if (!repro.metrics.includes(m)) return '<th class="num first">ours</th>';
    return `<th class="num first">ours</th><th class="num">paper</th>${withDelta ? '<th class="num">Δ</th>' : ''}`;
  }).join('');
  const best = Math.max(...model.runs.map((r) => r.accuracy?.all ?? -1));
  const top5 = hasTop5(model);
  const rows = model.runs.map((run) => {
    const classes = [run.row.status === 'FAILED' ? 'failed' : '', run.accuracy && run.accuracy.all === best ? 'best' : ''].filter(Boolean).join(' ');
    const cells = PAPER_METRICS.map((m) => {
      const ours = run.accuracy?.[m];
      const own = `<td class="num first${m === 'all' ? ' all' : ''}">${formatPercent(ours)}</td>`;
      if (!repro.metrics.includes(m)) return own;
      const paper = `<td class="num paper">${formatPaperValue(run.paper?.[m])}</td>`;
      const delta = formatPaperDelta(ours, run.paper?.[m]);
      return `${own}${paper}${withDelta ? `<td class="num delta${deltaClass(delta)}">${delta}</td>` : ''}`;
    }).join('');
    return `<tr${classes ? ` class="${classes}"` : ''}><td class="label">${runName(run)}</td><td>${statusBadge(run)}</td>${cells}${top5 ? `<td class="num first top5">${formatPercent(run.accuracy?.top5)}</td>` : ''}
${parameterCells(run)}<td class="settings">${escapeHtml(run.settings || '–')}</td></tr>`;
  });
  return `<table id="results-table" class="repro-table"><thead><tr><th rowspan="2">Paper row</th><th rowspan="2">Status</th>${top}${top5 ? '<th class="num group" rowspan="2">Top-5</th>' : ''}<th class="num" rowspan="2">Params (M)</th><th class="num" rowspan="2">Trainable (M)</th><th rowspan="2">Settings</th></tr>
<tr>${sub}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

/** What the reproduction is, the toy label, the set-up differences: above the table. */
function reproCaptionHtml(model: ReportModel): string {
  if (!model.repro) return '';
  const lines = reproCaption(model.repro).map((line) => (line.startsWith('toy: ') ? `<p><span class="toy-label">toy</span> ${escapeHtml(line.slice(5))}</p>` : `<p>${escapeHtml(line)}</p>`));
  return `<div class="repro${model.repro.toy ? ' toy' : ''}" id="repro">${lines.join('')}</div>`;
}

function reproNotesHtml(model: ReportModel): string {
  if (!model.repro || model.repro.notes.length === 0) return '';
  return `<h2>Notes on the reproduction</h2><ul class="notes">${model.repro.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`;
}

function divergedHtml(model: ReportModel): string {
  const lines = divergenceLines(model);
  return lines.length > 0 ? `<h2>Diverged runs</h2><ul>${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>` : '';
}

function failuresHtml(model: ReportModel): string {
  const failed = model.runs.filter((r) => r.row.status === 'FAILED');
  if (failed.length === 0) return '';
  const items = failed.map((r) => `<li><strong>${escapeHtml(r.label)}</strong> (${escapeHtml(r.key)}): ${escapeHtml(r.row.reason ?? 'no reason recorded')}</li>`);
  return `<h2>Failed runs</h2><ul>${items.join('')}</ul>`;
}

function perClassTableHtml(model: ReportModel): string {
  const runs = runsWithMetrics(model);
  if (runs.length === 0 || model.classes.length === 0) return '';
  const head = `<tr><th class="num">#</th><th>Class</th><th class="num">Train images</th><th>Group</th>${runs.map((r) => `<th class="num">${escapeHtml(r.label)}</th>`).join('')}</tr>`;
  const rows = model.classes.map(
    (c) =>
      `<tr><td class="num">${c.index}</td><td>${escapeHtml(c.name)}</td><td class="num">${formatCount(c.trainCount)}</td><td>${c.group}</td>${runs
        .map((r) => `<td class="num">${formatPercent(c.accuracy.get(r.key))}</td>`)
        .join('')}</tr>`,
  );
  const table = `<table id="per-class-table"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table>`;
  const body = model.classes.length > FOLD_CLASSES_ABOVE ? `<details><summary>Show all ${model.classes.length} classes</summary>${table}</details>` : table;
  return `<h2>Per-class accuracy (%)</h2>${body}`;
}

/** Per run: epochs, learning rate, batch, time, throughput, backend, GPU-hours and the weights kept. */
function runFactsHtml(model: ReportModel): string {
  const runs = runFactsRuns(model);
  if (runs.length === 0) return '';
  // The weights column keeps its own class (it wraps); the other right-aligned columns are numbers.
  const cellClass = RUN_FACT_COLUMNS.map((c) => (c.label === 'Weights' ? ' class="kept"' : c.align === 'r' ? ' class="num"' : ''));
  const rows = runs.map((run) => `<tr><td>${runName(run)}</td>${runFactCells(run).map((cell, i) => `<td${cellClass[i]}>${escapeHtml(cell)}</td>`).join('')}</tr>`);
  const head = `<tr><th>Method</th>${RUN_FACT_COLUMNS.map((c) => `<th${c.align === 'r' ? ' class="num"' : ''}>${escapeHtml(c.label)}</th>`).join('')}</tr>`;
  return `<h2>Runs</h2><div class="scroll"><table id="run-facts" class="facts"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table></div><p class="footnote">${escapeHtml(FACTS_NOTE)}</p>`;
}

/** Each run's ten lowest per-class accuracies, side by side. */
function worstClassesHtml(model: ReportModel): string {
  const runs = model.runs.filter((r) => r.worstClasses.length > 0);
  if (runs.length === 0) return '';
  const depth = Math.max(...runs.map((r) => r.worstClasses.length));
  const rows = Array.from({ length: depth }, (_, i) => {
    const cells = runs.map((run) => {
      const c = run.worstClasses[i];
      return c ? `<td>${escapeHtml(c.name)} <span class="group-tag">(${c.group}, ${formatCount(c.trainCount)})</span></td><td class="num acc">${formatPercent(c.accuracy)}</td>` : '<td></td><td></td>';
    });
    return `<tr><td class="num">${i + 1}</td>${cells.join('')}</tr>`;
  });
  const head = `<tr><th class="num">#</th>${runs.map((r) => `<th colspan="2">${runName(r)}</th>`).join('')}</tr>`;
  return `<h2>Ten worst classes</h2><p class="footnote">Per method, the classes with the lowest test accuracy (%), with their group and training images.</p><div class="scroll"><table id="worst-classes" class="worst"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table></div>`;
}

/** Each run's most confused pairs; with at most 100 classes, its confusion matrix too. */
async function confusionHtml(model: ReportModel): Promise<string> {
  const runs = model.runs.filter((r) => r.confusedPairs.length > 0 || r.metrics?.confusion?.matrix);
  if (runs.length === 0) return '';
  const depth = Math.max(...runs.map((r) => r.confusedPairs.length));
  const rows = Array.from({ length: depth }, (_, i) => {
    const cells = runs.map((run) => {
      const p = run.confusedPairs[i];
      return p ? `<td>${escapeHtml(p.labelName)} → ${escapeHtml(p.predictedName)}</td><td class="num acc">${p.count} (${formatPercent(p.share)} %)</td>` : '<td></td><td></td>';
    });
    return `<tr><td class="num">${i + 1}</td>${cells.join('')}</tr>`;
  });
  const head = `<tr><th class="num">#</th>${runs.map((r) => `<th colspan="2">${runName(r)}</th>`).join('')}</tr>`;
  const pairs =
    depth > 0
      ? `<p class="footnote">Per method, the most frequent mistakes: true class → predicted class, test images (share of the true class's test images).</p><div class="scroll"><table id="confused-pairs" class="pairs"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table></div>`
      : '';
  const matrices = model.confusionMatrices
    ? (await Promise.all(runs.map(async (run) => {
        const spec = confusionMatrixChartSpec(run);
        return spec ? `<figure class="chart" data-chart="confusion" data-run="${escapeHtml(run.key)}">${await renderChartSvg(spec)}</figure>` : '';
      }))).join('')
    : '';
  const matrixBlock = matrices
    ? `<div class="matrices charts">${matrices}</div><p class="footnote">Confusion matrices: each row is a true class, each cell the share of its test images predicted as the column's class (colour on a square-root scale, so small mistakes show); the diagonal is the class's accuracy.</p>`
    : '';
  return `<h2>Most confused classes</h2>${pairs}${matrixBlock}`;
}

async function figure(name: string, spec: TopLevelSpec | null, caption: string): Promise<string> {
  if (!spec) return '';
  const svg = await renderChartSvg(spec);
  return `<figure class="chart" data-chart="${name}">${svg}${caption ? `<figcaption>${escapeHtml(caption)}</figcaption>` : ''}</figure>`;
}

export async function renderReportHtml(input: ReportInput): Promise<string> {
  const model = buildReportModel(input);
  const charts = [
    await figure('groups', groupBarsChartSpec(model), groupsCaption(model)),
    await figure('per-class', perClassChartSpec(model), perClassCaption(model)),
    await figure('curves', trainingCurvesChartSpec(model), curvesCaption(model)),
  ].filter((c) => c.length > 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sage report: ${escapeHtml(model.manifestName)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Sage report: ${escapeHtml(model.manifestName)}</h1>
<p class="meta">Updated ${escapeHtml(model.updatedAt)} · ${model.runs.length} run(s) · top-1 accuracy (%) over all test images, and mean per-class accuracy over head / medium / tail classes.</p>
<h2>Results</h2>
${reproCaptionHtml(model)}
${model.repro ? reproTableHtml(model) : methodsTableHtml(model)}
${footnoteHtml(model)}
${reproNotesHtml(model)}
${failuresHtml(model)}
${divergedHtml(model)}
${runFactsHtml(model)}
${charts.length > 0 ? `<h2>Charts</h2><div class="charts">${charts.join('\n')}</div>` : ''}
${worstClassesHtml(model)}
${await confusionHtml(model)}
${perClassTableHtml(model)}
</main></body></html>
`;
}
