/**
 * What the report says beyond the accuracies: a fixed colour per method, the paper's
 * parameter count, captions that apply, run facts, the worst classes, the most confused
 * pairs and the confusion matrices, each checked against figures computed here.
 */
import { describe, expect, it } from 'vitest';
import { buildReportModel, renderReportHtml, renderReportMarkdown, renderResultsCsv, RESULTS_CSV_COLUMNS } from '../../src/report';
import { logTicks, perClassChartSpec } from '../../src/report/charts';
import { METHOD_COLOURS, mixColour, runColours } from '../../src/report/colours';
import { formatPaperParameters } from '../../src/report/format';
import { richSampleInput, sampleReportInput } from './sample-report';

function markdownTable(markdown: string, firstHeader: string): { header: string[]; rows: string[][] } {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  const cells = (line: string): string[] => line.slice(2, -2).split(' | ');
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(cells(lines[i]!));
  return { header: cells(lines[start]!), rows };
}

describe('colours', () => {
  it('gives each method the same colour whatever the row order', async () => {
    const input = await richSampleInput({ classes: 10 });
    const reversed = { ...input, summary: { ...input.summary, rows: [...input.summary.rows].reverse() } };
    const colourOf = (model: ReturnType<typeof buildReportModel>): Record<string, string> => Object.fromEntries(model.runs.map((r) => [r.label, r.colour]));
    expect(colourOf(buildReportModel(input))).toEqual({ 'zero-shot': METHOD_COLOURS['zero-shot'], lift: METHOD_COLOURS.lift, sage: METHOD_COLOURS.sage });
    expect(colourOf(buildReportModel(reversed))).toEqual(colourOf(buildReportModel(input)));
    // The chart's colour scale maps each label to its run's colour.
    const scale = (perClassChartSpec(buildReportModel(reversed)) as { layer: { encoding?: { color?: { scale?: { domain: string[]; range: string[] } } } }[] }).layer[0]!.encoding!.color!.scale!;
    expect(Object.fromEntries(scale.domain.map((label, i) => [label, scale.range[i]]))).toEqual(colourOf(buildReportModel(input)));
  });

  it('shades a repeated method: the base colour first, then darker, then lighter', () => {
    expect(runColours(['sage', 'lift', 'sage', 'sage'])).toEqual([METHOD_COLOURS.sage, METHOD_COLOURS.lift, mixColour(METHOD_COLOURS.sage!, -0.35), mixColour(METHOD_COLOURS.sage!, 0.4)]);
    // #4c78a8 35 % towards black: each channel × 0.65.
    expect(mixColour('#4c78a8', -0.35)).toBe(`#${[0x4c, 0x78, 0xa8].map((c) => Math.round(c * 0.65).toString(16).padStart(2, '0')).join('')}`);
    expect(runColours(['lift+sg+cf'])).toEqual(runColours(['lift+sg+cf']));
  });
});

describe("Params (M) as the paper counts them", () => {
  it('divides the adapters by 2^20 with the SG-Adapter and by 10^6 without, beside every trainable parameter / 10^6', async () => {
    const input = await richSampleInput({ classes: 10 });
    const { header, rows } = markdownTable(renderReportMarkdown(input), 'Method');
    const params = header.indexOf('Params (M)');
    expect(header[params + 1]).toBe('Trainable (M)');
    // ViT-B/16, C = 100: LIFT 101,436 adapters (+ 76,800 classifier), Sage 7,299,240 (+ 76,800 + 2).
    expect(rows.map((r) => [r[0], r[params], r[params + 1]])).toEqual([
      ['zero-shot', '0', '0'],
      ['lift', (101_436 / 1e6).toFixed(2), (178_236 / 1e6).toFixed(2)],
      ['sage', (7_299_240 / 2 ** 20).toFixed(2), (7_376_042 / 1e6).toFixed(2)],
    ]);
    expect(rows[1]![params]).toBe('0.10');
    expect(rows[2]![params]).toBe('6.96');
    const markdown = renderReportMarkdown(input);
    expect(markdown).toContain('Params (M) counts the adapters only, as the paper does: rows with the SG-Adapter divide by 2^20');
    expect(markdown).toContain('the others by 10^6');
    const csv = renderResultsCsv(input).trimEnd().split('\n').map((l) => l.split(','));
    expect(Number(csv[3]![RESULTS_CSV_COLUMNS.indexOf('paperParametersM')])).toBeCloseTo(7_299_240 / 2 ** 20, 5);
  });

  it('names only the divisor the table uses, and prints small counts with two significant digits', () => {
    const input = sampleReportInput();
    input.summary.rows = input.summary.rows.filter((r) => r.method !== 'sage');
    input.metrics = input.metrics.filter((m) => m.method !== 'sage');
    const markdown = renderReportMarkdown(input);
    expect(markdown).not.toContain('2^20');
    expect(markdown).toContain('the others by 10^6');
    expect(formatPaperParameters({ millions: 12_345 / 1e6, divisor: '10^6' })).toBe('0.012');
  });
});

