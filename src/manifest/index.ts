/**
 * The dataset manifest: schema, parsing, validation (shared by the upload Lambda, the CLI
 * and the trainer), the item readers the data loader uses, and run settings per sweep entry.
 */
export * from './schema';
export * from './shard-index';
export { parseManifest, type ParseManifestResult } from './parse';
export { validateManifest, type SplitCounts, type ValidateManifestOptions, type ValidationResult } from './validate';
export { loadManifest, type LoadedManifest, type LoadManifestOptions } from './load';
export { readItems, readShardIndex, ManifestItemsError, type ManifestItem, type ReadItemsContext } from './items';
export { resolveReference, imagesRootUri, imageUri, imagePathProblem, ManifestReferenceError } from './references';
export { resolveRunSettings, sweepSize, sweepEntry, ManifestSweepIndexError } from './run-settings';
export { formatProblems, ManifestValidationError } from './problems';
