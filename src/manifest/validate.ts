/**
 * The one validation function the upload Lambda, the CLI and the trainer share. It
 * reports every problem at once: each top-level section that passes the schema is
 * checked further even when another section failed, so one upload shows everything
 * to fix. Referenced item files are always read; existence checks (weights, shards,
 * a seeded sample of images) run unless checkStorage is false.
 */
import { SettingsOverrides } from '../contracts/settings';
import { ClipConfigError, parseClipConfig, type ClipConfig } from '../clip/config';
import { readSafetensorsHeader, SafetensorsFormatError } from '../clip/safetensors';
import { checkClipTensors, ClipWeightsError } from '../clip/weights';
import { collectStream, storeFor, type ObjectStore } from '../storage';
import { unreadableFileReason } from './items';
import { decodeUtf8, invalidUtf8Offset } from './lines';
import { originLine, originPath, scanItems, type ItemOrigin } from './items';
import { checkSchema, decodeManifestBytes, parseJsonDocument, sizeProblem, withPositions } from './parse';
import { DEFAULT_PROBLEMS_PER_CODE, formatJsonPath, ProblemCollector } from './problems';
import { imagesRootUri, imageUri, ManifestReferenceError, referencePolicyFor, resolveReference, type ReferencePolicy } from './references';
import { resolvedSettingsProblems } from './run-settings';
import { Reservoir, mapConcurrently } from './sampling';
import { ClassEntry, Evaluation, ItemSource, Manifest, MAX_CLASSES, MAX_SWEEP_ENTRIES, type ManifestProblem } from './schema';
import { checkShardSplit } from './shard-checks';

export interface ValidateManifestOptions {
  /** Where the manifest lives; relative references resolve against its folder. Default: the working directory. */
  manifestUri?: string;
  /** Store for every location; default: storeFor(uri) per location (local or S3). */
  store?: ObjectStore;
  /**
   * Check that the weights, the shards and a sample of the images exist. Default true.
   * Referenced item files (JSONL, list, shard index) are read either way: labels and
   * class counts cannot be checked without them.
   */
  checkStorage?: boolean;
  /** Images checked for existence: all of them up to this many, else a seeded sample. Default 1000. */
  sampleSize?: number;
  /** Seed of the image sample. Default 0. */
  seed?: number;
  /** Problems listed per kind before the rest are only counted. Default 100. */
  problemsPerKind?: number;
  /**
   * The only `s3://bucket/prefix/` locations references may name (the upload Lambda passes
   * the data bucket and the artifacts bucket's weights/). Without it, a manifest read from
   * S3 may name any S3 object but no local path; a local manifest may name anything.
   */
  referenceRoots?: readonly string[];
  /**
   * Stop reading list and JSONL files past this time (Date.now() ms), each reported as a
   * `limit` problem at the line reached: the upload Lambda's deadline less what writing its
   * verdict needs. Default: no deadline.
   */
  deadline?: number;
}

/** Per-class item counts of each split, when its items were read. */
export interface SplitCounts {
  train?: number[];
  test?: number[];
  /** The optional held-out `val` split, when the manifest has one. */
  val?: number[];
}

export type ValidationResult =
  | { ok: true; manifest: Manifest; warnings: ManifestProblem[]; counts: SplitCounts; clip?: ClipConfig }
  | { ok: false; problems: ManifestProblem[] };

const DEFAULT_SAMPLE_SIZE = 1000;
const EXISTS_CONCURRENCY = 32;
/** config.json of a CLIP folder is a few KB; anything past this is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

interface SampledImage {
  uri: string;
  origin: ItemOrigin;
}

/** State shared by the checks of one validation. */
interface Validation {
  options: Required<Pick<ValidateManifestOptions, 'checkStorage' | 'sampleSize' | 'seed'>> & ValidateManifestOptions;
  problems: ProblemCollector;
  warnings: ManifestProblem[];
  storeFor: (uri: string) => Promise<ObjectStore>;
  sample: Reservoir<SampledImage>;
  policy: ReferencePolicy;
  /** The weights folder's config, when it was read and checked. */
  clip?: ClipConfig;
}

