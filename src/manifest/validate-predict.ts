/**
 * Validation of an inference manifest (SPEC section 8), with the training manifest's rules:
 * every problem at once, references held to the policy, bounded reads. Beyond the schema:
 * the adapter's header parses and its tensors have the class count and width it claims; the
 * CLIP weights are a CLIP folder (checkWeights of validate.ts) of the shape the adapter was
 * trained on; the images can be listed and counted, a seeded sample of them exists.
 */
import type { ClipConfig } from '../clip/config';
import { readSafetensorsHeader, SafetensorsFormatError, type SafetensorsHeaderEntry } from '../clip/safetensors';
import { AdapterHeader } from '../contracts/adapter';
import { RUN_FILES } from '../contracts/layout';
import { collectStream, joinUri, storeFor, type ObjectStore } from '../storage';
import { unreadableFileReason } from './items';
import { decodeUtf8 } from './lines';
import { checkSchemaOf, parseJsonDocument, withPositions } from './parse';
import { listPredictImages, type PredictImagesListing } from './predict-images';
import { DEFAULT_PROBLEMS_PER_CODE, ProblemCollector } from './problems';
import { ManifestReferenceError, referencePolicyFor, resolveReference, type ReferencePolicy } from './references';
import { Reservoir, mapConcurrently } from './sampling';
import { MAX_PREDICT_IMAGES, PredictManifest, type ManifestProblem } from './schema';
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
    const trainedOn = header.clip;
    const given = { hiddenSize: clip.vision.hiddenSize, numLayers: clip.vision.numLayers, imageSize: clip.vision.imageSize, projectionDim: clip.projectionDim };
    const differing = (Object.keys(given) as (keyof typeof given)[]).filter((key) => trainedOn[key] !== given[key]);
    if (differing.length > 0) {
      const describe = (shape: typeof given): string => differing.map((key) => `${key} ${shape[key]}`).join(', ');
      add('weights', `the adapter was trained on a CLIP with ${describe(trainedOn)} (${trainedOn.source}); the weights given have ${describe(given)}`);
    }
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

export async function validatePredictManifest(text: string, options: ValidatePredictOptions = {}): Promise<PredictValidationResult> {
  const document = parseJsonDocument(text);
  if (!document.ok) return document;
  const problems = new ProblemCollector(DEFAULT_PROBLEMS_PER_CODE);
  const checked = checkSchemaOf(PredictManifest, document.value);
  if (!checked.ok) return { ok: false, problems: withPositions(text, checked.problems) };
  const manifest = checked.value;
  let policy: ReferencePolicy;
  try {
    policy = referencePolicyFor(options.manifestUri, options.referenceRoots);
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: (error as Error).message, code: 'reference' }] };
  }
  const checkStorage = options.checkStorage ?? true;
  const adapterPolicy = options.adapterRoots && policy.roots ? { ...policy, roots: [...policy.roots, ...options.adapterRoots.map((root) => (root.endsWith('/') ? root : `${root}/`))] } : policy;
  const adapter = await readAdapter(manifest.adapter, adapterPolicy, options, problems);
  const clip = await checkWeightsFolder(manifest.weights, { manifestUri: options.manifestUri, policy, checkStorage, storeFor: async (uri) => options.store ?? (await storeFor(uri)) }, (problem) => problems.add(problem));
  if (adapter) checkAdapterFits(adapter.header, adapter.tensors, clip, problems);
  const listed = await listPredictImages(manifest.images, { ...(options.manifestUri ? { manifestUri: options.manifestUri } : {}), policy, ...(options.store ? { store: options.store } : {}) });
  problems.addAll(listed.problems);
  const imageCount = listed.listing ? (listed.listing.kind === 'listed' ? listed.listing.images.length : listed.listing.count) : 0;
  if (listed.listing && imageCount === 0) problems.add({ path: 'images', message: 'expected at least one image to label, got none', code: 'empty-class' });
  if (imageCount > MAX_PREDICT_IMAGES) problems.add({ path: 'images', message: `expected at most ${MAX_PREDICT_IMAGES.toLocaleString('en-US')} images, got ${imageCount.toLocaleString('en-US')}`, code: 'limit' });
  if (checkStorage && listed.listing) await checkSampledImages(listed.listing, options, problems);
  if (problems.size > 0 || !adapter || !listed.listing) return { ok: false, problems: withPositions(text, problems.list()) };
  return {
    ok: true,
    kind: 'predict',
    manifest,
    adapterUri: adapter.uri,
    adapter: adapter.header,
    images: listed.listing,
    imageCount,
    ...(clip ? { clip } : {}),
    warnings: [],
  };
}
