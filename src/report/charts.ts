/**
 * The report's charts as vega-lite specifications, rendered to standalone SVG with vega's
 * headless view (no canvas, no browser), so the HTML page embeds them inline.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ReportModel } from './model';
import { runsWithMetrics } from './model';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
/** One colour per run label in every chart, so a method is the same colour everywhere. */
const TABLEAU10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
function colourScale(model: ReportModel, shown: readonly string[]): { domain: string[]; range: string[] } {
  const all = model.runs.map((r) => r.label);
  return { domain: [...shown], range: shown.map((label) => TABLEAU10[all.indexOf(label) % TABLEAU10.length]!) };
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
  return {
    $schema: SCHEMA,
    title: { text: 'Per-class accuracy against training images', subtitle: 'dashed lines: tail < 20 ≤ medium ≤ 100 < head' },
    width: 620,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.75, size: 45 },
        encoding: {
          x: { field: 'trainCount', type: 'quantitative', scale: { type: 'log', nice: false, padding: 12 }, title: 'training images of the class (log scale)' },
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 100] }, title: 'test accuracy (%)' },
          color: { field: 'method', type: 'nominal', scale: colourScale(model, labels), title: 'method' },
          shape: { field: 'method', type: 'nominal', scale: { domain: labels }, title: 'method' },
          tooltip: [{ field: 'name' }, { field: 'method' }, { field: 'trainCount' }, { field: 'accuracy', format: '.1f' }],
        },
      },
      {
        data: { values: [{ boundary: 20 }, { boundary: 100 }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
        encoding: { x: { field: 'boundary', type: 'quantitative' } },
      },
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

/** Training loss and accuracy per epoch (and test accuracy where evaluated), one line per trained method. */
export function trainingCurvesChartSpec(model: ReportModel): TopLevelSpec | null {
  const runs = runsWithMetrics(model).filter((r) => (r.metrics?.epochs.length ?? 0) > 0);
  const values = runs.flatMap((run) =>
    run.metrics!.epochs.flatMap((e) => [
      { method: run.label, epoch: e.epoch, metric: 'training loss', value: e.loss },
      { method: run.label, epoch: e.epoch, metric: 'training accuracy (%)', value: e.trainAccuracy * 100 },
      ...(e.testAccuracy === undefined ? [] : [{ method: run.label, epoch: e.epoch, metric: 'test accuracy (%)', value: e.testAccuracy * 100 }]),
    ]),
  );
  if (values.length === 0) return null;
  const metrics = ['training loss', 'training accuracy (%)', 'test accuracy (%)'].filter((m) => values.some((v) => v.metric === m));
  const labels = runs.map((r) => r.label);
  return {
    $schema: SCHEMA,
    title: 'Training curves',
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', sort: metrics, title: null } },
    spec: {
      width: 250,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, title: 'epoch' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
        color: { field: 'method', type: 'nominal', scale: colourScale(model, labels), title: 'method' },
      },
    },
    resolve: { scale: { y: 'independent' } },
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
