/**
 * The dataset manifest: one versioned JSON document that says what to train on and how.
 * The Lambda, the CLI and the trainer all read it through this schema, and the JSON
 * Schema users point their editor at (schema/manifest.schema.json) is generated from it,
 * so the three can never disagree about a field. Hyper-parameter ranges are not
 * redefined here: `training` and each sweep entry are the shared SettingsOverrides.
 */
import { z } from 'zod';
import { PresetName, SettingsOverrides } from '../contracts/settings';

export const MANIFEST_VERSION = 1 as const;

/** A manifest larger than this is refused before parsing: big item lists belong in referenced files. */
export const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;
/** Most sweep entries one manifest may ask for (each is one Batch array child). */
export const MAX_SWEEP_ENTRIES = 1000;
/** Most classes a manifest may name. */
export const MAX_CLASSES = 100_000;

/** File extensions the image decoder (sharp) reads; matched case-insensitively. */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'avif', 'tif', 'tiff'] as const;

/** A name that is safe in bucket keys and file names: the run name keys summaries and results. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * A location: `s3://bucket/prefix`, an absolute local path, or a path relative to the
 * manifest's own location (resolved with resolveReference).
 */
export const UriString = z.string().min(1).max(2048).describe('s3://bucket/key, an absolute path, or a path relative to the manifest');

/** Names go into text prompts and label look-ups: no leading or trailing spaces, no line breaks. */
const ClassName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^\S(.*\S)?$/, 'a name without leading or trailing spaces or line breaks');

export const ClassEntry = z.union([
  ClassName.describe('class name'),
  z.strictObject({
    name: ClassName.describe('Class name, used in the text prompts ("a photo of a [name]."); "_" reads as a space.'),
    description: z.string().max(4096).optional().describe('Free text for people; not used by training.'),
  }),
]);
export type ClassEntry = z.infer<typeof ClassEntry>;

/** A class index (0-based, in the order of `classes`) or a class name. */
export const Label = z.union([z.number().int().min(0), z.string().min(1).max(256)]);
export type Label = z.infer<typeof Label>;

export const Item = z.strictObject({
  /** Relative to `images`: no `..`, not absolute, with an image extension. */
  path: z.string().min(1).max(1024).describe('Image path relative to `images`, e.g. "apple/0001.png".'),
  label: Label.describe('Class index (0-based) or class name.'),
});
export type Item = z.infer<typeof Item>;

export const InlineItems = z.strictObject({
  items: z.array(Item).describe('The items themselves; for small sets (the whole manifest must stay under 10 MB).'),
});
export const JsonlItems = z.strictObject({
  jsonl: UriString.describe('A JSON Lines file, one {"path": ..., "label": ...} per line.'),
});
export const ListItems = z.strictObject({
  list: UriString.describe('A text file with one "relative/path label" per line (ImageNet-LT / Places-LT style); label is an index or a class name.'),
});
export const ShardItems = z.strictObject({
  shards: UriString.describe('A WebDataset shard index (index.json) listing tar shards with their item counts.'),
});

/** Where a split's items come from: exactly one of the four forms. */
export const ItemSource = z.union([InlineItems, JsonlItems, ListItems, ShardItems]).meta({ id: 'ItemSource' });
export type ItemSource = z.infer<typeof ItemSource>;
export const ITEM_SOURCE_KINDS = ['items', 'jsonl', 'list', 'shards'] as const;
export type ItemSourceKind = (typeof ITEM_SOURCE_KINDS)[number];

/** The shared settings overrides, named so the JSON Schema defines them once. */
const RunOverrides = SettingsOverrides.meta({ id: 'SettingsOverrides' });

export const Evaluation = z.strictObject({
  /**
   * Per-class training counts used only to group classes into head / medium / tail
   * (> 100, 20-100, < 20). CIFAR-100-LT β = 50 and 10 reuse the β = 100 split, so their
   * manifests give β = 100's counts here. Default: the actual training counts.
   */
  groupCounts: z
    .array(z.number().int().min(0))
    .optional()
    .describe('Per-class training counts (in class order) used only for head/medium/tail grouping; default: the real training counts.'),
});
export type Evaluation = z.infer<typeof Evaluation>;

/**
 * Marks a sweep written by `sage repro` (src/repro): the paper table it reproduces, the
 * dataset whose rows and preset it uses, and the paper's row label of each sweep entry.
 */
export const ReproMarker = z.strictObject({
  table: z
    .string()
    .regex(/^[a-z0-9]{1,16}$/, 'a table id such as "5" or "alpha" (sage repro --list)')
    .describe('The paper table or sensitivity grid reproduced: an id of `sage repro --list`, e.g. "5" or "alpha".'),
  dataset: PresetName.describe("The paper's dataset whose rows and Table 8 preset the sweep uses."),
  toy: z.boolean().describe("True when the data or the CLIP weights are not the paper's (a procedural dataset, a small CLIP): the paper's figures are not comparable."),
  rows: z.array(z.string().min(1).max(200)).min(1).max(MAX_SWEEP_ENTRIES).describe("The paper's row label of each sweep entry, in sweep order."),
});
export type ReproMarker = z.infer<typeof ReproMarker>;

