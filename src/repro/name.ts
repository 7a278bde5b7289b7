/**
 * The name of a reproduction manifest: `repro-<table>-<dataset>[-toy][.<tag>]`, e.g.
 * `repro-t5-cifar100-lt-r100`. The summary and the report see the manifest only by its name,
 * so the name is what tells the report (src/report) that a run reproduces a table and which.
 */
import { ReproError } from '../common/errors';
import { isPaperDataset, PAPER_DATASETS, type PaperDataset } from './datasets';
import { findReproTable } from './tables';

export interface ReproName {
  /** A ReproTable id (`5`, `alpha`). */
  table: string;
  dataset: PaperDataset;
  /** The data or the weights are not the paper's. */
  toy: boolean;
  /** Free suffix that keeps a second reproduction's summary apart. */
  tag?: string;
}

const TAG = /^[A-Za-z0-9_-]{1,40}$/;

/** A table id in the name: `t5` for Table 5 (a bare digit would read as part of the dataset). */
function tableSlug(table: string): string {
  return /^\d+$/.test(table) ? `t${table}` : table;
}

export function isReproTag(tag: string): boolean {
  return TAG.test(tag);
}

export function reproManifestName(name: ReproName): string {
  if (name.tag !== undefined && !isReproTag(name.tag)) throw new ReproError(`expected a tag of 1-40 letters, digits, "_" or "-", got "${name.tag}"`);
  return `repro-${tableSlug(name.table)}-${name.dataset}${name.toy ? '-toy' : ''}${name.tag ? `.${name.tag}` : ''}`;
}

/** The parts of a reproduction manifest's name; undefined for any other name. */
export function parseReproManifestName(manifestName: string): ReproName | undefined {
  const datasets = PAPER_DATASETS.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const match = new RegExp(`^repro-([a-z0-9]+)-(${datasets})(-toy)?(?:\\.([A-Za-z0-9_-]{1,40}))?$`).exec(manifestName);
  if (!match) return undefined;
  const table = findReproTable(match[1]!);
  const dataset = match[2]!;
  if (!table || !isPaperDataset(dataset) || !table.datasets.includes(dataset)) return undefined;
  return { table: table.id, dataset, toy: match[3] !== undefined, ...(match[4] ? { tag: match[4] } : {}) };
}
