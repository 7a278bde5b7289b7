/**
 * What every report format shows, computed once: the runs of a manifest (summary rows joined
 * with their metrics documents), a readable label per run, and the per-class table. The
 * renderers only lay this out, so the markdown, CSV and HTML can never disagree.
 */
import { CONFUSION_MATRIX_MAX_CLASSES, CONFUSION_TOP_PAIRS, shotGroupOf, type Accuracies, type ClassMetrics, type DivergenceFlag, type MetricsDocument, type ParameterReport, type ShotGroup } from '../contracts/metrics';
import type { Summary, SummaryRow } from '../contracts/summary';
import type { PaperMetric, PaperValue } from '../repro/paper';
import { reproContextOf, type ReproReportContext } from '../repro/report-context';
import { runColours } from './colours';
import { confusedPairs, paperParameters, runFacts, usesSgAdapter, worstClasses, type NamedConfusion, type PaperParameters, type RunFacts } from './facts';

export interface ReportInput {
  summary: Summary;
  /** Metrics documents of the summary's succeeded rows; rows without one show their summary values. */
  metrics: readonly MetricsDocument[];
}

export interface ReportRun {
  /** `<runId>/<sweepIndex>`: unique within a summary. */
  key: string;
  /** Method label, made unique within the report (`sage`, or `sage (run-2 #1)` when repeated). */
  label: string;
  row: SummaryRow;
  metrics?: MetricsDocument;
  accuracy?: Accuracies;
  parameters?: ParameterReport;
  /** The sweep entry's overrides as `key=value` pairs, for the table. */
  settings: string;
  /** For a reproduction sweep: the paper's figures for this run's row, when the paper has them. */
  paper?: Record<PaperMetric, PaperValue>;
  /** Set when the run's loss diverged (metrics.json `diverged`). */
  diverged?: DivergenceFlag;
  /** The run's colour in every chart: its method's, shaded when the method repeats (colours.ts). */
  colour: string;
  /** Adapters only, as the paper counts them; absent without a parameter report. */
  paperParameters?: PaperParameters;
  facts: RunFacts;
  /** Its lowest per-class accuracies, worst first. */
  worstClasses: ClassMetrics[];
  /** Its most frequent mistakes: 10 when the report draws the confusion matrix, else 20. */
  confusedPairs: NamedConfusion[];
}

export interface ReportClass {
  index: number;
  name: string;
  trainCount: number;
  group: ShotGroup;
  /** Accuracy per run key, in [0, 1]; null when the class has no test images; absent when the run has no metrics. */
  accuracy: Map<string, number | null>;
}

export interface ReportModel {
  manifestName: string;
  updatedAt: string;
  runs: ReportRun[];
  /** Classes in index order, from the runs that have metrics. */
  classes: ReportClass[];
  /** Set when the summary is a reproduction of a paper table (`sage repro`): the paper beside us. */
  repro?: ReproReportContext;
  /** Whether every class's group follows its training count (false with the manifest's evaluation.groupCounts). */
  groupsFollowTrainCounts: boolean;
  /** Whether a confusion matrix is drawn: the runs have at most CONFUSION_MATRIX_MAX_CLASSES classes and record one. */
  confusionMatrices: boolean;
}

/** Pairs listed per run beside a confusion matrix; without one, all the metrics keep. */
export const PAIRS_BESIDE_MATRIX = 10;

export function runKey(runId: string, sweepIndex: number): string {
  return `${runId}/${sweepIndex}`;
}

/**
 * `alpha=0.1, epochs=5`; nested objects (components) flatten to `components.sg=true`. The
 * method is left out unless `keepMethod`: it is the row's label already (in a reproduction
 * the label is the paper's row, so the method is shown).
 */
export function formatOverrides(overrides: Readonly<Record<string, unknown>>, options: { keepMethod?: boolean } = {}): string {
  const pairs: string[] = [];
  const visit = (prefix: string, value: unknown): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) visit(prefix ? `${prefix}.${k}` : k, v);
    } else pairs.push(`${prefix}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  };
  const { method: _method, ...rest } = overrides;
  visit('', options.keepMethod ? overrides : rest);
  return pairs.join(', ');
}

/** `base[i]`, told apart where it repeats: by sweep index within one run, by run id too across runs. */
function uniqueLabels(rows: readonly SummaryRow[], base: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const label of base) counts.set(label, (counts.get(label) ?? 0) + 1);
  const runIds = new Set(rows.map((r) => r.runId));
  return rows.map((row, i) => {
    const label = base[i]!;
    if (counts.get(label) === 1) return label;
    return runIds.size === 1 ? `${label} #${row.sweepIndex}` : `${label} (${row.runId} #${row.sweepIndex})`;
  });
}

export function buildReportModel(input: ReportInput): ReportModel {
  const byKey = new Map(input.metrics.map((m) => [runKey(m.runId, m.sweepIndex), m]));
  const repro = reproContextOf(input.summary, input.metrics);
  const rows = input.summary.rows;
  const labels = uniqueLabels(
    rows,
    rows.map((row, i) => repro?.runs[i]?.label ?? row.method),
  );
  const colours = runColours(rows.map((row) => row.method));
  const matrices = input.metrics.length > 0 && input.metrics.every((m) => m.dataset.numClasses <= CONFUSION_MATRIX_MAX_CLASSES) && input.metrics.some((m) => m.confusion?.matrix);
  const runs: ReportRun[] = rows.map((row, i) => {
    const key = runKey(row.runId, row.sweepIndex);
    const metrics = byKey.get(key);
    const paper = repro?.runs[i]?.paper;
    const parameters = metrics?.parameters ?? row.parameters;
    return {
      key,
      label: labels[i]!,
      row,
      metrics,
      accuracy: metrics?.accuracy ?? row.accuracy,
      parameters: metrics?.parameters ?? row.parameters,
      settings: formatOverrides(row.overrides, { keepMethod: repro !== undefined }),
      ...(paper ? { paper } : {}),
      ...(metrics?.diverged ? { diverged: metrics.diverged } : {}),
      colour: colours[i]!,
      ...(parameters ? { paperParameters: paperParameters(parameters.adapters, usesSgAdapter(row, metrics)) } : {}),
      facts: runFacts(row, metrics),
      worstClasses: worstClasses(metrics?.perClass ?? []),
      confusedPairs: confusedPairs(metrics, matrices ? PAIRS_BESIDE_MATRIX : CONFUSION_TOP_PAIRS),
    };
  });
  const classes = collectClasses(runs);
  return {
    manifestName: input.summary.manifestName,
    updatedAt: input.summary.updatedAt,
    runs,
    classes,
    ...(repro ? { repro } : {}),
    groupsFollowTrainCounts: classes.every((c) => c.group === shotGroupOf(c.trainCount)),
    confusionMatrices: matrices,
  };
}

function collectClasses(runs: readonly ReportRun[]): ReportClass[] {
  const classes = new Map<number, ReportClass>();
  for (const run of runs) {
    for (const c of run.metrics?.perClass ?? []) {
      const entry = classes.get(c.index) ?? newClass(c);
      entry.accuracy.set(run.key, c.accuracy);
      classes.set(c.index, entry);
    }
  }
  return [...classes.values()].sort((a, b) => a.index - b.index);
}

function newClass(c: ClassMetrics): ReportClass {
  return { index: c.index, name: c.name, trainCount: c.trainCount, group: c.group, accuracy: new Map() };
}

/** Runs that have per-class metrics, in summary order: the columns of the per-class table. */
export function runsWithMetrics(model: ReportModel): ReportRun[] {
  return model.runs.filter((r) => r.metrics !== undefined);
}