/** A section of the document, parsed alone; `trusted` when the whole document passed the schema already. */
function section<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, value: unknown, trusted: boolean): T | undefined {
  if (trusted) return value as T;
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

function referenceProblem(path: string, reference: string, error: unknown): ManifestProblem {
  const message = error instanceof ManifestReferenceError ? error.message : `cannot resolve ${JSON.stringify(reference)}: ${(error as Error).message}`;
  return { path, message, code: 'reference' };
}

function checkClasses(classes: readonly ClassEntry[], validation: Validation): string[] {
  const names = classes.map((entry) => (typeof entry === 'string' ? entry : entry.name));
  const firstAt = new Map<string, number>();
  names.forEach((name, index) => {
    const first = firstAt.get(name);
    if (first === undefined) {
      firstAt.set(name, index);
      return;
    }
    const path = typeof classes[index] === 'string' ? formatJsonPath(['classes', index]) : formatJsonPath(['classes', index, 'name']);
    validation.problems.add({ path, message: `expected unique class names, got "${name}" again (first at classes[${first}])`, code: 'duplicate-class' });
  });
  return names;
}

async function scanSplit(split: 'train' | 'test' | 'val', source: ItemSource, names: readonly string[], imagesRoot: string | undefined, validation: Validation): Promise<number[] | undefined> {
  const counts = new Array<number>(names.length).fill(0);
  const { options } = validation;
  if ('shards' in source) {
    const complete = await checkShardSplit({
      reference: source.shards,
      field: formatJsonPath([split, 'shards']),
      manifestUri: options.manifestUri,
      policy: validation.policy,
      storeFor: validation.storeFor,
      classCount: names.length,
      counts,
      report: (problem) => validation.problems.add(problem),
      checkExistence: options.checkStorage,
    });
    return complete ? counts : undefined;
  }
  let complete = true;
  const ctx = { manifestUri: options.manifestUri, classNames: names, split, policy: validation.policy, ...(options.store ? { store: options.store } : {}), ...(options.deadline !== undefined ? { deadline: options.deadline } : {}) };
  for await (const event of scanItems(source, ctx)) {
    if (event.kind === 'problem') {
      if (event.problem.code === 'reference' || event.problem.code === 'limit') complete = false;
      validation.problems.add(event.problem);
      continue;
    }
    counts[event.item.label]!++;
    if (imagesRoot !== undefined && options.checkStorage) {
      const { item, origin } = event;
      validation.sample.offer(() => ({ uri: imageUri(imagesRoot, item.path), origin }));
    }
  }
  return complete ? counts : undefined;
}

function checkCounts(names: readonly string[], train: number[] | undefined, test: number[] | undefined, validation: Validation): void {
  // A repeated name's labels all go to its first occurrence; the duplicate is reported already.
  const firstIndex = new Map<string, number>();
  names.forEach((name, index) => {
    if (!firstIndex.has(name)) firstIndex.set(name, index);
  });
  train?.forEach((count, index) => {
    if (count === 0 && firstIndex.get(names[index]!) === index) {
      validation.problems.add({ path: formatJsonPath(['classes', index]), message: `expected at least one training item for class "${names[index]}" (index ${index}), got none`, code: 'empty-class' });
    }
  });
  const untested = test ? names.filter((_, index) => test[index] === 0) : [];
  if (untested.length > 0) {
    const shown = untested.slice(0, 10).map((n) => `"${n}"`).join(', ');
    validation.warnings.push({ path: 'test', message: `${untested.length} class(es) have no test items, so their accuracy is not measured: ${shown}${untested.length > 10 ? ', ...' : ''}`, code: 'empty-class' });
  }
}

export interface WeightsCheckContext {
  manifestUri?: string;
  policy: ReferencePolicy;
  checkStorage: boolean;
  storeFor: (uri: string) => Promise<ObjectStore>;
}

/** checkWeights for any manifest kind: problems go to `report` at path `weights`. */
export async function checkWeightsFolder(weights: string, ctx: WeightsCheckContext, report: (problem: ManifestProblem) => void): Promise<ClipConfig | undefined> {
  let folder: string;
  try {
    folder = resolveReference(weights, ctx.manifestUri, ctx.policy);
  } catch (error) {
    report(referenceProblem('weights', weights, error));
    return undefined;
  }
  if (!ctx.checkStorage) return undefined;
  const fileUri = (file: string): string => (folder.startsWith('s3://') ? `${folder.replace(/\/+$/, '')}/${file}` : `${folder.replace(/[\\/]+$/, '')}/${file}`);
  const problem = (message: string): undefined => {
    report({ path: 'weights', message, code: 'weights' });
    return undefined;
  };
  const configUri = fileUri('config.json');
  const tensorsUri = fileUri('model.safetensors');
  let config: ClipConfig;
  try {
    const store = await ctx.storeFor(configUri);
    if (!(await store.exists(configUri))) {
      problem(`expected config.json in the CLIP weights folder (Hugging Face layout), got no object at ${configUri}`);
      // Still say whether the tensors are there, so one upload reports both.
      if (!(await (await ctx.storeFor(tensorsUri)).exists(tensorsUri))) problem(`expected model.safetensors in the CLIP weights folder (Hugging Face layout), got no object at ${tensorsUri}`);
      return undefined;
    }
    const bytes = await store.get(configUri, { maxBytes: MAX_CONFIG_BYTES });
    const text = decodeUtf8(bytes);
    if (text === undefined) return problem(`expected ${configUri} to be UTF-8 JSON, got an invalid byte sequence at byte offset ${invalidUtf8Offset(bytes)}`);
    config = parseClipConfig(text, configUri);
  } catch (error) {
    return problem(error instanceof ClipConfigError ? `expected a CLIP config: ${error.message}` : `expected a readable ${configUri}, got: ${unreadableFileReason(error)}`);
  }
  try {
    const store = await ctx.storeFor(tensorsUri);
    const info = await store.head(tensorsUri);
    if (!info) return problem(`expected model.safetensors in the CLIP weights folder (Hugging Face layout), got no object at ${tensorsUri}`);
    const read = async (start: number, end: number): Promise<Uint8Array> => collectStream(await store.getStream(tensorsUri, { start, end }), tensorsUri, end - start);
    checkClipTensors(config, await readSafetensorsHeader(read, info.size), tensorsUri);
  } catch (error) {
    if (error instanceof ClipWeightsError) return problem(`expected the tensors config.json describes: ${error.message}`);
    // A format error's message does not say which file it read.
    if (error instanceof SafetensorsFormatError) return problem(`expected ${tensorsUri} to hold the tensors config.json describes: ${error.message}`);
    return problem(`expected a readable ${tensorsUri}, got: ${unreadableFileReason(error)}`);
  }
  return config;
}

/**
 * The CLIP weights folder, checked beyond existence: config.json parses as a CLIP config and
 * model.safetensors' header (two ranged reads, never the tensors) lists every tensor that
 * config needs with its shape, so a broken folder is refused at upload, not on a GPU. The
 * parsed config comes back for the estimate.
 */
function checkWeights(weights: string, validation: Validation): Promise<ClipConfig | undefined> {
  return checkWeightsFolder(
    weights,
    { manifestUri: validation.options.manifestUri, policy: validation.policy, checkStorage: validation.options.checkStorage, storeFor: validation.storeFor },
    (problem) => validation.problems.add(problem),
  );
}

async function checkSampledImages(validation: Validation): Promise<void> {
  // The checks run concurrently; their problems are added in the sample's order, so a report
  // lists them the same way on every run.
  const found = await mapConcurrently(validation.sample.values(), EXISTS_CONCURRENCY, async ({ uri, origin }): Promise<ManifestProblem | undefined> => {
    const lineOf = originLine(origin);
    const path = originPath(origin, 'path');
    try {
      if (await (await validation.storeFor(uri)).exists(uri)) return undefined;
      return { path, message: `expected an image at ${uri}, got no such object`, ...lineOf, code: 'image-missing' };
    } catch (error) {
      return { path, message: `expected a readable image at ${uri}, got: ${(error as Error).message}`, ...lineOf, code: 'image-missing' };
    }
  });
  for (const problem of found) if (problem) validation.problems.add(problem);
}

function checkEvaluation(evaluation: Evaluation | undefined, classCount: number, validation: Validation): void {
  const groupCounts = evaluation?.groupCounts;
  if (groupCounts && groupCounts.length !== classCount) {
    validation.problems.add({ path: 'evaluation.groupCounts', message: `expected one count per class (${classCount}), got ${groupCounts.length}`, code: 'group-counts' });
  }
}

function checkSettings(raw: Record<string, unknown>, trusted: boolean, validation: Validation): void {
  const training = section(SettingsOverrides, raw.training ?? {}, trusted);
  if (!training) return;
  // A sweep over the limit is refused by the schema already; resolving its entries would only cost time.
  if (Array.isArray(raw.sweep) && raw.sweep.length > MAX_SWEEP_ENTRIES) return;
  const sweep = Array.isArray(raw.sweep) ? raw.sweep.map((entry: unknown): SettingsOverrides | undefined => section(SettingsOverrides, entry, trusted)) : [];
  validation.problems.addAll(resolvedSettingsProblems(training, sweep));
}

function resolveImagesRoot(raw: Record<string, unknown>, trusted: boolean, splits: readonly (ItemSource | undefined)[], validation: Validation): string | undefined {
  const needsImages = splits.some((source) => source !== undefined && !('shards' in source));
  const images = section(Manifest.shape.images, raw.images, trusted);
  if (images === undefined) {
    if (needsImages && raw.images === undefined) {
      validation.problems.add({ path: 'images', message: 'missing required field "images" (expected the image root: a folder or s3://bucket/prefix/), which items, jsonl and list splits need', code: 'missing-field' });
    }
    return undefined;
  }
  try {
    return imagesRootUri(images, validation.options.manifestUri, validation.policy);
  } catch (error) {
    validation.problems.add(referenceProblem('images', images, error));
    return undefined;
  }
}

async function checkDocument(raw: Record<string, unknown>, trusted: boolean, validation: Validation): Promise<SplitCounts> {
  checkSettings(raw, trusted, validation);
  const weights = section(Manifest.shape.weights, raw.weights, trusted);
  if (weights !== undefined) validation.clip = await checkWeights(weights, validation);
  const train = section(ItemSource, raw.train, trusted);
  const test = section(ItemSource, raw.test, trusted);
  const val = raw.val === undefined ? undefined : section(ItemSource, raw.val, trusted);
  const imagesRoot = resolveImagesRoot(raw, trusted, [train, test, val], validation);
  const classes = section(Manifest.shape.classes, raw.classes, trusted);
  if (!classes) return {};
  const names = checkClasses(classes, validation);
  checkEvaluation(section(Evaluation, raw.evaluation, trusted), names.length, validation);
  const counts: SplitCounts = {};
  if (train) counts.train = await scanSplit('train', train, names, imagesRoot, validation);
  if (test) counts.test = await scanSplit('test', test, names, imagesRoot, validation);
  if (val) counts.val = await scanSplit('val', val, names, imagesRoot, validation);
  checkCounts(names, counts.train, counts.test, validation);
  if (validation.options.checkStorage) await checkSampledImages(validation);
  return counts;
}

function documentSize(value: unknown): number | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
  } catch {
    return undefined; // Not serialisable (a cycle): the schema check reports the shape.
  }
}

