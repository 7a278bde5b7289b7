/**
 * The report's charts as vega-lite specifications, rendered to standalone SVG with vega's
 * headless view (no canvas, no browser), so the HTML page embeds them inline.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ReportModel, ReportRun } from './model';
import { runsWithMetrics } from './model';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** The width of the page's content (main's 1,080 px less its padding): the charts that need room take all of it. */
export const PAGE_CONTENT_WIDTH = 1024;

/** Each run's own colour (colours.ts: fixed per method), for the runs a chart shows. */
function colourScale(model: ReportModel, shown: readonly string[]): { domain: string[]; range: string[] } {
  const byLabel = new Map(model.runs.map((r) => [r.label, r.colour]));
  return { domain: [...shown], range: shown.map((label) => byLabel.get(label)!) };
}

/**
 * Tick values of a log axis from `min` to `max`: 1, 2, 5, 10, 20, 50, ... within the range, and
 * `max` itself (the largest class) always, in place of a tick within 30 % below it, and `min` unless a tick is within 30 % above it.
 */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let decade = 1; decade <= max; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = step * decade;
      if (value >= min && value <= max) ticks.push(value);
    }
  }
  // The largest class is always labelled; a 1-2-5 tick within 30 % below it gives way (50 beside 60 is clutter).
  if (ticks.length > 0 && ticks.at(-1)! !== max && max < ticks.at(-1)! * 1.3) ticks.pop();
  if (ticks.at(-1) !== max) ticks.push(max);
  // The smallest class gets its own label only when no tick is near it (8 beside 10 reads as clutter).
  if (ticks[0]! > min * 1.3) ticks.unshift(min);
  return ticks;
}

const GROUPS = ['All', 'Head', 'Medium', 'Tail'] as const;

/** Per-class test accuracy against training count (log scale), one point per class and method. */
export function perClassChartSpec(model: ReportModel): TopLevelSpec | null {
  const runs = runsWithMetrics(model);
  const values = model.classes.flatMap((c) =>
    runs.flatMap((run) => {
      const accuracy = c.accuracy.get(run.key);
      return accuracy === null || accuracy === undefined ? [] : [{ method: run.label, name: c.name, trainCount: Math.max(1, c.trainCount), accuracy: accuracy * 100 }];
    }),
  );
  if (values.length === 0) return null;
  const labels = runs.map((r) => r.label);
  const counts = values.map((v) => v.trainCount);
  const [min, max] = [Math.min(...counts), Math.max(...counts)];
  // A little room either side on the log scale, so the smallest and the largest class are not on the frame.
  const domain = [min / 1.25, max * 1.25];
  const boundaries = [20, 100].filter((b) => b > domain[0]! && b < domain[1]!).map((boundary) => ({ boundary }));
  // Only the boundaries drawn: a split whose largest class has 60 images shows the one at 20.
  const rule = boundaries.map((b) => b.boundary).join(' and ');
  const groups = boundaries.length === 2 ? 'tail < 20 ≤ medium ≤ 100 < head' : boundaries[0]?.boundary === 20 ? 'tail < 20 ≤ medium' : 'medium ≤ 100 < head';
  const subtitle = model.groupsFollowTrainCounts
    ? `dashed line${boundaries.length > 1 ? 's' : ''}: ${groups}`
    : `dashed line${boundaries.length > 1 ? 's' : ''} at ${rule} training images; the groups follow the manifest's evaluation.groupCounts instead`;
  return {
    $schema: SCHEMA,
    title: { text: 'Per-class accuracy against training images', ...(boundaries.length > 0 ? { subtitle } : {}) },
    width: PAGE_CONTENT_WIDTH - 110,
    height: 320,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.75, size: 45 },
        encoding: {
          x: {
            field: 'trainCount',
            type: 'quantitative',
            scale: { type: 'log', nice: false, domain },
            axis: { values: logTicks(min, max), format: ',d', labelFlush: false, grid: true },
            title: 'training images of the class (log scale)',
          },
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 100] }, title: 'test accuracy (%)' },
          color: { field: 'method', type: 'nominal', scale: colourScale(model, labels), title: 'method', legend: { orient: 'bottom', direction: 'horizontal' } },
          shape: { field: 'method', type: 'nominal', scale: { domain: labels }, title: 'method', legend: { orient: 'bottom', direction: 'horizontal' } },
          tooltip: [{ field: 'name' }, { field: 'method' }, { field: 'trainCount' }, { field: 'accuracy', format: '.1f' }],
        },
      },
      ...(boundaries.length > 0
        ? [
            {
              data: { values: boundaries },
              mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888' },
              encoding: { x: { field: 'boundary', type: 'quantitative' as const } },
            },
          ]
        : []),
    ],
  };
}

