/**
 * The settings of each run a manifest asks for: defaults, then the preset, then
 * `training`, then the sweep entry (SPEC's layering, implemented once in
 * contracts/settings). Sweep index i is Batch array child i.
 */
import { z } from 'zod';
import { resolveSettings, type Settings, type SettingsOverrides } from '../contracts/settings';
import { formatJsonPath } from './problems';
import type { Manifest, ManifestProblem } from './schema';
import { ManifestError } from '../common/errors';

/** A sweep index outside the manifest's sweep. */
export class ManifestSweepIndexError extends ManifestError {
  constructor(
    readonly sweepIndex: number,
    readonly size: number,
  ) {
    super(`expected a sweep index in [0, ${size - 1}], got ${sweepIndex}`);
    this.name = 'ManifestSweepIndexError';
  }
}

/** How many runs the manifest asks for: the sweep's length, or 1 without a sweep. */
export function sweepSize(manifest: Pick<Manifest, 'sweep'>): number {
  return manifest.sweep?.length ?? 1;
}

/** The overrides of sweep entry `sweepIndex` ({} without a sweep). */
export function sweepEntry(manifest: Pick<Manifest, 'sweep'>, sweepIndex: number): SettingsOverrides {
  const size = sweepSize(manifest);
  if (!Number.isInteger(sweepIndex) || sweepIndex < 0 || sweepIndex >= size) throw new ManifestSweepIndexError(sweepIndex, size);
  return manifest.sweep?.[sweepIndex] ?? {};
}

/** The fully resolved settings of one run. Throws ManifestSweepIndexError or a ZodError. */
export function resolveRunSettings(manifest: Pick<Manifest, 'training' | 'sweep'>, sweepIndex = 0): Settings {
  return resolveSettings(manifest.training, sweepEntry(manifest, sweepIndex));
}

/**
 * Problems of the resolved settings: the per-field ranges are already checked by the
 * schema, so what is left are cross-field rules (micro-batch ≤ batch) that only show
 * once the layers are combined. A sweep entry's problem points into the entry when it
 * sets the field, else at the entry as a whole.
 */
export function resolvedSettingsProblems(training: SettingsOverrides | undefined, sweep: readonly (SettingsOverrides | undefined)[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const check = (entry: SettingsOverrides | undefined, index: number | undefined): void => {
    try {
      resolveSettings(training, entry);
    } catch (error) {
      if (!(error instanceof z.ZodError)) throw error;
      for (const issue of error.issues) {
        const field = issue.path.map(String).join('.');
        const inEntry = index !== undefined && entry !== undefined && issue.path[0] !== undefined && String(issue.path[0]) in entry;
        const base: PropertyKey[] = index === undefined ? ['training'] : ['sweep', index];
        const path = index === undefined || inEntry ? formatJsonPath([...base, ...issue.path]) : formatJsonPath(base);
        const layers = index === undefined ? 'training over the preset' : `sweep[${index}] over training and the preset`;
        problems.push({ path, message: `${field}: ${issue.message} (settings resolved from ${layers})`, code: 'settings' });
      }
    }
  };
  // With a sweep only the entries run, so `training` alone need not be valid.
  if (sweep.length === 0) check(undefined, undefined);
  else
    sweep.forEach((entry, index) => {
      // An entry the schema refused has been reported already.
      if (entry !== undefined) check(entry, index);
    });
  return problems;
}
