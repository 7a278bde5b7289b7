/**
 * `openBatchSource`: the loader the trainer uses. It reads a manifest split (shards, or items
 * named inline / in JSONL / in a list file) and serves transformed Float32 NHWC batches
 * through the BatchSource contract.
 */
import { classNames, readItems, type Manifest, type PredictImagesListing } from '../../manifest';
import { imagesRootUri, imageUri, resolveReference } from '../../manifest/references';
import { storeFor, type ObjectStore } from '../../storage';
import { DecodePool } from '../decode/pool';
import { LoaderOptionsError, type BadImageReport } from '../errors';
import { readShardIndex, ShardIndexError } from '../shards/format';
import type { ResizedCropOptions } from '../transforms/geometry';
import type { ItemStream } from './item-stream';
import { ListItemStream, type ListedItem } from './list-source';
import { DecodedBatchSource, type OnBadImage } from './batcher';
import { ShardItemStream, shardSpan } from './shard-source';

export interface OpenBatchSourceOptions {
  manifest: Manifest;
  /** Where the manifest lives: relative references resolve against its folder. */
  manifestUri?: string;
  /** `val`: the manifest's optional held-out split (evaluated during training); refused when the manifest has none. */
  split: 'train' | 'test' | 'val';
  /** The model's input side S (224 for ViT-B/16). */
  imageSize: number;
  /** Decode worker threads; default = CPU cores; 0 decodes on the calling thread. */
  workers?: number;
  /** Images each worker transforms at once; default 2. */
  tasksPerWorker?: number;
  /** Batches decoded ahead of the consumer (the memory bound); default 2. */
  prefetch?: number;
  /** A missing or corrupt image: skip it (and report it) or stop the epoch; default 'fail'. */
  onBadImage?: OnBadImage;
  /** Receives every bad image; default: one console.warn line naming the key. */
  reportBadImage?: (report: BadImageReport) => void;
  /** Store for every location; default storeFor(uri). */
  store?: ObjectStore;
  /** Shards: samples in the shuffle buffer; default 1000. */
  shuffleBuffer?: number;
  /** Shards: shards downloading ahead of the one being read; default 1. */
  prefetchShards?: number;
  /** Shards: bytes buffered per downloading shard; default 64 MiB. */
  prefetchBytes?: number;
  /** Item lists: concurrent image reads; default 16. */
  readConcurrency?: number;
  /** Random-resized-crop ranges; default SPEC's scale [0.08, 1], ratio [3/4, 4/3]. */
  crop?: ResizedCropOptions;
}

export type LoaderBatchSource = DecodedBatchSource;

function warnBadImage(report: BadImageReport): void {
  console.warn(`data: skipping image "${report.key}" (label ${report.label}, ${report.reason}): ${report.detail}`);
}

async function itemStreamFor(options: OpenBatchSourceOptions): Promise<ItemStream> {
  const { manifest, manifestUri, split } = options;
  const source = manifest[split];
  if (source === undefined) throw new LoaderOptionsError(`the manifest has no "${split}" split; expected an item source there (items, jsonl, list or shards)`);
  if ('shards' in source) {
    const indexUri = resolveReference(source.shards, manifestUri);
    const store = options.store ?? (await storeFor(indexUri));
    const index = await readShardIndex(indexUri, store);
    return new ShardItemStream(index, indexUri, store, {
      shuffleBuffer: options.shuffleBuffer,
      prefetchShards: options.prefetchShards,
      prefetchBytes: options.prefetchBytes,
    });
  }
  if (!manifest.images) throw new LoaderOptionsError(`the ${split} split names images by path, so the manifest needs "images" (their root folder); it has none`);
  const root = imagesRootUri(manifest.images, manifestUri);
  const listed: ListedItem[] = [];
  for await (const item of readItems(source, { manifestUri, store: options.store, classNames: classNames(manifest), split })) {
    listed.push({ key: item.path, label: item.label, uri: imageUri(root, item.path) });
  }
  return new ListItemStream(listed, options.store ?? (await storeFor(root)), options.readConcurrency);
}

