/**
 * The dataset manifest: schema, parsing, validation (shared by the upload Lambda, the CLI
 * and the trainer), the item readers the data loader uses, and run settings per sweep entry.
 */
export * from './schema';
export { parseManifest, decodeManifestBytes, parseJsonDocument, withPositions, type ParseManifestResult, type JsonDocumentResult } from './parse';
export { problemsFromIssues, type IssueContext } from './zod-problems';
export { validateManifest, type SplitCounts, type ValidateManifestOptions, type ValidationResult } from './validate';
export { loadManifest, readManifestBytes, type LoadedManifest, type LoadManifestOptions } from './load';
export { readItems, scanItems, ManifestItemsError, type ListedItemSource, type ManifestItem, type ReadItemsContext } from './items';
export { readBoundedLines, invalidUtf8Offset, ManifestFileLimitError, MAX_ITEM_FILE_BYTES, MAX_LINE_BYTES } from './lines';
export { resolveReference, imagesRootUri, imageUri, imagePathProblem, referencePolicyFor, LOCAL_POLICY, ManifestReferenceError, type ReferencePolicy } from './references';
export { resolveRunSettings, sweepSize, sweepEntry, ManifestSweepIndexError } from './run-settings';
export { formatProblems, ManifestValidationError } from './problems';
export { validateUpload, type UploadValidation, type ValidateUploadOptions } from './validate-upload';
export { validatePredictManifest, type PredictValidationResult, type ValidatedPredict, type ValidatePredictOptions } from './validate-predict';
export { listPredictImages, sliceCount, sliceRange, MAX_FOLDER_IMAGES, type PredictImage, type PredictImagesListing } from './predict-images';
