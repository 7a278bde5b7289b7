/**
 * The common end of every ingestion command: both splits written as WebDataset shards under
 * `<out>/train/` and `<out>/test/`, and `<out>/manifest.json` referring to their indexes
 * (relative references, so the folder can be moved or uploaded to a bucket as a whole).
 */
import { Manifest, MANIFEST_VERSION, type ClassEntry, type Evaluation } from '../../manifest/schema';
import type { SettingsOverrides } from '../../contracts/settings';
import { joinUri, storeFor, type ObjectStore } from '../../storage';
import { SHARD_INDEX_NAME, ShardWriter } from '../shards/writer';
import { mapOrdered } from './ordered-map';

/** Default weights reference written into prepared manifests: a CLIP folder beside the dataset. */
export const DEFAULT_WEIGHTS = 'weights/clip-vit-base-patch16';
export const MANIFEST_FILE = 'manifest.json';

/** Options every `prepare` command shares. */
export interface PrepareOutputOptions {
  /** Output folder (local path or s3://bucket/prefix): shards, indexes and manifest.json. */
  out: string;
  /** Manifest name (letters, digits, ".", "_", "-"); each command has its own default. */
  name?: string;
  /** CLIP weights reference written into the manifest; default "weights/clip-vit-base-patch16" (relative to the manifest). */
  weights?: string;
  /** Largest shard in bytes; default 256 MiB. */
  maxShardBytes?: number;
  /** Images read at once while copying; default 16. */
  concurrency?: number;
  /** Seed of every random choice (long-tailed subsets, held-out test images); default 0. */
  seed?: number;
  /** Store for inputs and outputs; default storeFor(uri) per location. */
  store?: ObjectStore;
  /** Called after every shard-sized step and at the end of each split. */
  onProgress?: (progress: PrepareProgress) => void;
}

export interface PrepareProgress {
  split: 'train' | 'test';
  written: number;
  total: number;
}

/** One image to copy into a shard. */
export interface IngestSample {
  key: string;
  label: number;
  /** The encoded image (read or produced on demand, so only a window of them is in memory). */
  image: () => Promise<Uint8Array>;
}

export interface PreparedDataset {
  manifestUri: string;
  manifest: Manifest;
  /** Training images per class, in class order. */
  trainCounts: number[];
  testCount: number;
}

export interface DatasetContent {
  classes: ClassEntry[];
  train: readonly IngestSample[];
  test: readonly IngestSample[];
  defaultName: string;
  description?: string;
  training?: SettingsOverrides;
  evaluation?: Evaluation;
}

async function writeSplit(split: 'train' | 'test', samples: readonly IngestSample[], options: PrepareOutputOptions, store: ObjectStore): Promise<void> {
  const writer = new ShardWriter({ outUri: joinUri(options.out, split), store, prefix: split, maxShardBytes: options.maxShardBytes });
  let written = 0;
  const step = Math.max(1, Math.ceil(samples.length / 100));
  for await (const sample of mapOrdered(samples, options.concurrency ?? 16, async (s) => ({ ...s, bytes: await s.image() }))) {
    await writer.add({ key: sample.key, label: sample.label, image: sample.bytes });
    written++;
    if (written % step === 0 || written === samples.length) options.onProgress?.({ split, written, total: samples.length });
  }
  await writer.finish();
}

/** Writes both splits and the manifest; the manifest is checked against its schema before it is written. */
export async function writePreparedDataset(content: DatasetContent, options: PrepareOutputOptions): Promise<PreparedDataset> {
  const store = options.store ?? (await storeFor(options.out));
  await writeSplit('train', content.train, options, store);
  await writeSplit('test', content.test, options, store);
  const manifest = Manifest.parse({
    version: MANIFEST_VERSION,
    name: options.name ?? content.defaultName,
    ...(content.description ? { description: content.description } : {}),
    classes: content.classes,
    train: { shards: `train/${SHARD_INDEX_NAME}` },
    test: { shards: `test/${SHARD_INDEX_NAME}` },
    weights: options.weights ?? DEFAULT_WEIGHTS,
    ...(content.training ? { training: content.training } : {}),
    ...(content.evaluation ? { evaluation: content.evaluation } : {}),
  });
  const manifestUri = joinUri(options.out, MANIFEST_FILE);
  await store.put(manifestUri, `${JSON.stringify(manifest, null, 2)}\n`, { contentType: 'application/json' });
  const trainCounts = content.classes.map(() => 0);
  for (const sample of content.train) trainCounts[sample.label]!++;
  return { manifestUri, manifest, trainCounts, testCount: content.test.length };
}