/** Opens a split for reading; close() the result to stop its worker threads. */
export async function openBatchSource(options: OpenBatchSourceOptions): Promise<LoaderBatchSource> {
  const { imageSize } = options;
  const prefetch = options.prefetch ?? 2;
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new LoaderOptionsError(`imageSize must be a positive integer, got ${imageSize}`);
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new LoaderOptionsError(`prefetch must be a positive integer (batches in flight), got ${prefetch}`);
  const onBadImage = options.onBadImage ?? 'fail';
  if (onBadImage !== 'skip' && onBadImage !== 'fail') throw new LoaderOptionsError(`onBadImage must be 'skip' or 'fail', got ${JSON.stringify(onBadImage)}`);
  const source = await itemStreamFor(options);
  if (source.count === 0) throw new LoaderOptionsError(`the ${options.split} split has no items`);
  const pool = await DecodePool.open({ workers: options.workers, tasksPerWorker: options.tasksPerWorker });
  return new DecodedBatchSource(source, pool, {
    imageSize,
    prefetch,
    onBadImage,
    reportBadImage: options.reportBadImage ?? warnBadImage,
    crop: options.crop,
  });
}

export interface OpenImageSourceOptions {
  /** The images to read: listed (folder, list file, the CLI's paths) or a shard index. */
  images: PredictImagesListing;
  /** The items [start, end) of the listing to serve (an inference slice); default all. */
  range?: { start: number; end: number };
  imageSize: number;
  workers?: number;
  onBadImage?: OnBadImage;
  reportBadImage?: (report: BadImageReport) => void;
  store?: ObjectStore;
  prefetch?: number;
}

/**
 * Unlabelled images for inference, through the same decode pool and test transforms as
 * evaluation. Listed images come in listing order; shards in index order, the stream opened at
 * the shard that holds range.start and limited to the shards the range reaches (the caller passes
 * the returned `skip`, the range's items before it in that shard, and stops after `count` items).
 */
export async function openImageSource(options: OpenImageSourceOptions): Promise<{ source: LoaderBatchSource; skip: number; count: number }> {
  const { images, imageSize } = options;
  let item: ItemStream;
  let skip = 0;
  let count: number;
  if (images.kind === 'listed') {
    const range = options.range ?? { start: 0, end: images.images.length };
    const listed = images.images.slice(range.start, range.end).map((image) => ({ key: image.key, label: 0, uri: image.uri }));
    const store = options.store ?? (await storeFor(listed[0]?.uri ?? ''));
    item = new ListItemStream(listed, store);
    count = listed.length;
  } else {
    const store = options.store ?? (await storeFor(images.indexUri));
    const index = await readShardIndex(images.indexUri, store);
    const total = index.shards.reduce((sum, shard) => sum + shard.count, 0);
    // The range was cut from the listing's count: an index rewritten since would put it over other images.
    if (total !== images.count) throw new ShardIndexError(`shard index ${images.indexUri} now holds ${total} images, but it held ${images.count} when the images were listed`);
    const range = options.range ?? { start: 0, end: total };
    // Open the stream at the shard holding range.start (from the index's counts), so a slice
    // reads its own shards rather than downloading and parsing every earlier one to skip them.
    const span = shardSpan(index, range);
    item = new ShardItemStream({ ...index, shards: span.shards }, images.indexUri, store, { firstIndex: span.firstIndex });
    skip = span.skip;
    count = Math.max(0, Math.min(total, range.end) - Math.min(total, range.start));
  }
  const pool = await DecodePool.open({ workers: options.workers });
  const source = new DecodedBatchSource(item, pool, {
    imageSize,
    prefetch: options.prefetch ?? 2,
    onBadImage: options.onBadImage ?? 'skip',
    reportBadImage: options.reportBadImage ?? warnBadImage,
  });
  return { source, skip, count };
}