export const Manifest = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema for editors; ignored by the pipeline.'),
  version: z.literal(MANIFEST_VERSION).describe('Manifest format version; always 1.'),
  kind: z.literal('train').optional().describe('"train" (the default when absent): a training manifest. Inference manifests say "predict".'),
  name: z
    .string()
    .regex(SAFE_NAME, 'a name of letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128 characters')
    .describe('Run name: keys the results and the summary of every run of this manifest.'),
  description: z.string().max(4096).optional().describe('Free text for people.'),
  classes: z
    .array(ClassEntry)
    .min(2)
    .max(MAX_CLASSES)
    .describe('The classes in label order: names, or {name, description} objects.'),
  images: UriString.optional().describe(
    'Root of the images (local folder or s3://bucket/prefix/); item paths are relative to it. Required unless both splits are shards.',
  ),
  train: ItemSource.describe('Training items.'),
  test: ItemSource.describe('Test items.'),
  val: ItemSource.optional().describe('Held-out validation items: evaluated during training (`--eval-every`) instead of the test split, which is then used only at the end.'),
  weights: UriString.describe('CLIP weights folder in the Hugging Face layout (config.json, model.safetensors, tokenizer.json).'),
  training: RunOverrides.optional().describe('Method, preset and hyper-parameter overrides; defaults: Sage with the CIFAR-100-LT β=100 values.'),
  sweep: z
    .array(RunOverrides)
    .min(1)
    .max(MAX_SWEEP_ENTRIES)
    .optional()
    .describe('Variations run as parallel jobs; each entry overrides `training`. Omit for a single run.'),
  evaluation: Evaluation.optional().describe('Evaluation options.'),
  repro: ReproMarker.optional().describe('Set by `sage repro`: this sweep reproduces a table of the paper (docs/reproducing.md).'),
});
export type Manifest = z.infer<typeof Manifest>;

/** Images to label, for an inference manifest: one of three forms. */
export const PredictImages = z.union([
  z.strictObject({
    folder: UriString.describe('A local folder or an s3:// prefix: every image file under it (recursively), in key order.'),
  }),
  z.strictObject({
    list: UriString.describe('A text file with one image path per line, relative to `root`.'),
    root: UriString.describe('The folder or s3:// prefix the listed paths are relative to.'),
  }),
  z.strictObject({
    shards: UriString.describe('A WebDataset shard index (index.json); labels in the shards, if any, are ignored.'),
  }),
]);
export type PredictImages = z.infer<typeof PredictImages>;

/** Most images one inference manifest may label. */
export const MAX_PREDICT_IMAGES = 50_000_000;

/**
 * An inference manifest (SPEC section 8): label new images with a trained adapter. Uploaded
 * to manifests/ like a training manifest, validated by the same module, run by the same
 * container and queue as an array job over slices of the images.
 */
export const PredictManifest = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema for editors; ignored by the pipeline.'),
  version: z.literal(MANIFEST_VERSION).describe('Manifest format version; always 1.'),
  kind: z.literal('predict').describe('"predict": label images with a trained adapter.'),
  name: z
    .string()
    .regex(SAFE_NAME, 'a name of letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128 characters')
    .describe('Keys the results and the summary of this inference.'),
  description: z.string().max(4096).optional().describe('Free text for people.'),
  adapter: UriString.describe("A trained adapter: a run's results folder (runs/<runId>/<sweepIndex>/, holding adapter.json and adapter.safetensors) or its adapter.json."),
  weights: UriString.describe('The CLIP weights folder the adapter was trained on (Hugging Face layout).'),
  images: PredictImages.describe('The images to label.'),
  topK: z.number().int().min(1).max(100).optional().describe('Classes reported per image, best first. Default 5.'),
  tte: z.boolean().optional().describe('Five-crop test-time ensemble (resize to 248, corners and centre). Default false.'),
  sliceSize: z.number().int().min(1).max(200_000).optional().describe("Images per Batch array child (at most 200,000: a slice's predictions are written in one piece). Default 20,000."),
});
export type PredictManifest = z.infer<typeof PredictManifest>;

/** Defaults of an inference manifest's optional fields. */
export const PREDICT_DEFAULTS = { topK: 5, tte: false, sliceSize: 20_000 } as const;

/** Which kind a parsed manifest declares: `predict`, or training when absent or anything else (the schema then says what is wrong). */
export function manifestKind(value: unknown): 'train' | 'predict' {
  return value !== null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'predict' ? 'predict' : 'train';
}

/** A problem found in a manifest or in a file it references. */
export interface ManifestProblem {
  /** JSON path (`train.items[3].label`) or referenced file and line (`train.txt:17`). */
  path: string;
  /** What was expected and what came. */
  message: string;
  /** 1-based line (in the manifest for syntax errors, in the referenced file otherwise). */
  line?: number;
  /** 1-based column of a syntax error. */
  column?: number;
  /** The kind of problem, for capping and for programs that react to one kind. */
  code?: ProblemCode;
}

export const PROBLEM_CODES = [
  'syntax',
  'too-large',
  'schema',
  'unknown-field',
  'missing-field',
  'duplicate-class',
  'label',
  'empty-class',
  'image-path',
  'settings',
  'group-counts',
  'reference',
  'weights',
  'image-missing',
  'shard-index',
  'limit',
  'encoding',
  'estimate',
  'adapter',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** The name of each class, in label order. */
export function classNames(manifest: Pick<Manifest, 'classes'>): string[] {
  return manifest.classes.map((entry) => (typeof entry === 'string' ? entry : entry.name));
}

/** Which of the four forms a split uses. */
export function itemSourceKind(source: ItemSource): ItemSourceKind {
  if ('items' in source) return 'items';
  if ('jsonl' in source) return 'jsonl';
  if ('list' in source) return 'list';
  return 'shards';
}
