/**
 * A reproduction manifest from a prepared one: the same classes, splits and weights; the
 * dataset's Table 8 preset plus the user's changes as `training`; one sweep entry per row
 * of the table; the `repro` marker; and the name the report recognises (name.ts).
 */
import type { SettingsOverrides } from '../contracts/settings';
import type { Manifest } from '../manifest/schema';
import { PAPER_DATASET_INFO, type PaperDataset } from './datasets';
import { reproManifestName } from './name';
import type { ReproTable } from './tables';
import { ReproError } from '../common/errors';

export interface ReproManifestOptions {
  table: ReproTable;
  dataset: PaperDataset;
  toy: boolean;
  /** Changes to the paper's set-up for every row (fewer epochs, a micro-batch size). */
  changes?: SettingsOverrides;
  /** Suffix of the name, to keep a second reproduction's summary apart. */
  tag?: string;
}

/** A change that would contradict the rows: they set the method and components, the dataset sets the preset. */
export class ReproSettingsError extends ReproError {
  constructor(message: string) {
    super(message);
    this.name = 'ReproSettingsError';
  }
}

const ROW_FIELDS = ['method', 'components', 'preset'] as const;

export function buildReproManifest(prepared: Manifest, options: ReproManifestOptions): Manifest {
  const { table, dataset, toy } = options;
  const changes = options.changes ?? {};
  const clashing = ROW_FIELDS.filter((field) => changes[field] !== undefined);
  if (clashing.length > 0) {
    throw new ReproSettingsError(`expected changes other than ${ROW_FIELDS.join(', ')} (each row sets its method and components, the dataset its preset), got ${clashing.join(', ')}`);
  }
  // The prepared manifest's own training settings and sweep give way to the paper's set-up; $schema may be a relative path that no longer fits.
  const { $schema: _schema, training: _training, sweep: _sweep, repro: _repro, evaluation, ...data } = prepared;
  const { groupCounts: _groupCounts, ...evaluationRest } = evaluation ?? {};
  const keptEvaluation = table.grouping === 'own counts' ? (Object.keys(evaluationRest).length > 0 ? evaluationRest : undefined) : evaluation;
  const title = PAPER_DATASET_INFO[dataset].title;
  return {
    ...data,
    name: reproManifestName({ table: table.id, dataset, toy, ...(options.tag ? { tag: options.tag } : {}) }),
    description:
      `Reproduces the paper's ${table.source} (${table.title}) with ${title}'s rows and preset, on the data of "${prepared.name}"` +
      `${toy ? " (toy: not the paper's data or weights, its figures are not comparable)" : ''}. Written by sage repro.`,
    ...(keptEvaluation ? { evaluation: keptEvaluation } : {}),
    training: { preset: dataset, ...changes },
    sweep: table.rows.map((row) => structuredClone(row.overrides)),
    repro: { table: table.id, dataset, toy, rows: table.rows.map((row) => row.label) },
  };
}
