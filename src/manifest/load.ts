/**
 * Loading a manifest for use (trainer, CLI): read it, validate it, and throw
 * ManifestValidationError with every problem if it is refused.
 */
import { ObjectTooLargeError, storeFor, type ObjectStore } from '../storage';
import { sizeProblem } from './parse';
import { ManifestValidationError } from './problems';
import { MAX_MANIFEST_BYTES, type Manifest, type ManifestProblem } from './schema';
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
  const bytes = await readManifestBytes(store, manifestUri);
  const result = await validateManifest(bytes, { ...options, manifestUri });
  if (!result.ok) throw new ManifestValidationError(result.problems, manifestUri);
  return { manifest: result.manifest, manifestUri, warnings: result.warnings, counts: result.counts };
}

/** The manifest's bytes, read no further than the size limit; an oversized one is refused as bad input. */
export async function readManifestBytes(store: ObjectStore, manifestUri: string): Promise<Uint8Array> {
  try {
    return await store.get(manifestUri, { maxBytes: MAX_MANIFEST_BYTES });
  } catch (error) {
    if (error instanceof ObjectTooLargeError) throw new ManifestValidationError([sizeProblem(error.sizeBytes)!], manifestUri);
    throw error;
  }
}