describe('captions only where they apply', () => {
  it('says zero-shot has no curve only when a zero-shot run is shown, and explains test accuracy only when recorded', async () => {
    const withZeroShot = await renderReportHtml(await richSampleInput({ classes: 10, evaluated: 'test' }));
    expect(withZeroShot).toContain('Zero-shot CLIP is not trained and has no curve.');
    expect(withZeroShot).toContain('Test accuracy: top-1 on the test split after the epochs evaluated during training');
    expect(withZeroShot).toContain('A ring marks the evaluation whose weights a run kept');
    const input = await richSampleInput({ classes: 10 });
    input.summary.rows = input.summary.rows.slice(1);
    input.metrics = input.metrics.slice(1);
    const trainedOnly = await renderReportHtml(input);
    expect(trainedOnly).toContain('data-chart="curves"');
    expect(trainedOnly).not.toContain('Zero-shot CLIP is not trained');
    expect(trainedOnly).not.toContain('Test accuracy: top-1');
    expect(trainedOnly).not.toContain('A ring marks');
    const val = await renderReportHtml(await richSampleInput({ classes: 10, evaluated: 'val' }));
    expect(val).toContain('Val accuracy: top-1 on the manifest&#39;s held-out val split');
  });

  it('says the groups follow groupCounts when they do not follow the training counts', async () => {
    const input = sampleReportInput();
    input.metrics = input.metrics.map((m) => ({ ...m, perClass: m.perClass.map((c, i) => (i === 0 ? { ...c, group: 'medium' as const } : c)) }));
    const html = await renderReportHtml(input);
    expect(html).toContain('follow the manifest&#39;s evaluation.groupCounts');
    expect(html).not.toContain('Head: classes with more than 100 training images');
  });
});

describe('run facts', () => {
  it('lists epochs, learning rate, batch (micro), times, images/s, backend, GPU-hours and the weights kept', async () => {
    const input = await richSampleInput({ classes: 10, evaluated: 'test' });
    input.summary.rows[2]!.estimate = { instanceType: 'g5.xlarge', gpu: 'A10G', hours: 1.25, onDemandUsd: 1.26, spotUsd: 0.5 };
    const { header, rows } = markdownTable(renderReportMarkdown(input).split('## Runs')[1]!, 'Method');
    expect(header).toEqual(['Method', 'Epochs', 'Learning rate', 'Batch (micro)', 'Train time', 'Eval time', 'Images/s', 'Backend', 'GPU-h est.', 'GPU-h actual', 'Weights']);
    // Sage: 310 s of training; its kept epoch-4 test evaluation is reused, so eval time is the five 4-second evaluations.
    const sageBest = input.metrics[2]!.epochs[3]!.evaluation!.accuracy.all;
    expect(rows[2]).toEqual(['sage', '5', '0.01', '128 (32)', '5 min 10 s', '20.0 s', '35.2', 'tensorflow', '1.25 (A10G)', ((310 + 20) / 3600).toFixed(3), `best: epoch 4 of 5 (test all ${(sageBest * 100).toFixed(1)} %)`]);
    expect(rows[1]!.slice(3, 5)).toEqual(['128', '5 min 10 s']);
    expect(rows[1]!.at(-1)).toBe('last');
    // Zero-shot trains nothing: only its evaluation, 12 s.
    expect(rows[0]).toEqual(['zero-shot', '–', '–', '–', '–', '12.0 s', '–', 'tensorflow', '–', (12 / 3600).toPrecision(2), '–']);
  });

  it('counts the final test pass when the evaluations ran on val, and gives no actual GPU-hours off the GPU backend', async () => {
    const val = buildReportModel(await richSampleInput({ classes: 10, evaluated: 'val' }));
    expect(val.runs[2]!.facts.evalSeconds).toBe(20 + 12);
    const cpu = buildReportModel(await richSampleInput({ classes: 10, backend: 'wasm' }));
    expect(cpu.runs.map((r) => r.facts.actualGpuHours)).toEqual([undefined, undefined, undefined]);
  });
});

