/**
 * What the report says about each run beyond its accuracies, computed from its metrics
 * document and summary row: the paper's parameter count, the run's facts (schedule, batch,
 * time, throughput, backend, GPU-hours), its worst classes and its most confused class pairs.
 */
import type { ClassMetrics, KeptWeights, MetricsDocument } from '../contracts/metrics';
import type { SummaryRow } from '../contracts/summary';

/**
 * "Params (M)" as the paper prints it (SPEC section 2): the adapters only; rows with the
 * SG-Adapter (the paper's own Sage rows) divide the count by 2^20 (7,299,240 → 6.96), the others
 * by 10^6, as the LIFT paper it copies them from (ImageNet-LT 617,868 → 0.62).
 */
export interface PaperParameters {
  millions: number;
  divisor: '2^20' | '10^6';
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function numberField(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Whether the run uses the SG-Adapter: from its resolved settings, else from its method label (`sage`, `lift+sg+…`). */
export function usesSgAdapter(row: Pick<SummaryRow, 'method'>, metrics?: Pick<MetricsDocument, 'config'>): boolean {
  const sg = record(metrics?.config.components)?.sg;
  if (typeof sg === 'boolean') return sg && metrics?.config.method !== 'zero-shot';
  return row.method === 'sage' || row.method.split('+').slice(1).includes('sg');
}

export function paperParameters(adapters: number, sgAdapter: boolean): PaperParameters {
  return sgAdapter ? { millions: adapters / 2 ** 20, divisor: '2^20' } : { millions: adapters / 1e6, divisor: '10^6' };
}

export interface RunFacts {
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  /** null: the whole batch in one pass. */
  microBatchSize?: number | null;
  evalEvery?: number;
  trainSeconds?: number;
  /** Seconds spent evaluating: during training and the final test pass. */
  evalSeconds?: number;
  imagesPerSecond?: number;
  backend?: string;
  /** What validation estimated for the run on the slowest instance type the queue may pick, when the row carries it. */
  estimatedGpuHours?: number;
  /** That instance type's GPU (T4, A10G, L4, ...). */
  estimatedGpu?: string;
  /** Train and evaluation time, when the run ran on the GPU backend (`tensorflow`). */
  actualGpuHours?: number;
  kept?: KeptWeights;
  trained: boolean;
}

/**
 * Evaluation seconds of a run: each evaluation during training plus the final one, except
 * when the final one is the kept epoch's test evaluation reused (the trainer does not repeat it).
 */
function evaluationSeconds(metrics: MetricsDocument): number {
  const during = metrics.epochs.reduce((sum, e) => sum + (e.evaluation?.seconds ?? 0), 0);
  const keptEpoch = metrics.kept?.epoch;
  const reused = keptEpoch !== undefined && metrics.epochs.find((e) => e.epoch === keptEpoch)?.evaluation?.split === 'test';
  return during + (reused ? 0 : metrics.timings.evalSeconds);
}

export function runFacts(row: SummaryRow, metrics: MetricsDocument | undefined): RunFacts {
  const estimate = row.estimate ? { estimatedGpuHours: row.estimate.hours, estimatedGpu: row.estimate.gpu } : {};
  if (!metrics) return { trained: row.method !== 'zero-shot', ...estimate };
  const config = metrics.config;
  const trained = config.method !== 'zero-shot' && metrics.method !== 'zero-shot';
  const micro = config.microBatchSize;
  const evalSeconds = evaluationSeconds(metrics);
  return {
    trained,
    ...(trained ? { epochs: numberField(config.epochs), learningRate: numberField(config.learningRate), batchSize: numberField(config.batchSize), microBatchSize: micro === null ? null : numberField(micro) } : {}),
    ...(trained ? { evalEvery: numberField(config.evalEvery), trainSeconds: metrics.timings.trainSeconds, imagesPerSecond: metrics.timings.trainImagesPerSecond } : {}),
    evalSeconds,
    backend: metrics.backend,
    ...estimate,
    ...(metrics.backend === 'tensorflow' ? { actualGpuHours: (metrics.timings.trainSeconds + evalSeconds) / 3600 } : {}),
    ...(metrics.kept ? { kept: metrics.kept } : {}),
  };
}

/** How many of the worst classes the report lists per run. */
export const WORST_CLASSES = 10;

/** The run's lowest per-class accuracies, worst first (ties: fewer training images first, then index); classes without test images left out. */
export function worstClasses(perClass: readonly ClassMetrics[], count = WORST_CLASSES): ClassMetrics[] {
  return perClass
    .filter((c) => c.accuracy !== null)
    .sort((a, b) => a.accuracy! - b.accuracy! || a.trainCount - b.trainCount || a.index - b.index)
    .slice(0, count);
}

export interface NamedConfusion {
  label: number;
  labelName: string;
  predicted: number;
  predictedName: string;
  count: number;
  /** Share of the true class's test images that went to `predicted`, in [0, 1]. */
  share: number;
}

/** The run's most frequent mistakes with class names, as its metrics document lists them. */
export function confusedPairs(metrics: MetricsDocument | undefined, limit: number): NamedConfusion[] {
  if (!metrics?.confusion) return [];
  const byIndex = new Map(metrics.perClass.map((c) => [c.index, c]));
  return metrics.confusion.pairs.slice(0, limit).map((p) => {
    const label = byIndex.get(p.label);
    return {
      label: p.label,
      labelName: label?.name ?? `#${p.label}`,
      predicted: p.predicted,
      predictedName: byIndex.get(p.predicted)?.name ?? `#${p.predicted}`,
      count: p.count,
      share: label && label.testCount > 0 ? p.count / label.testCount : 0,
    };
  });
}
