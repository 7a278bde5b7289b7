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

/** A seeded uniform in [0, 1) (mulberry32), so the rich samples are the same on every run. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RichSampleOptions {
  classes: number;
  testPerClass?: number;
  /** Report name; a `repro-...` name makes it a reproduction. */
  name?: string;
  /** Evaluate during training on this split (test or val), with keep: best for Sage. */
  evaluated?: 'test' | 'val';
  backend?: string;
}

const RICH_METHODS = [
  { method: 'zero-shot', base: 0.55, slope: 0.0, adapters: 0, classifier: 0, fit: 0, sg: false },
  { method: 'lift', base: 0.45, slope: 0.09, adapters: 101_436, classifier: 76_800, fit: 0, sg: false },
  { method: 'sage', base: 0.52, slope: 0.08, adapters: 7_299_240, classifier: 76_800, fit: 2, sg: true },
] as const;

/**
 * Zero-shot, LIFT and Sage on `classes` long-tailed classes (500 → 5 training images), with
 * predictions drawn per test image (seeded): per-class accuracy, top-5, the confusion pairs and
 * matrix (up to 100 classes), training curves and run facts, as the trainer writes them.
 */
export async function richSampleInput(options: RichSampleOptions): Promise<{ summary: Summary; metrics: MetricsDocument[] }> {
  const { confusionOf } = await import('../../src/engine/evaluate');
  const { CONFUSION_MATRIX_MAX_CLASSES } = await import('../../src/contracts/metrics');
  const testPerClass = options.testPerClass ?? 20;
  const C = options.classes;
  const names = Array.from({ length: C }, (_, i) => (C <= 12 ? ['apple', 'bee', 'camel', 'dolphin', 'elephant', 'fox', 'girl', 'hamster', 'iris', 'jellyfish', 'kangaroo', 'lamp'][i]! : `class_${String(i).padStart(3, '0')}`));
  const trainCounts = names.map((_, i) => Math.max(5, Math.round(500 * Math.pow(100, -i / Math.max(1, C - 1)))));
  const metrics = RICH_METHODS.map((m, sweepIndex) => {
    const next = uniform(1000 + sweepIndex);
    const labels: number[] = [];
    const predictions: number[] = [];
    let top5 = 0;
    names.forEach((_, c) => {
      const p = Math.min(0.98, Math.max(0.05, m.base + m.slope * Math.log10(trainCounts[c]!) + (next() - 0.5) * 0.15));
      for (let k = 0; k < testPerClass; k++) {
        labels.push(c);
        const correct = next() < p;
        // Mistakes go mostly to a neighbour (similar classes), else anywhere.
        const other = next() < 0.7 ? (c + (next() < 0.5 ? 1 : C - 1)) % C : Math.floor(next() * C);
        predictions.push(correct || other === c ? c : other);
        if (correct || next() < 0.6) top5 += 1;
      }
    });
    const perClass = names.map((name, index) => {
      const mine = labels.map((l, i) => (l === index ? predictions[i] : -1)).filter((v) => v !== -1);
      return { index, name, trainCount: trainCounts[index]!, testCount: testPerClass, accuracy: mine.filter((v) => v === index).length / testPerClass, group: shotGroupOf(trainCounts[index]!) };
    });
    const groupMean = (g: string): number | null => {
      const values = perClass.filter((c) => c.group === g).map((c) => c.accuracy);
      return values.length > 0 ? mean(values) : null;
    };
    const all = labels.filter((l, i) => predictions[i] === l).length / labels.length;
    const confusion = confusionOf(labels, predictions, C);
    const trained = m.method !== 'zero-shot';
    const epochs = trained
      ? Array.from({ length: 5 }, (_, e) => {
          // Sage peaks at epoch 4 and ends a little lower: the run keeps epoch 4 (keep: best).
          const test = Math.min(1, all * (0.7 + 0.3 * Math.sqrt((e + 1) / 5)) + (m.method === 'sage' ? (e === 3 ? 0.03 : e === 4 ? -0.01 : 0) : 0));
          const evaluation = options.evaluated
            ? { evaluation: { split: options.evaluated, accuracy: { all: test, head: null, medium: null, tail: null, top5: Math.min(1, test + 0.15) }, seconds: 4 }, [options.evaluated === 'val' ? 'valAccuracy' : 'testAccuracy']: test }
            : {};
          return { epoch: e + 1, loss: (m.method === 'sage' ? 3.6 : 2.9) / (e + 1) + 0.4, trainAccuracy: Math.min(1, (m.method === 'sage' ? 0.3 : 0.4) + 0.12 * e), learningRate: 0.01 * (1 + Math.cos((Math.PI * e) / 5)) / 2, seconds: 60 + e, ...evaluation };
        })
      : [];
    const keptBest = trained && options.evaluated && m.method === 'sage';
    const doc: MetricsDocument = {
      version: 1,
      runId: 'run-7',
      sweepIndex,
      method: m.method,
      config: { method: m.method, components: { sg: m.sg, init: m.sg, cf: m.sg, fit: m.sg }, epochs: 5, learningRate: 0.01, batchSize: 128, microBatchSize: m.method === 'sage' ? 32 : null, evalEvery: options.evaluated ? 1 : 0, keep: keptBest ? 'best' : 'last' },
      dataset: { name: 'sample', numClasses: C, trainCount: trainCounts.reduce((a, b) => a + b, 0), testCount: labels.length },
      parameters: { adapters: m.adapters, classifier: m.classifier, fitScalars: m.fit, total: m.adapters + m.classifier + m.fit, perBlock: m.adapters / 12, bottleneck: 4 },
      accuracy: { all, head: groupMean('head'), medium: groupMean('medium'), tail: groupMean('tail'), top5: Math.max(all, top5 / labels.length) },
      perClass,
      epochs,
      confusion: C <= CONFUSION_MATRIX_MAX_CLASSES ? confusion : { pairs: confusion.pairs },
      ...(trained ? { kept: keptBest ? { rule: 'best' as const, epoch: 4, best: { epoch: 4, split: options.evaluated!, metric: 'all' as const, value: epochs[3]!.evaluation!.accuracy.all } } : { rule: 'last' as const, epoch: 5 } } : {}),
      timings: { totalSeconds: trained ? 400 : 30, trainSeconds: trained ? 310 : 0, evalSeconds: 12, trainImagesPerSecond: trained ? 35.2 : 0 },
      backend: options.backend ?? 'tensorflow',
      startedAt: '2026-12-01T10:00:00.000Z',
      finishedAt: '2026-12-01T10:07:00.000Z',
    };
    return doc;
  });
  const rows: SummaryRow[] = metrics.map((m) => ({
    runId: 'run-7',
    sweepIndex: m.sweepIndex,
    status: 'SUCCEEDED',
    method: m.method,
    overrides: { method: m.method },
    metricsKey: `runs/run-7/${m.sweepIndex}/metrics.json`,
    accuracy: m.accuracy,
    parameters: m.parameters,
    submittedAt: '2026-12-01T10:00:00.000Z',
  }));
  return { summary: { version: 1, manifestName: options.name ?? `sample-${C}`, updatedAt: '2026-12-01T10:10:00.000Z', rows }, metrics };
}
