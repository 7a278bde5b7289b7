/**
 * The report of an inference run (SPEC section 8): how many images went to each class, set
 * against the adapter's training distribution (a long-tailed model that predicts its head
 * classes far more often than the training share shows it); the histogram of top-1 scores;
 * the least confident images; the skipped ones. report.html (inline SVG, no scripts),
 * report.md and results.csv, from the summary's rows and each slice's prediction-summary.json.
 */
import type { TopLevelSpec } from 'vega-lite';
import { LEAST_CONFIDENT, SCORE_BINS, trimLeastConfident, type PredictionSummary } from '../contracts/predictions';
import type { Summary, SummaryRow } from '../contracts/summary';
import { PAGE_CONTENT_WIDTH, renderChartSvg } from './charts';
import { escapeHtml } from './html';
import { escapeMarkdownText } from './markdown';

export interface PredictionReportInput {
  summary: Summary;
  /** The prediction summaries of the summary's succeeded slices. */
  slices: PredictionSummary[];
}

/** Whether a summary describes inference runs (every row a slice) rather than training runs. */
export function isPredictionSummary(summary: Summary): boolean {
  return summary.rows.length > 0 && summary.rows.every((row) => row.method === 'predict');
}

interface Merged {
  classNames: string[];
  predicted: number[];
  trainCounts?: number[];
  histogram: number[];
  leastConfident: { key: string; name: string; score: number }[];
  skipped: { key: string; reason: string }[];
  images: number;
  seconds: number;
  backend: string;
  topK: number;
  tte: boolean;
}

/** The newest run's slices folded into one set of counts. */
function merge(input: PredictionReportInput): Merged | undefined {
  const newest = [...input.summary.rows].sort((a, b) => (b.submittedAt ?? '').localeCompare(a.submittedAt ?? ''))[0]?.runId;
  const slices = input.slices.filter((slice) => slice.runId === newest).sort((a, b) => a.slice - b.slice);
  const first = slices[0];
  if (!first) return undefined;
  const predicted = new Array<number>(first.classNames.length).fill(0);
  const histogram = new Array<number>(SCORE_BINS).fill(0);
  const least: Merged['leastConfident'] = [];
  for (const slice of slices) {
    slice.predictedCounts.forEach((count, i) => (predicted[i] = (predicted[i] ?? 0) + count));
    slice.scoreHistogram.forEach((count, i) => (histogram[i] = (histogram[i] ?? 0) + count));
    least.push(...slice.leastConfident);
  }
  const holder = { leastConfident: least };
  trimLeastConfident(holder);
  return {
    classNames: first.classNames,
    predicted,
    ...(first.trainCounts ? { trainCounts: first.trainCounts } : {}),
    histogram,
    leastConfident: holder.leastConfident,
    skipped: slices.flatMap((slice) => slice.skipped),
    images: slices.reduce((sum, slice) => sum + slice.images, 0),
    seconds: slices.reduce((sum, slice) => sum + slice.seconds, 0),
    backend: first.backend,
    topK: first.topK,
    tte: first.tte,
  };
}

