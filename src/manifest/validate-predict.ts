/**
 * Validation of an inference manifest (SPEC section 8), with the training manifest's rules:
 * every problem at once, references held to the policy, bounded reads. Beyond the schema:
 * the adapter's header parses and its tensors have the class count and width it claims; the
 * CLIP weights are a CLIP folder (checkWeights of validate.ts) of the shape the adapter was
 * trained on; the images can be listed and counted, a seeded sample of them exists, and their
 * slices fit one Batch array job. A schema failure does not stop the checks of the fields that pass.
 */
import type { ClipConfig } from '../clip/config';
import { readSafetensorsHeader, SafetensorsFormatError, type SafetensorsHeaderEntry } from '../clip/safetensors';
import { AdapterHeader, adapterClipMismatch, adapterClipShapeOf } from '../contracts/adapter';
import { MAX_ARRAY_SIZE } from '../contracts/job';
import { RUN_FILES } from '../contracts/layout';
import { collectStream, joinUri, storeFor, type ObjectStore } from '../storage';
import { unreadableFileReason } from './items';
import { decodeUtf8 } from './lines';
import { checkSchemaOf, parseJsonDocument, withPositions } from './parse';
import { listPredictImages, sliceCount, type PredictImagesListing } from './predict-images';
import { DEFAULT_PROBLEMS_PER_CODE, ProblemCollector } from './problems';
import { ManifestReferenceError, referencePolicyFor, resolveReference, type ReferencePolicy } from './references';
import { Reservoir, mapConcurrently } from './sampling';
import { MAX_PREDICT_IMAGES, PREDICT_DEFAULTS, PredictManifest, type ManifestProblem } from './schema';
import { checkWeightsFolder } from './validate';

export interface ValidatePredictOptions {
  manifestUri?: string;
  store?: ObjectStore;
  /** Check the weights' tensors and a sample of the images. Default true. */
  checkStorage?: boolean;
  referenceRoots?: readonly string[];
  /** More roots the `adapter` alone may name (the results bucket's runs/, where trained adapters are). */
  adapterRoots?: readonly string[];
  sampleSize?: number;
  seed?: number;
  /** Stop reading the image list past this time (Date.now() ms): see ValidateManifestOptions.deadline. */
  deadline?: number;
}

export interface ValidatedPredict {
  ok: true;
  kind: 'predict';
  manifest: PredictManifest;
  /** Where adapter.json and adapter.safetensors are. */
  adapterUri: string;
  adapter: AdapterHeader;
  images: PredictImagesListing;
  imageCount: number;
  clip?: ClipConfig;
  warnings: ManifestProblem[];
}

export type PredictValidationResult = ValidatedPredict | { ok: false; problems: ManifestProblem[] };

const MAX_HEADER_BYTES = 16 * 1024 * 1024;
const EXISTS_CONCURRENCY = 32;

/** The adapter folder of a reference to a folder or to its adapter.json. */
function adapterFolder(uri: string): string {
  const trimmed = uri.replace(/\/+$/, '');
  return trimmed.endsWith(`/${RUN_FILES.adapterHeader}`) ? trimmed.slice(0, -RUN_FILES.adapterHeader.length - 1) : trimmed;
}