/** All / head / medium / tail accuracy per method as grouped bars with their values on top. */
export function groupBarsChartSpec(model: ReportModel): TopLevelSpec | null {
  const runs = model.runs.filter((r) => r.accuracy !== undefined);
  const values = runs.flatMap((run) => {
    const a = run.accuracy!;
    const byGroup = { All: a.all, Head: a.head, Medium: a.medium, Tail: a.tail };
    return GROUPS.flatMap((group) => (byGroup[group] === null ? [] : [{ method: run.label, group, accuracy: byGroup[group] * 100 }]));
  });
  if (values.length === 0) return null;
  const labels = runs.map((r) => r.label);
  const encoding = {
    x: { field: 'group', type: 'nominal' as const, sort: [...GROUPS], title: null, axis: { labelAngle: 0 } },
    xOffset: { field: 'method', type: 'nominal' as const, sort: labels },
    y: { field: 'accuracy', type: 'quantitative' as const, scale: { domain: [0, 100] }, title: 'top-1 accuracy (%)' },
  };
  return {
    $schema: SCHEMA,
    title: 'Accuracy by class group',
    width: Math.min(900, 4 * labels.length * 34 + 80),
    height: 260,
    data: { values },
    layer: [
      { mark: { type: 'bar' }, encoding: { ...encoding, color: { field: 'method', type: 'nominal', scale: colourScale(model, labels), title: 'method' } } },
      { mark: { type: 'text', dy: -6, fontSize: 9 }, encoding: { ...encoding, text: { field: 'accuracy', type: 'quantitative', format: '.1f' } } },
    ],
  };
}

const CURVE_METRICS = ['training loss', 'training accuracy (%)', 'test accuracy (%)', 'val accuracy (%)'] as const;