const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}` : '–');

/** Rows of the class table, most predicted first. */
function classRows(merged: Merged): { name: string; predicted: number; share: string; trainShare: string }[] {
  const trainTotal = merged.trainCounts?.reduce((a, b) => a + b, 0) ?? 0;
  return merged.classNames
    .map((name, i) => ({ name, predicted: merged.predicted[i] ?? 0, share: percent(merged.predicted[i] ?? 0, merged.images), trainShare: merged.trainCounts ? percent(merged.trainCounts[i] ?? 0, trainTotal) : '–' }))
    .sort((a, b) => b.predicted - a.predicted || a.name.localeCompare(b.name));
}

function sharesChartSpec(merged: Merged): TopLevelSpec {
  const trainTotal = merged.trainCounts?.reduce((a, b) => a + b, 0) ?? 0;
  const values = merged.classNames.flatMap((name, i) => [
    { name, series: 'predicted', share: merged.images > 0 ? (100 * (merged.predicted[i] ?? 0)) / merged.images : 0 },
    ...(merged.trainCounts ? [{ name, series: 'training', share: trainTotal > 0 ? (100 * (merged.trainCounts[i] ?? 0)) / trainTotal : 0 }] : []),
  ]);
  const shown = merged.classNames.length > 60 ? [...merged.classNames].sort((a, b) => (merged.predicted[merged.classNames.indexOf(b)] ?? 0) - (merged.predicted[merged.classNames.indexOf(a)] ?? 0)).slice(0, 60) : merged.classNames;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Share of images by predicted class', subtitle: merged.trainCounts ? 'beside the adapter’s share of training images' : 'the adapter’s training distribution is unknown' + (shown.length < merged.classNames.length ? `; the ${shown.length} most predicted classes` : '') },
    width: PAGE_CONTENT_WIDTH - 160,
    height: 240,
    data: { values: values.filter((v) => shown.includes(v.name)) },
    mark: 'bar',
    encoding: {
      x: { field: 'name', type: 'nominal', sort: shown, title: null, axis: { labelAngle: -45, labelLimit: 120 } },
      xOffset: { field: 'series' },
      y: { field: 'share', type: 'quantitative', title: '% of images' },
      color: { field: 'series', type: 'nominal', scale: { domain: ['predicted', 'training'], range: ['#33508a', '#b8c2d6'] }, title: null },
    },
  };
}

function histogramSpec(merged: Merged): TopLevelSpec {
  const values = merged.histogram.map((count, i) => ({ from: i / SCORE_BINS, to: (i + 1) / SCORE_BINS, count }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Top-1 score', subtitle: 'images by the probability of their predicted class' },
    width: PAGE_CONTENT_WIDTH - 160,
    height: 180,
    data: { values },
    mark: { type: 'bar', color: '#33508a' },
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true, step: 1 / SCORE_BINS }, title: 'top-1 probability', scale: { domain: [0, 1] } },
      x2: { field: 'to' },
      y: { field: 'count', type: 'quantitative', title: 'images' },
    },
  };
}

function sliceLine(row: SummaryRow): string {
  const counts = row.predictions ? `${row.predictions.images} images${row.predictions.skipped > 0 ? `, ${row.predictions.skipped} skipped` : ''}` : row.reason ?? '';
  return `#${row.sweepIndex} (${String(row.overrides.images ?? '')}): ${row.status}${counts ? `, ${counts}` : ''}`;
}

/** Bin `i` of the top-1 histogram: [i/SCORE_BINS, (i+1)/SCORE_BINS), the last closed (a score of 1 falls in it, as accumulate counts it). */
function scoreBinLabel(i: number): string {
  const edge = (k: number): string => (k / SCORE_BINS).toFixed(2);
  return `[${edge(i)}, ${edge(i + 1)}${i === SCORE_BINS - 1 ? ']' : ')'}`;
}

export function renderPredictionMarkdown(input: PredictionReportInput): string {
  const merged = merge(input);
  const name = escapeMarkdownText(input.summary.manifestName);
  const lines = [`# Inference report: ${name}`, '', `Updated ${input.summary.updatedAt}.`, ''];
  lines.push('## Slices', '', ...input.summary.rows.map((row) => `- ${escapeMarkdownText(sliceLine(row))}`), '');
  if (!merged) return `${[...lines, 'No slice has finished yet.'].join('\n')}\n`;
  lines.push(`${merged.images.toLocaleString('en-US')} images labelled (top ${merged.topK}${merged.tte ? ', five-crop TTE' : ''}) on ${merged.backend}, ${merged.skipped.length} skipped.`, '');
  lines.push('## Predicted classes', '', '| Class | Images | % of images | % of training images |', '|---|---:|---:|---:|');
  for (const row of classRows(merged).slice(0, 100)) lines.push(`| ${escapeMarkdownText(row.name).replace(/\|/g, '\\|')} | ${row.predicted} | ${row.share} | ${row.trainShare} |`);
  // report.html's histogram as a table: every bin, so two reports line up row by row.
  lines.push('', '## Top-1 score', '', 'Images by the probability of their predicted class.', '', '| Score | Images |', '|---|---:|');
  merged.histogram.forEach((count, i) => lines.push(`| ${scoreBinLabel(i)} | ${count} |`));
  lines.push('', `## The ${LEAST_CONFIDENT} least confident images`, '', '| Image | Predicted | Score |', '|---|---|---:|');
  for (const item of merged.leastConfident) lines.push(`| ${escapeMarkdownText(item.key).replace(/\|/g, '\\|')} | ${escapeMarkdownText(item.name)} | ${item.score.toFixed(3)} |`);
  if (merged.skipped.length > 0) {
    lines.push('', '## Skipped images', '', ...merged.skipped.slice(0, 100).map((item) => `- ${escapeMarkdownText(item.key)}: ${escapeMarkdownText(item.reason)}`));
  }
  return `${lines.join('\n')}\n`;
}

