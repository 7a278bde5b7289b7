/**
 * What the report adds for a reproduction sweep: which paper table and dataset the summary
 * reproduces (from its manifest name, see name.ts), each run's paper row and figures, and
 * how the runs' set-up differs from the paper's. No TensorFlow.js: the aggregation Lambda
 * renders reports with it.
 */
import type { MetricsDocument } from '../contracts/metrics';
import type { Summary, SummaryRow } from '../contracts/summary';
import { PAPER_DATASET_INFO, paperHardware, type PaperDataset } from './datasets';
import { parseReproManifestName } from './name';
import { paperFigures, type PaperMetric, type PaperValue } from './paper';
import { backendDifference, paperSettings, settingsDifferences } from './setup';
import { findReproTable, type ReproRow, type ReproTable } from './tables';

export interface ReproRunView {
  /** The paper's row label; undefined when the run matches no row of the table (an edited entry). */
  label?: string;
  row?: ReproRow;
  /** The paper's figures for the row; undefined when the paper has none (zero-shot, a grid point). */
  paper?: Record<PaperMetric, PaperValue>;
  /** Whether its metrics.json was there (a failed or running run has none, nor differences). */
  measured: boolean;
  /** How this run's settings differ from the paper's for its row. */
  differences: string[];
}

export interface ReproReportContext {
  table: ReproTable;
  dataset: PaperDataset;
  /** The paper's figures are not comparable: the data or the weights are not the paper's. */
  toy: boolean;
  toyReasons: string[];
  /** "Table 5 (component ablations ...), CIFAR-100-LT β = 100". */
  heading: string;
  /** Metrics that get a paper column (none for the sensitivity grids). */
  metrics: readonly PaperMetric[];
  /** The table's notes, the matched rows' notes, the methods not run. */
  notes: string[];
  /** Each difference from the paper's set-up once, with the rows it applies to unless all. */
  setupDifferences: string[];
  /** One view per summary row, in the summary's order. */
  runs: ReproRunView[];
}

/** Deep equality of two JSON values, whatever their key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The catalogue row a summary row ran: the one at its sweep index when the overrides agree, else any with the same overrides. */
function matchRow(table: ReproTable, row: SummaryRow): ReproRow | undefined {
  const atIndex = table.rows[row.sweepIndex];
  if (atIndex && sameJson(atIndex.overrides, row.overrides)) return atIndex;
  return table.rows.find((candidate) => sameJson(candidate.overrides, row.overrides));
}

function runDifferences(row: ReproRow, dataset: PaperDataset, metrics: MetricsDocument | undefined): string[] {
  if (!metrics) return [];
  const paper = paperSettings(row, dataset);
  let differences = settingsDifferences(metrics.config, paper);
  // Zero-shot CLIP trains nothing: only the test transform matters.
  if (paper.method === 'zero-shot') differences = differences.filter((d) => d.startsWith('tte '));
  const backend = backendDifference(metrics.backend);
  return backend ? [...differences, backend] : differences;
}

/** "epochs 1 (paper 10)" once; followed by the rows it concerns when not every run. */
function groupDifferences(runs: readonly ReproRunView[]): string[] {
  const measured = runs.filter((r) => r.measured && r.label !== undefined);
  const byDifference = new Map<string, string[]>();
  for (const run of measured) for (const d of run.differences) byDifference.set(d, [...(byDifference.get(d) ?? []), run.label!]);
  return [...byDifference.entries()].map(([d, labels]) => (labels.length === measured.length ? d : `${d} [${[...new Set(labels)].join('; ')}]`));
}

/** The reproduction context of a summary, or undefined when its manifest is no reproduction. */
export function reproContextOf(summary: Summary, metrics: readonly MetricsDocument[]): ReproReportContext | undefined {
  const name = parseReproManifestName(summary.manifestName);
  if (!name) return undefined;
  const table = findReproTable(name.table)!;
  const info = PAPER_DATASET_INFO[name.dataset];
  const byKey = new Map(metrics.map((m) => [`${m.runId}\u0000${m.sweepIndex}`, m]));

  const toyReasons: string[] = [];
  if (name.toy) toyReasons.push("sage repro marked the sweep a toy: its data or its CLIP weights are not the paper's");
  const classCounts = new Set(metrics.map((m) => m.dataset.numClasses).filter((n) => n !== info.classes));
  if (classCounts.size > 0) toyReasons.push(`the runs have ${[...classCounts].join(' / ')} classes, ${info.title} has ${info.classes}`);

  const runs: ReproRunView[] = summary.rows.map((summaryRow) => {
    const row = matchRow(table, summaryRow);
    if (!row) return { measured: false, differences: [] };
    const figures = row.inPaper && table.tableNumber !== undefined ? paperFigures(table.tableNumber, row.label, name.dataset) : undefined;
    const documents = byKey.get(`${summaryRow.runId}\u0000${summaryRow.sweepIndex}`);
    return { label: row.label, row, ...(figures ? { paper: figures } : {}), measured: documents !== undefined, differences: runDifferences(row, name.dataset, documents) };
  });

  const rowNotes = [...new Map(runs.filter((r) => r.row?.note).map((r) => [r.label!, `${r.label}: ${r.row!.note!}.`])).values()];
  const notes = [
    ...table.notes,
    ...rowNotes,
    ...(table.notOurs.length > 0 ? [`The paper's ${table.source} also lists ${table.notOurs.join(', ')}: other methods, not run here.`] : []),
    `The paper ran ${paperHardware(name.dataset)} with ViT-B/16; these runs use tfjs.`,
  ];
  const toy = toyReasons.length > 0;
  return {
    table,
    dataset: name.dataset,
    toy,
    toyReasons,
    heading: `${table.source} (${table.title}), ${info.title}${toy ? ' (toy)' : ''}`,
    metrics: table.metrics,
    notes,
    setupDifferences: groupDifferences(runs),
    runs,
  };
}
