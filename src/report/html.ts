/**
 * The report as one self-contained HTML page (`report.html`): inline CSS and inline SVG charts,
 * no scripts and no external requests, so it opens from a bucket, a mail attachment or disk.
 */
import type { TopLevelSpec } from 'vega-lite';
import { groupBarsChartSpec, perClassChartSpec, renderChartSvg, trainingCurvesChartSpec } from './charts';
import { formatCount, formatMillions, formatPercent } from './format';
import { buildReportModel, runsWithMetrics, type ReportInput, type ReportModel } from './model';

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
.status { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #e7f4ea; color: #1e6b34; }
.status.FAILED { background: #fbe9e7; color: #a1261b; } .status.RUNNING, .status.SUBMITTED { background: #eef1f8; color: #33508a; }
details summary { cursor: pointer; color: #33508a; margin: 6px 0; }
`;

function statusBadge(status: string): string {
  return `<span class="status ${escapeHtml(status)}">${escapeHtml(status.toLowerCase())}</span>`;
}

function methodsTableHtml(model: ReportModel): string {
  const best = Math.max(...model.runs.map((r) => r.accuracy?.all ?? -1));
  const rows = model.runs.map((run) => {
    const classes = [run.row.status === 'FAILED' ? 'failed' : '', run.accuracy && run.accuracy.all === best ? 'best' : ''].filter(Boolean).join(' ');
    const a = run.accuracy;
    return `<tr${classes ? ` class="${classes}"` : ''}><td>${escapeHtml(run.label)}</td><td>${statusBadge(run.row.status)}</td>
<td class="num all">${formatPercent(a?.all)}</td><td class="num">${formatPercent(a?.head)}</td><td class="num">${formatPercent(a?.medium)}</td><td class="num">${formatPercent(a?.tail)}</td>
<td class="num">${formatMillions(run.parameters?.total)}</td><td class="settings">${escapeHtml(run.settings || '–')}</td></tr>`;
  });
  return `<table id="results-table"><thead><tr><th>Method</th><th>Status</th><th class="num">All</th><th class="num">Head</th><th class="num">Medium</th><th class="num">Tail</th><th class="num">Params (M)</th><th>Settings</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
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

async function figure(name: string, spec: TopLevelSpec | null, caption: string): Promise<string> {
  if (!spec) return '';
  const svg = await renderChartSvg(spec);
  return `<figure class="chart" data-chart="${name}">${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

export async function renderReportHtml(input: ReportInput): Promise<string> {
  const model = buildReportModel(input);
  const charts = [
    await figure('groups', groupBarsChartSpec(model), 'Head: classes with more than 100 training images; medium: 20-100; tail: fewer than 20. "All" is top-1 over every test image.'),
    await figure('per-class', perClassChartSpec(model), 'Each point is one class; the long tail is on the left.'),
    await figure('curves', trainingCurvesChartSpec(model), 'Zero-shot CLIP is not trained and has no curve.'),
  ].filter((c) => c.length > 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sage report: ${escapeHtml(model.manifestName)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Sage report: ${escapeHtml(model.manifestName)}</h1>
<p class="meta">Updated ${escapeHtml(model.updatedAt)} · ${model.runs.length} run(s) · top-1 accuracy (%) over all test images, and mean per-class accuracy over head / medium / tail classes.</p>
<h2>Results</h2>
${methodsTableHtml(model)}
${failuresHtml(model)}
${charts.length > 0 ? `<h2>Charts</h2><div class="charts">${charts.join('\n')}</div>` : ''}
${perClassTableHtml(model)}
</main></body></html>
`;
}
