/**
 * The sentences the report formats share: chart captions that say only what applies to the
 * runs shown, the parameter footnote, and how a run's kept weights read. One place, so the
 * markdown and the HTML never disagree.
 */
import { formatDuration, formatHours, formatPercent, formatSetting } from './format';
import type { ReportModel, ReportRun } from './model';

/** The parameter footnote, naming only the divisors the table uses. */
export function parametersFootnote(model: ReportModel): string | undefined {
  const counted = model.runs.filter((r) => r.paperParameters && r.paperParameters.millions > 0);
  if (counted.length === 0) return undefined;
  const parts: string[] = [];
  if (counted.some((r) => r.paperParameters!.divisor === '2^20')) parts.push('rows with the SG-Adapter divide by 2^20, as the paper does for its own rows (7,299,240 → 6.96)');
  if (counted.some((r) => r.paperParameters!.divisor === '10^6')) parts.push('the others by 10^6, as its LIFT rows copied from the LIFT paper (617,868 → 0.62)');
  return `Params (M) counts the adapters only, as the paper does: ${parts.join('; ')}. Trainable (M) is every trainable parameter (adapters, classifier, FIT's two scales) / 10^6.`;
}

/** What the group chart's bars mean; the groups follow the manifest's groupCounts when it gives them. */
export function groupsCaption(model: ReportModel): string {
  const groups = model.groupsFollowTrainCounts
    ? 'Head: classes with more than 100 training images; medium: 20-100; tail: fewer than 20.'
    : "Head, medium and tail follow the manifest's evaluation.groupCounts (> 100, 20-100, < 20), not the training counts of this split.";
  const empty = (['head', 'medium', 'tail'] as const).filter((g) => model.classes.length > 0 && !model.classes.some((c) => c.group === g));
  const none = empty.length > 0 ? ` No class is ${empty.join(' or ')}, so ${empty.length > 1 ? 'those groups have' : 'that group has'} no bar.` : '';
  return `${groups}${none} "All" is top-1 over every test image.`;
}

export function perClassCaption(model: ReportModel): string {
  const counts = model.classes.map((c) => c.trainCount);
  const spread = counts.length > 0 && Math.max(...counts) > Math.min(...counts);
  return `Each point is one class and method${spread ? '; the long tail is on the left' : ''}.`;
}

/** Only what applies: the zero-shot note with a zero-shot run, the evaluation note with curves of evaluations. */
export function curvesCaption(model: ReportModel): string {
  const parts: string[] = [];
  const evaluated = model.runs.flatMap((r) => r.metrics?.epochs ?? []).filter((e) => e.evaluation);
  const splits = new Set(evaluated.map((e) => e.evaluation!.split));
  if (splits.has('test')) parts.push('Test accuracy: top-1 on the test split after the epochs evaluated during training (evalEvery).');
  if (splits.has('val')) parts.push("Val accuracy: top-1 on the manifest's held-out val split after the epochs evaluated during training (evalEvery).");
  if (model.runs.some((r) => r.metrics?.kept?.rule === 'best' && evaluated.length > 0)) parts.push('A ring marks the evaluation whose weights a run kept (keep: best).');
  if (model.runs.some((r) => r.row.method === 'zero-shot' || r.metrics?.method === 'zero-shot')) parts.push('Zero-shot CLIP is not trained and has no curve.');
  return parts.join(' ');
}

/** "last", "best: epoch 2 of 3 (val all 62.5 %)"; "–" for an untrained run or one without metrics. */
export function keptLabel(run: ReportRun): string {
  const { facts } = run;
  if (!facts.trained || !run.metrics) return '–';
  const kept = facts.kept;
  if (!kept || kept.rule === 'last') return 'last';
  const best = kept.best;
  const of = facts.epochs !== undefined ? ` of ${facts.epochs}` : '';
  return best ? `best: epoch ${kept.epoch}${of} (${best.split} ${best.metric} ${formatPercent(best.value)} %)` : `best: epoch ${kept.epoch}${of}`;
}

/** "128 (32)" batch and micro-batch; "128" when the micro-batch is the batch. */
export function batchLabel(run: ReportRun): string {
  const { batchSize, microBatchSize } = run.facts;
  if (batchSize === undefined) return '–';
  return microBatchSize === null || microBatchSize === undefined || microBatchSize === batchSize ? String(batchSize) : `${batchSize} (${microBatchSize})`;
}

export const FACTS_NOTE =
  'Batch: the effective batch, the micro-batch in brackets. Train time and images/s count the training steps; eval time the evaluations during training and the final test pass. ' +
  'GPU-h est.: what validation estimated for the run on the slowest GPU the queue may pick (named); GPU-h actual: train and eval time of a run on the GPU backend (tensorflow).';

/** "1.25 (A10G)", or "–" without an estimate. */
export function estimateLabel(run: ReportRun): string {
  const { estimatedGpuHours, estimatedGpu } = run.facts;
  if (estimatedGpuHours === undefined) return '–';
  return `${formatHours(estimatedGpuHours)}${estimatedGpu ? ` (${estimatedGpu})` : ''}`;
}

/** The run-facts table of both formats: its columns after the method, how each aligns, and the runs it lists. */
export const RUN_FACT_COLUMNS: readonly { label: string; align: 'l' | 'r' }[] = [
  { label: 'Epochs', align: 'r' },
  { label: 'Learning rate', align: 'r' },
  { label: 'Batch (micro)', align: 'r' },
  { label: 'Train time', align: 'r' },
  { label: 'Eval time', align: 'r' },
  { label: 'Images/s', align: 'r' },
  { label: 'Backend', align: 'l' },
  { label: 'GPU-h est.', align: 'r' },
  { label: 'GPU-h actual', align: 'r' },
  { label: 'Weights', align: 'l' },
];

/** Runs with something to say in the run-facts table: measured metrics or an estimate. */
export function runFactsRuns(model: ReportModel): ReportRun[] {
  return model.runs.filter((r) => r.metrics || r.facts.estimatedGpuHours !== undefined);
}

/** One run's cells of the run-facts table, in RUN_FACT_COLUMNS' order, as plain text (each format escapes them). */
export function runFactCells(run: ReportRun): string[] {
  const f = run.facts;
  return [
    f.epochs === undefined ? '–' : String(f.epochs),
    formatSetting(f.learningRate),
    batchLabel(run),
    f.trained ? formatDuration(f.trainSeconds) : '–',
    formatDuration(f.evalSeconds),
    f.imagesPerSecond === undefined ? '–' : f.imagesPerSecond.toFixed(1),
    f.backend ?? '–',
    estimateLabel(run),
    formatHours(f.actualGpuHours),
    keptLabel(run),
  ];
}