async function readAdapter(
  reference: string,
  policy: ReferencePolicy,
  options: ValidatePredictOptions,
  problems: ProblemCollector,
): Promise<{ uri: string; header: AdapterHeader; tensors?: Map<string, SafetensorsHeaderEntry> } | undefined> {
  const add = (message: string): undefined => {
    problems.add({ path: 'adapter', message, code: 'adapter' });
    return undefined;
  };
  let folder: string;
  try {
    folder = adapterFolder(resolveReference(reference, options.manifestUri, policy));
  } catch (error) {
    return add(error instanceof ManifestReferenceError ? error.message : String(error));
  }
  const headerUri = joinUri(folder, RUN_FILES.adapterHeader);
  const tensorsUri = joinUri(folder, RUN_FILES.adapterTensors);
  const store = options.store ?? (await storeFor(headerUri));
  let header: AdapterHeader;
  try {
    const text = decodeUtf8(await store.get(headerUri, { maxBytes: MAX_HEADER_BYTES }));
    if (text === undefined) return add(`expected ${headerUri} to be UTF-8 JSON`);
    const parsed = AdapterHeader.safeParse(JSON.parse(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return add(`expected a saved adapter header at ${headerUri}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    header = parsed.data;
  } catch (error) {
    return add(`expected a saved adapter (adapter.json, adapter.safetensors) at ${folder}, got: ${error instanceof SyntaxError ? `adapter.json is not JSON (${error.message})` : unreadableFileReason(error)}`);
  }
  if (options.checkStorage === false) return { uri: folder, header };
  try {
    const info = await store.head(tensorsUri);
    if (!info) return add(`expected ${RUN_FILES.adapterTensors} beside adapter.json, got no object at ${tensorsUri}`);
    const read = async (start: number, end: number): Promise<Uint8Array> => collectStream(await store.getStream(tensorsUri, { start, end }), tensorsUri, end - start);
    return { uri: folder, header, tensors: await readSafetensorsHeader(read, info.size) };
  } catch (error) {
    return add(`expected readable adapter tensors at ${tensorsUri}, got: ${error instanceof SafetensorsFormatError ? error.message : unreadableFileReason(error)}`);
  }
}

/**
 * The adapter against itself and the weights: class count and width in its tensors, the
 * method its settings name against the tensors it holds, and the CLIP shape it was trained on
 * against the weights' config. Each message names both sides.
 */
function checkAdapterFits(header: AdapterHeader, tensors: Map<string, SafetensorsHeaderEntry> | undefined, clip: ClipConfig | undefined, problems: ProblemCollector): void {
  const add = (path: string, message: string): void => problems.add({ path, message, code: 'adapter' });
  const classes = header.classNames.length;
  const width = header.clip.hiddenSize;
  if (tensors) {
    for (const name of ['classifier.weight', 'zero_shot.weight']) {
      const entry = tensors.get(name);
      const trained = header.settings.method !== 'zero-shot';
      if (!entry) {
        if (name === 'zero_shot.weight' || trained) add('adapter', `expected the tensor ${name} in adapter.safetensors, got none`);
        continue;
      }
      if (entry.shape[0] !== classes || entry.shape[1] !== width) {
        add('adapter', `adapter.json names ${classes} classes of width ${width}, but ${name} has shape [${entry.shape.join(', ')}]`);
      }
    }
    const hasSg = [...tensors.keys()].some((name) => /^adapters\.\d+\.down_v\.weight$/.test(name));
    const hasAdaptFormer = [...tensors.keys()].some((name) => /^adapters\.\d+\.down\.weight$/.test(name));
    const sg = header.settings.components.sg;
    if (header.settings.method !== 'zero-shot' && (sg ? !hasSg || hasAdaptFormer : !hasAdaptFormer || hasSg)) {
      add('adapter', `adapter.json's settings say ${sg ? 'SG-Adapter' : 'AdaptFormer'} (method ${header.settings.method}), but adapter.safetensors holds ${hasSg ? 'SG-Adapter' : hasAdaptFormer ? 'AdaptFormer' : 'no adapter'} tensors`);
    }
    const fit = header.settings.components.fit && header.settings.method !== 'zero-shot';
    if (fit !== tensors.has('fit.s1')) add('adapter', `adapter.json's settings say FIT is ${fit ? 'on' : 'off'}, but adapter.safetensors ${tensors.has('fit.s1') ? 'holds' : 'lacks'} FIT's scales`);
  }
  if (clip) {
    // The same comparison loadAdapter makes, so validation and the job refuse the same pairs.
    const mismatch = adapterClipMismatch(header.clip, adapterClipShapeOf(clip), 'the weights given have');
    if (mismatch) add('weights', mismatch);
  }
}

/** A seeded sample of the listed images must exist (as the training validator checks its items). */
async function checkSampledImages(listing: PredictImagesListing, options: ValidatePredictOptions, problems: ProblemCollector): Promise<void> {
  if (listing.kind !== 'listed') return;
  const sample = new Reservoir<string>(options.sampleSize ?? 1000, options.seed ?? 0);
  for (const image of listing.images) sample.offer(() => image.uri);
  // Concurrent checks, problems added in the sample's order: the same report on every run.
  const found = await mapConcurrently(sample.values(), EXISTS_CONCURRENCY, async (uri): Promise<ManifestProblem | undefined> => {
    try {
      if (await (options.store ?? (await storeFor(uri))).exists(uri)) return undefined;
      return { path: 'images', message: `expected an image at ${uri}, got no such object`, code: 'image-missing' };
    } catch (error) {
      return { path: 'images', message: `expected a readable image at ${uri}, got: ${unreadableFileReason(error)}`, code: 'image-missing' };
    }
  });
  for (const problem of found) if (problem) problems.add(problem);
}

/** A field of a document that failed the schema, when it passes on its own. */
function section<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, value: unknown): T | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/**
 * The slice count against Batch's array limit: refused here, with the sliceSize that fits,
 * rather than by SubmitJob after the run is recorded.
 */
function checkSliceCount(imageCount: number, sliceSize: number, problems: ProblemCollector): void {
  const slices = sliceCount(imageCount, sliceSize);
  if (slices <= MAX_ARRAY_SIZE) return;
  const fits = Math.ceil(imageCount / MAX_ARRAY_SIZE);
  const n = (value: number): string => value.toLocaleString('en-US');
  problems.add({
    path: 'sliceSize',
    message: `expected at most ${n(MAX_ARRAY_SIZE)} slices (AWS Batch's array job limit), got ${n(slices)} (${n(imageCount)} images in slices of ${n(sliceSize)}); set sliceSize to at least ${n(fits)}`,
    code: 'limit',
  });
}

export async function validatePredictManifest(text: string, options: ValidatePredictOptions = {}): Promise<PredictValidationResult> {
  const document = parseJsonDocument(text);
  if (!document.ok) return document;
  const problems = new ProblemCollector(DEFAULT_PROBLEMS_PER_CODE);
  const checked = checkSchemaOf(PredictManifest, document.value);
  if (!checked.ok) problems.addAll(checked.problems);
  const raw = document.value;
  if (!checked.ok && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) return { ok: false, problems: withPositions(text, problems.list()) };
  // A valid document is used as parsed; otherwise each of adapter, weights and images that
  // passes on its own is still checked, so one upload reports every problem (as validate.ts does).
  const fields = raw as Record<string, unknown>;
  const shape = PredictManifest.shape;
  const adapterRef = checked.ok ? checked.value.adapter : section(shape.adapter, fields.adapter);
  const weightsRef = checked.ok ? checked.value.weights : section(shape.weights, fields.weights);
  const imagesSource = checked.ok ? checked.value.images : section(shape.images, fields.images);
  // An absent sliceSize is the default; one the schema refused is not checked further.
  const sliceSize = fields.sliceSize === undefined ? PREDICT_DEFAULTS.sliceSize : section(shape.sliceSize, fields.sliceSize);
  let policy: ReferencePolicy;
  try {
    policy = referencePolicyFor(options.manifestUri, options.referenceRoots);
  } catch (error) {
    problems.add({ path: '', message: (error as Error).message, code: 'reference' });
    return { ok: false, problems: withPositions(text, problems.list()) };
  }
  const checkStorage = options.checkStorage ?? true;
  const adapterPolicy = options.adapterRoots && policy.roots ? { ...policy, roots: [...policy.roots, ...options.adapterRoots.map((root) => (root.endsWith('/') ? root : `${root}/`))] } : policy;
  const adapter = adapterRef === undefined ? undefined : await readAdapter(adapterRef, adapterPolicy, options, problems);
  const clip =
    weightsRef === undefined
      ? undefined
      : await checkWeightsFolder(weightsRef, { manifestUri: options.manifestUri, policy, checkStorage, storeFor: async (uri) => options.store ?? (await storeFor(uri)) }, (problem) => problems.add(problem));
  if (adapter) checkAdapterFits(adapter.header, adapter.tensors, clip, problems);
  const listed = imagesSource === undefined ? { problems: [] } : await listPredictImages(imagesSource, { ...(options.manifestUri ? { manifestUri: options.manifestUri } : {}), policy, ...(options.store ? { store: options.store } : {}), ...(options.deadline !== undefined ? { deadline: options.deadline } : {}) });
  problems.addAll(listed.problems);
  const listing = listed.listing;
  const imageCount = listing ? (listing.kind === 'listed' ? listing.images.length : listing.count) : 0;
  if (listing && imageCount === 0) problems.add({ path: 'images', message: 'expected at least one image to label, got none', code: 'empty-class' });
  if (imageCount > MAX_PREDICT_IMAGES) problems.add({ path: 'images', message: `expected at most ${MAX_PREDICT_IMAGES.toLocaleString('en-US')} images, got ${imageCount.toLocaleString('en-US')}`, code: 'limit' });
  else if (listing && sliceSize !== undefined) checkSliceCount(imageCount, sliceSize, problems);
  if (checkStorage && listing) await checkSampledImages(listing, options, problems);
  if (!checked.ok || problems.size > 0 || !adapter || !listing) return { ok: false, problems: withPositions(text, problems.list()) };
  return {
    ok: true,
    kind: 'predict',
    manifest: checked.value,
    adapterUri: adapter.uri,
    adapter: adapter.header,
    images: listing,
    imageCount,
    ...(clip ? { clip } : {}),
    warnings: [],
  };
}