/** Training loss and accuracy per epoch, and the test (or val) accuracy where evaluated during training, one line per trained method. */
export function trainingCurvesChartSpec(model: ReportModel): TopLevelSpec | null {
  const runs = runsWithMetrics(model).filter((r) => (r.metrics?.epochs.length ?? 0) > 0);
  const values = runs.flatMap((run) => {
    // The evaluation whose weights the run kept (keep: best) gets a ring.
    const keptBest = run.metrics!.kept?.rule === 'best' ? run.metrics!.kept.epoch : undefined;
    return run.metrics!.epochs.flatMap((e) => [
      { method: run.label, epoch: e.epoch, metric: 'training loss', value: e.loss, kept: false },
      { method: run.label, epoch: e.epoch, metric: 'training accuracy (%)', value: e.trainAccuracy * 100, kept: false },
      ...(e.testAccuracy === undefined ? [] : [{ method: run.label, epoch: e.epoch, metric: 'test accuracy (%)', value: e.testAccuracy * 100, kept: e.epoch === keptBest }]),
      ...(e.valAccuracy === undefined ? [] : [{ method: run.label, epoch: e.epoch, metric: 'val accuracy (%)', value: e.valAccuracy * 100, kept: e.epoch === keptBest }]),
    ]);
  });
  if (values.length === 0) return null;
  const metrics = CURVE_METRICS.filter((m) => values.some((v) => v.metric === m));
  const labels = runs.map((r) => r.label);
  // The panels share the page's width; the legend goes below them.
  const panelWidth = Math.floor((PAGE_CONTENT_WIDTH - 40) / metrics.length) - 70;
  return {
    $schema: SCHEMA,
    title: 'Training curves',
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', sort: [...metrics], title: null } },
    spec: {
      width: Math.min(300, panelWidth),
      height: 200,
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, title: 'epoch' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false, padding: 10 }, title: null },
        color: { field: 'method', type: 'nominal', scale: colourScale(model, labels), title: 'method', legend: { orient: 'bottom', direction: 'horizontal' } },
      },
      layer: [
        { mark: { type: 'line', point: true } },
        ...(values.some((v) => v.kept) ? [{ transform: [{ filter: 'datum.kept' }], mark: { type: 'point' as const, size: 220, strokeWidth: 2, filled: false } }] : []),
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Above this many classes the matrix's axes show class indices, not names. */
const NAMED_AXES_UP_TO = 20;

/**
 * One run's confusion matrix (true class down, predicted across), each cell the share of the
 * true class's test images given that prediction; only non-empty cells are drawn. Null when
 * the run records no matrix.
 */
export function confusionMatrixChartSpec(run: ReportRun): TopLevelSpec | null {
  const matrix = run.metrics?.confusion?.matrix;
  if (!matrix || !run.metrics) return null;
  const names = new Map(run.metrics.perClass.map((c) => [c.index, c.name]));
  const numClasses = matrix.length;
  const named = numClasses <= NAMED_AXES_UP_TO;
  const values = matrix.flatMap((row, label) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.flatMap((count, predicted) =>
      count === 0 || total === 0 ? [] : [{ label: named ? (names.get(label) ?? `#${label}`) : label, predicted: named ? (names.get(predicted) ?? `#${predicted}`) : predicted, share: (count / total) * 100, count }],
    );
  });
  if (values.length === 0) return null;
  const order = named ? Array.from({ length: numClasses }, (_, i) => names.get(i) ?? `#${i}`) : Array.from({ length: numClasses }, (_, i) => i);
  // Up to 20 classes three matrices fit across the page, above that two (at least 3 px a cell).
  const cell = named ? Math.max(8, Math.min(20, Math.floor(160 / numClasses))) : Math.max(3, Math.floor(420 / numClasses));
  const indexTicks = Array.from({ length: numClasses }, (_, i) => i).filter((i) => i % 10 === 0);
  // Names up to 130 px as vega measures them without a canvas ("orange crescent" fits); longer ones end in an ellipsis.
  const axis = named ? { labelLimit: 130 } : { values: indexTicks, labelAngle: 0 };
  return {
    $schema: SCHEMA,
    title: { text: run.label, color: run.colour },
    width: numClasses * cell,
    height: numClasses * cell,
    data: { values },
    mark: { type: 'rect' },
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: order, scale: { domain: order }, axis: { ...axis, ...(named ? { labelAngle: -45 } : {}) }, title: named ? 'predicted class' : 'predicted class (index)' },
      y: { field: 'label', type: 'ordinal', sort: order, scale: { domain: order }, axis, title: named ? 'true class' : 'true class (index)' },
      color: { field: 'share', type: 'quantitative', scale: { domain: [0, 100], scheme: 'blues', type: 'sqrt' }, title: '% of the class', legend: { orient: 'bottom', direction: 'horizontal', values: [0, 10, 25, 50, 100], gradientLength: Math.max(160, Math.min(240, numClasses * cell)) } },
      tooltip: [{ field: 'label' }, { field: 'predicted' }, { field: 'count' }, { field: 'share', format: '.1f' }],
    },
    config: { axis: { labelFontSize: named ? 10 : 9 }, view: { stroke: '#ccc' } },
  };
}

/** Legends wide enough for a paper's row label ("SG + Init + CF + FIT (Sage)"); vega's default cuts at 160 px. */
const LEGEND_LABEL_LIMIT = 260;

/** Compiles a vega-lite spec and renders it headlessly to an SVG document string. */
export async function renderChartSvg(spec: TopLevelSpec): Promise<string> {
  const configured = { ...spec, config: { ...spec.config, legend: { labelLimit: LEGEND_LABEL_LIMIT, ...spec.config?.legend } } } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(configured).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