/**
 * Arrays over their schema limit are cut to it before the schema runs (zod would check
 * every element of a million-entry sweep before saying "too many"), with one problem each.
 */
function cutOversizedArrays(raw: unknown, problems: ProblemCollector): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const document = raw as Record<string, unknown>;
  const limits: [field: 'sweep' | 'classes', max: number][] = [
    ['sweep', MAX_SWEEP_ENTRIES],
    ['classes', MAX_CLASSES],
  ];
  let cut: Record<string, unknown> | undefined;
  for (const [field, max] of limits) {
    const value = document[field];
    if (!Array.isArray(value) || value.length <= max) continue;
    // The schema's own wording for the same limit.
    problems.add({ path: field, message: `expected at most ${max} entries, got ${value.length} entries`, code: 'schema' });
    cut ??= { ...document };
    cut[field] = value.slice(0, max);
  }
  return cut ?? raw;
}

/**
 * Validates a manifest given as bytes (decoded as strict UTF-8), JSON text, or an already
 * parsed value. Every problem is reported at once (capped per kind); `ok` results carry
 * the typed manifest, warnings, and the per-class counts of each split whose items were read.
 */
export async function validateManifest(input: Uint8Array | string | unknown, options: ValidateManifestOptions = {}): Promise<ValidationResult> {
  const problems = new ProblemCollector(options.problemsPerKind ?? DEFAULT_PROBLEMS_PER_CODE);
  let policy: ReferencePolicy;
  try {
    policy = referencePolicyFor(options.manifestUri, options.referenceRoots);
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: (error as Error).message, code: 'reference' }] };
  }
  const validation: Validation = {
    options: { checkStorage: true, sampleSize: DEFAULT_SAMPLE_SIZE, seed: 0, ...options },
    problems,
    warnings: [],
    storeFor: options.store ? async () => options.store! : storeFor,
    sample: new Reservoir<SampledImage>(options.sampleSize ?? DEFAULT_SAMPLE_SIZE, options.seed ?? 0),
    policy,
  };
  if (input instanceof Uint8Array) {
    const decoded = decodeManifestBytes(input);
    if (!decoded.ok) return decoded;
    input = decoded.text;
  }
  const text = typeof input === 'string' ? input : undefined;
  let raw: unknown;
  if (text !== undefined) {
    const document = parseJsonDocument(text);
    if (!document.ok) return { ok: false, problems: document.problems };
    raw = document.value;
  } else {
    const tooLarge = sizeProblem(documentSize(input) ?? 0);
    if (tooLarge) return { ok: false, problems: [tooLarge] };
    raw = input;
  }
  raw = cutOversizedArrays(raw, problems);
  const checked = checkSchema(raw);
  if (!checked.ok) problems.addAll(checked.problems);
  let counts: SplitCounts = {};
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    try {
      // A valid document is used as parsed; otherwise each section that passes on its own is checked further.
      counts = await checkDocument(checked.ok ? checked.manifest : (raw as Record<string, unknown>), checked.ok, validation);
    } catch (error) {
      // A storage failure the checks did not anticipate still ends in a report, not a crash.
      problems.add({ path: '', message: `expected storage to answer, got: ${(error as Error).message}`, code: 'reference' });
    }
  }
  if (problems.size > 0 || !checked.ok) {
    const listed = problems.list();
    return { ok: false, problems: text !== undefined ? withPositions(text, listed) : listed };
  }
  return { ok: true, manifest: checked.manifest, warnings: validation.warnings, counts, ...(validation.clip ? { clip: validation.clip } : {}) };
}