export async function renderPredictionHtml(input: PredictionReportInput): Promise<string> {
  const merged = merge(input);
  const title = `Inference report: ${escapeHtml(input.summary.manifestName)}`;
  const slices = `<h2>Slices</h2><ul>${input.summary.rows.map((row) => `<li>${escapeHtml(sliceLine(row))}</li>`).join('')}</ul>`;
  let body = `<p>No slice has finished yet.</p>`;
  if (merged) {
    const [shares, histogram] = await Promise.all([renderChartSvg(sharesChartSpec(merged)), renderChartSvg(histogramSpec(merged))]);
    const classTable = classRows(merged)
      .slice(0, 200)
      .map((row) => `<tr><td>${escapeHtml(row.name)}</td><td class="num">${row.predicted}</td><td class="num">${row.share}</td><td class="num">${row.trainShare}</td></tr>`)
      .join('');
    const least = merged.leastConfident.map((item) => `<tr><td>${escapeHtml(item.key)}</td><td>${escapeHtml(item.name)}</td><td class="num">${item.score.toFixed(3)}</td></tr>`).join('');
    const skipped = merged.skipped.length > 0 ? `<h2>Skipped images</h2><ul>${merged.skipped.slice(0, 100).map((item) => `<li>${escapeHtml(item.key)}: ${escapeHtml(item.reason)}</li>`).join('')}</ul>` : '';
    body = `<p class="meta">${merged.images.toLocaleString('en-US')} images labelled (top ${merged.topK}${merged.tte ? ', five-crop TTE' : ''}) on ${escapeHtml(merged.backend)} at ${merged.seconds > 0 ? (merged.images / merged.seconds).toFixed(1) : '–'} images/s, ${merged.skipped.length} skipped.</p>
<figure class="chart" data-chart="predicted-shares">${shares}</figure>
<figure class="chart" data-chart="score-histogram">${histogram}</figure>
<h2>Predicted classes</h2><table><thead><tr><th>Class</th><th class="num">Images</th><th class="num">% of images</th><th class="num">% of training images</th></tr></thead><tbody>${classTable}</tbody></table>
<h2>The ${LEAST_CONFIDENT} least confident images</h2><table><thead><tr><th>Image</th><th>Predicted</th><th class="num">Score</th></tr></thead><tbody>${least}</tbody></table>${skipped}`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body { font: 15px/1.45 system-ui, sans-serif; color: #1d2329; margin: 0; background: #f6f7f9; } main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid #e3e6ea; } table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eef0f3; text-align: left; } .num { text-align: right; } p.meta { color: #5b6670; } figure { margin: 16px 0; }</style></head>
<body><main><h1>${title}</h1><p class="meta">Updated ${escapeHtml(input.summary.updatedAt)}</p>
${slices}
${body}
</main></body></html>
`;
}

/** results.csv of an inference manifest: one row per slice. */
export function renderPredictionCsv(input: PredictionReportInput): string {
  const field = (value: string | number | undefined): string => {
    const text = value === undefined ? '' : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [['runId', 'slice', 'images_range', 'status', 'images', 'skipped', 'jobId', 'reason'].join(',')];
  for (const row of input.summary.rows) {
    lines.push([row.runId, row.sweepIndex, String(row.overrides.images ?? ''), row.status, row.predictions?.images, row.predictions?.skipped, row.jobId, row.reason].map(field).join(','));
  }
  return `${lines.join('\n')}\n`;
}