describe('worst classes and confusions', () => {
  it('lists each run’s ten lowest per-class accuracies, worst first', async () => {
    const input = await richSampleInput({ classes: 120, testPerClass: 10 });
    const model = buildReportModel(input);
    for (const [i, run] of model.runs.entries()) {
      const expected = [...input.metrics[i]!.perClass].sort((a, b) => a.accuracy! - b.accuracy! || a.trainCount - b.trainCount || a.index - b.index).slice(0, 10);
      expect(run.worstClasses.map((c) => c.index)).toEqual(expected.map((c) => c.index));
    }
    const html = await renderReportHtml(input);
    expect(html).toContain('<table id="worst-classes" class="worst">');
  });

  it('lists the top 20 confused pairs without a matrix above 100 classes, and 10 beside a matrix up to 100', async () => {
    const large = await richSampleInput({ classes: 120, testPerClass: 10 });
    const model = buildReportModel(large);
    expect(model.confusionMatrices).toBe(false);
    const sage = model.runs[2]!;
    expect(sage.confusedPairs).toHaveLength(20);
    const top = large.metrics[2]!.confusion!.pairs[0]!;
    expect(sage.confusedPairs[0]).toEqual({ label: top.label, labelName: `class_${String(top.label).padStart(3, '0')}`, predicted: top.predicted, predictedName: `class_${String(top.predicted).padStart(3, '0')}`, count: top.count, share: top.count / 10 });
    const largeHtml = await renderReportHtml(large);
    expect(largeHtml).not.toContain('data-chart="confusion"');
    expect(largeHtml.match(/<tr><td class="num">\d+<\/td><td>class_/g)!.length).toBeGreaterThanOrEqual(20);

    const small = await richSampleInput({ classes: 10 });
    const smallModel = buildReportModel(small);
    expect(smallModel.confusionMatrices).toBe(true);
    expect(smallModel.runs.map((r) => r.confusedPairs.length)).toEqual([10, 10, 10]);
    const html = await renderReportHtml(small);
    expect(html.match(/data-chart="confusion"/g)).toHaveLength(3);
    expect(html).toContain('<table id="confused-pairs" class="pairs">');
  });
});

describe('the per-class axis and the group captions', () => {
  it('draws and names only the group boundaries inside the range, and says which groups have no class', async () => {
    const input = await richSampleInput({ classes: 10 });
    // Cap every class at 60 training images: no head class, no boundary at 100.
    input.metrics = input.metrics.map((m) => ({ ...m, perClass: m.perClass.map((c) => ({ ...c, trainCount: Math.min(60, c.trainCount), group: c.trainCount >= 20 ? ('medium' as const) : ('tail' as const) })) }));
    const model = buildReportModel(input);
    const spec = perClassChartSpec(model) as { title: { subtitle?: string }; layer: unknown[] };
    expect(spec.title.subtitle).toBe('dashed line: tail < 20 ≤ medium');
    expect(spec.layer).toHaveLength(2);
    const html = await renderReportHtml(input);
    expect(html).toContain('No class is head, so that group has no bar.');
  });

  it('labels 1-2-5 ticks up to the largest class, which gets its own label when no tick is near', () => {
    expect(logTicks(5, 500)).toEqual([5, 10, 20, 50, 100, 200, 500]);
    // The largest class takes the place of a tick just below it; one far above the last tick is added.
    expect(logTicks(3, 1280)).toEqual([3, 5, 10, 20, 50, 100, 200, 500, 1280]);
    expect(logTicks(8, 1100)).toEqual([10, 20, 50, 100, 200, 500, 1100]);
    expect(logTicks(5, 60)).toEqual([5, 10, 20, 60]);
    expect(logTicks(5, 1800)).toEqual([5, 10, 20, 50, 100, 200, 500, 1000, 1800]);
    expect(logTicks(1, 1)).toEqual([1]);
  });
});
