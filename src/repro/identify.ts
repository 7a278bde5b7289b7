/**
 * Which of the paper's datasets a prepared manifest is, and whether the paper's figures are
 * comparable on it. In order: the user's choice, the manifest's preset (the `sage prepare`
 * commands write one), a dataset name inside the manifest's name, the class count (with
 * the imbalance ratio for CIFAR-100's 100 classes). A dataset that is none of them (the
 * procedural one) is a toy, run with the table's first dataset's rows and preset.
 */
import { isPaperDataset, PAPER_DATASET_INFO, PAPER_DATASETS, type PaperDataset } from './datasets';
import type { ReproTable } from './tables';
import { ReproError } from '../common/errors';

export interface PreparedDatasetFacts {
  name: string;
  /** `training.preset` of the prepared manifest, if any. */
  preset?: string;
  classes: number;
  /** Training images per class, when known. */
  trainCounts?: readonly number[];
}

export interface IdentifiedDataset {
  dataset: PaperDataset;
  /** How it was found, for the command's output. */
  source: 'flag' | 'preset' | 'name' | 'classes' | 'toy default';
  toy: boolean;
  toyReasons: string[];
}

/** The table has no rows for the dataset: `valid` lists those it has. */
export class ReproDatasetError extends ReproError {
  constructor(
    message: string,
    readonly valid: readonly PaperDataset[],
  ) {
    super(message);
    this.name = 'ReproDatasetError';
  }
}

function fromName(name: string): PaperDataset | undefined {
  const lower = name.toLowerCase();
  // Longest first: "cifar100-lt-r10" is a prefix of "cifar100-lt-r100".
  return [...PAPER_DATASETS].sort((a, b) => b.length - a.length).find((d) => lower.includes(d));
}

function fromClasses(facts: PreparedDatasetFacts): PaperDataset | undefined {
  const counts = facts.trainCounts ?? [];
  const positive = counts.filter((n) => n > 0);
  const ratio = positive.length > 0 ? Math.max(...positive) / Math.min(...positive) : undefined;
  return PAPER_DATASETS.find((d) => {
    const info = PAPER_DATASET_INFO[d];
    if (info.classes !== facts.classes) return false;
    // CIFAR-100-LT keeps floor(500 β^(-i/99)) images, so the largest over the smallest is β exactly.
    return info.imbalanceRatio === undefined || (ratio !== undefined && Math.abs(ratio - info.imbalanceRatio) < 0.5);
  });
}

/** The dataset a reproduction of `table` runs on for this prepared manifest; throws ReproDatasetError. */
export function identifyDataset(table: ReproTable, facts: PreparedDatasetFacts, chosen?: string): IdentifiedDataset {
  const tableDatasets = `${table.source} has rows for ${table.datasets.join(', ')}`;
  if (chosen !== undefined && !isPaperDataset(chosen)) throw new ReproDatasetError(`expected a dataset of the paper, one of ${PAPER_DATASETS.join(', ')}; got "${chosen}"`, table.datasets);
  const preset = facts.preset !== undefined && isPaperDataset(facts.preset) ? facts.preset : undefined;
  const named = fromName(facts.name);
  const counted = fromClasses(facts);
  const found: { dataset: PaperDataset; source: IdentifiedDataset['source'] } | undefined = chosen
    ? { dataset: chosen, source: 'flag' }
    : preset
      ? { dataset: preset, source: 'preset' }
      : named
        ? { dataset: named, source: 'name' }
        : counted
          ? { dataset: counted, source: 'classes' }
          : undefined;

  if (found && !table.datasets.includes(found.dataset)) {
    const how = found.source === 'flag' ? 'given by --table-dataset' : `the manifest "${facts.name}" by its ${found.source === 'preset' ? 'training.preset' : found.source === 'name' ? 'name' : 'classes'}`;
    throw new ReproDatasetError(`${tableDatasets}, not ${found.dataset} (${how}). Choose another table, or --table-dataset with one of: ${table.datasets.join(', ')}`, table.datasets);
  }
  const dataset = found?.dataset ?? table.datasets[0]!;
  const info = PAPER_DATASET_INFO[dataset];
  const toyReasons: string[] = [];
  if (facts.classes !== info.classes) toyReasons.push(`the dataset has ${facts.classes} classes, ${info.title} has ${info.classes}`);
  return { dataset, source: found?.source ?? 'toy default', toy: toyReasons.length > 0, toyReasons };
}
