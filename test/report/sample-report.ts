/**
 * A small but realistic report input for the renderer tests: three methods over eight
 * long-tailed classes, one failed sweep child, per-class accuracies chosen by hand.
 */
import { shotGroupOf, type MetricsDocument } from '../../src/contracts/metrics';
import type { Summary, SummaryRow } from '../../src/contracts/summary';
import { paperSettings } from '../../src/repro/setup';
import { findReproTable } from '../../src/repro/tables';

export const SAMPLE_CLASSES = [
  { name: 'apple', trainCount: 500 },
  { name: 'bee', trainCount: 300 },
  { name: 'camel', trainCount: 120 },
  { name: 'dolphin', trainCount: 80 },
  { name: 'elephant', trainCount: 40 },
  { name: 'fox', trainCount: 15 },
  { name: 'girl', trainCount: 8 },
  { name: 'hamster', trainCount: 5 },
];

/** Per-class accuracy per method, hand-picked; each class has 10 test images. */
export const SAMPLE_ACCURACY: Record<string, number[]> = {
  'zero-shot': [0.7, 0.6, 0.6, 0.5, 0.5, 0.4, 0.4, 0.3],
  lift: [0.9, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2],
  sage: [0.9, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
};

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

export function sampleMetrics(method: string, sweepIndex: number, runId = 'run-1'): MetricsDocument {
  const accuracy = SAMPLE_ACCURACY[method]!;
  const perClass = SAMPLE_CLASSES.map((c, index) => ({
    index,
    name: c.name,
    trainCount: c.trainCount,
    testCount: 10,
    accuracy: accuracy[index]!,
    group: shotGroupOf(c.trainCount),
  }));
  const group = (g: string): number => mean(perClass.filter((c) => c.group === g).map((c) => c.accuracy));
  const trained = method !== 'zero-shot';
  return {
    version: 1,
    runId,
    sweepIndex,
    method,
    config: { method },
    dataset: { name: 'sample', numClasses: 8, trainCount: 1068, testCount: 80 },
    parameters: { adapters: trained ? 12_345 : 0, classifier: trained ? 4_096 : 0, fitScalars: method === 'sage' ? 2 : 0, total: trained ? 16_441 + (method === 'sage' ? 2 : 0) : 0, perBlock: 0, bottleneck: 1 },
    accuracy: { all: mean(accuracy), head: group('head'), medium: group('medium'), tail: group('tail') },
    perClass,
    epochs: trained
      ? [1, 2, 3].map((epoch) => ({ epoch, loss: 2 / epoch, trainAccuracy: 0.3 * epoch, learningRate: 0.01 / epoch, seconds: 1, ...(epoch === 3 ? { testAccuracy: mean(accuracy) } : {}) }))
      : [],
    timings: { totalSeconds: 3, trainSeconds: 2, evalSeconds: 1, trainImagesPerSecond: 500 },
    backend: 'cpu',
    startedAt: '2026-11-29T10:00:00.000Z',
    finishedAt: '2026-11-29T10:01:00.000Z',
  };
}

function row(method: string, sweepIndex: number, metrics?: MetricsDocument): SummaryRow {
  return {
    runId: 'run-1',
    sweepIndex,
    status: metrics ? 'SUCCEEDED' : 'FAILED',
    method,
    overrides: { method, ...(method === 'sage' ? { alpha: 0.1, components: { fit: true } } : {}) },
    jobId: `job-${sweepIndex}`,
    ...(metrics ? { metricsKey: `runs/run-1/${sweepIndex}/metrics.json`, accuracy: metrics.accuracy, parameters: metrics.parameters } : { reason: 'Essential container exited with code 1, "out of memory"' }),
    submittedAt: '2026-11-29T10:00:00.000Z',
  };
}

/** Zero-shot, LIFT, Sage (succeeded) and a second Sage child that failed. */
export function sampleReportInput(): { summary: Summary; metrics: MetricsDocument[] } {
  const metrics = [sampleMetrics('zero-shot', 0), sampleMetrics('lift', 1), sampleMetrics('sage', 2)];
  return {
    summary: {
      version: 1,
      manifestName: 'demo/sample',
      updatedAt: '2026-11-29T10:05:00.000Z',
      rows: [row('zero-shot', 0, metrics[0]), row('lift', 1, metrics[1]), row('sage', 2, metrics[2]), row('sage', 3)],
    },
    metrics,
  };
}

type Accuracy = { all: number; head: number; medium: number; tail: number };

/** The metrics of row `index` of a reproduction (`sage repro`): its settings over the preset, four classes. */
export function reproMetrics(tableId: string, dataset: Parameters<typeof paperSettings>[1], index: number, accuracy: Accuracy, options: { classes?: number; config?: Record<string, unknown>; backend?: string } = {}): MetricsDocument {
  const row = findReproTable(tableId)!.rows[index]!;
  const perClass = [500, 120, 50, 8].map((trainCount, i) => ({ index: i, name: `class ${i}`, trainCount, testCount: 10, accuracy: 0.5, group: shotGroupOf(trainCount) }));
  return {
    version: 1,
    runId: 'run-1',
    sweepIndex: index,
    method: 'x',
    config: { ...paperSettings(row, dataset), ...options.config },
    dataset: { name: 'n', numClasses: options.classes ?? 100, trainCount: 10847, testCount: 10000 },
    parameters: { adapters: 1000, classifier: 100, fitScalars: 0, total: 1100, perBlock: 0, bottleneck: 4 },
    accuracy,
    perClass,
    epochs: [],
    timings: { totalSeconds: 1, trainSeconds: 1, evalSeconds: 0, trainImagesPerSecond: 1 },
    backend: options.backend ?? 'tensorflow',
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T11:00:00.000Z',
  };
}

export function reproSummaryRow(tableId: string, index: number, metrics?: MetricsDocument, overrides?: Record<string, unknown>): SummaryRow {
  return {
    runId: 'run-1',
    sweepIndex: index,
    status: metrics ? 'SUCCEEDED' : 'FAILED',
    method: `method-${index}`,
    overrides: overrides ?? structuredClone(findReproTable(tableId)!.rows[index]!.overrides),
    ...(metrics ? { accuracy: metrics.accuracy, parameters: metrics.parameters } : { reason: 'out of memory' }),
    submittedAt: '2026-12-01T10:00:00.000Z',
  };
}

/** Table 5 on CIFAR-100-LT β = 100: LIFT and Sage measured at 2 epochs, the rest failed or edited. */
export function sampleReproInput(name = 'repro-t5-cifar100-lt-r100', classes = 100): { summary: Summary; metrics: MetricsDocument[] } {
  const dataset = 'cifar100-lt-r100' as const;
  const twoEpochs = { config: { epochs: 2 }, classes };
  // LIFT: 81.66 prints 81.7 like the paper's 81.7. Sage: 83.94 / 86.14 / 82.75 / 80.04 against 83.3 / 86.5 / 82.8 / 80.0.
  const lift = reproMetrics('5', dataset, 0, { all: 0.8166, head: 0.8523, medium: 0.8244, tail: 0.767 }, twoEpochs);
  const sage = reproMetrics('5', dataset, 4, { all: 0.8394, head: 0.8614, medium: 0.8275, tail: 0.8004 }, twoEpochs);
  const summary: Summary = {
    version: 1,
    manifestName: name,
    updatedAt: '2026-12-01T12:00:00.000Z',
    rows: [
      reproSummaryRow('5', 0, lift),
      reproSummaryRow('5', 1),
      // An entry edited by hand after sage repro wrote it matches no row of the table.
      reproSummaryRow('5', 2, undefined, { method: 'lift', components: { sg: true }, alpha: 0.5 }),
      reproSummaryRow('5', 4, sage),
    ],
  };
  return { summary, metrics: [lift, sage] };
}
