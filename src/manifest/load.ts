/**
 * Loading a manifest for use (trainer, CLI): read it, validate it, and throw
 * ManifestValidationError with every problem if it is refused.
 */
import { storeFor, type ObjectStore } from '../storage';
import { ManifestValidationError } from './problems';
import type { Manifest, ManifestProblem } from './schema';
import { validateManifest, type SplitCounts, type ValidateManifestOptions } from './validate';

export interface LoadManifestOptions extends Omit<ValidateManifestOptions, 'manifestUri'> {
  /** Store the manifest is read from; default storeFor(uri). Also used for every reference when given. */
  store?: ObjectStore;
}

export interface LoadedManifest {
  manifest: Manifest;
  manifestUri: string;
  warnings: ManifestProblem[];
  counts: SplitCounts;
}

/** Reads and validates the manifest at `manifestUri`; throws ManifestValidationError when it is refused. */
export async function loadManifest(manifestUri: string, options: LoadManifestOptions = {}): Promise<LoadedManifest> {
  const store = options.store ?? (await storeFor(manifestUri));
  const text = await store.getText(manifestUri);
  const result = await validateManifest(text, { ...options, manifestUri });
  if (!result.ok) throw new ManifestValidationError(result.problems, manifestUri);
  return { manifest: result.manifest, manifestUri, warnings: result.warnings, counts: result.counts };
}
