/**
 * Inference slices over shards (issue 15, audit G4): openImageSource opens the stream at the
 * shard that holds the slice's first item, found from the index's per-shard counts, and reads
 * only the shards the slice reaches. Each slice serves exactly its range of the whole list,
 * item for item, and a slice that starts in the second shard never downloads the first.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageSource } from '../../src/data/loader/open';
import { shardSpan } from '../../src/data/loader/shard-source';
import { readShardIndex, ShardIndexError, shardUri, type DataShardIndex } from '../../src/data/shards/format';
import { ShardWriter } from '../../src/data/shards/writer';
import { sliceCount, sliceRange, type PredictImagesListing } from '../../src/manifest';
import { LocalObjectStore, type ReadOptions } from '../../src/storage';
import { colourOf, solidPng, tempDir } from './helpers';

const SIZE = 8;
const ITEMS = 8;

/** Counts every read of each object, so a test sees which shards a slice downloaded. */
class CountingStore extends LocalObjectStore {
  readonly reads = new Map<string, number>();

  private count(uri: string): void {
    this.reads.set(uri, (this.reads.get(uri) ?? 0) + 1);
  }

  override async get(uri: string, options?: ReadOptions): Promise<Buffer> {
    this.count(uri);
    return super.get(uri, options);
  }

  override async getStream(uri: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Readable> {
    this.count(uri);
    return super.getStream(uri, range, options);
  }

  /** Reads of the shard tars alone (the index is read once per open). */
  shardReads(uris: readonly string[]): number[] {
    return uris.map((uri) => this.reads.get(uri) ?? 0);
  }
}

interface Served {
  keys: string[];
  /** Each item's transformed pixels. */
  pixels: Float32Array[];
}

/** What streamPredictions does with a source: pass `skip`, keep `count` items, stop. */
async function serve(listing: PredictImagesListing, store: CountingStore, range?: { start: number; end: number }, batchSize = 3): Promise<Served> {
  const { source, skip, count } = await openImageSource({ images: listing, ...(range ? { range } : {}), imageSize: SIZE, workers: 0, store });
  const served: Served = { keys: [], pixels: [] };
  try {
    for await (const batch of source.batches(0, { batchSize, shuffle: false, seed: 0, transform: 'test', skip })) {
      const stride = batch.images.length / batch.n;
      for (let j = 0; j < batch.n && served.keys.length < count; j++) {
        served.keys.push(batch.keys[j]!);
        served.pixels.push(batch.images.slice(j * stride, (j + 1) * stride));
      }
      if (served.keys.length >= count) break;
    }
  } finally {
    await source.close();
  }
  return served;
}

describe('inference slices over shards', () => {
  let dir: string;
  let indexUri: string;
  let index: DataShardIndex;
  let shardUris: string[];
  let listing: Extract<PredictImagesListing, { kind: 'shards' }>;
  let whole: Served;

  beforeAll(async () => {
    dir = await tempDir('slices');
    const store = new LocalObjectStore();
    // Each sample is two 1 KiB tar members (a small PNG and its .cls): four samples a shard.
    const writer = new ShardWriter({ outUri: path.join(dir, 'shards'), store, prefix: 'part', maxShardBytes: 4 * 2048 });
    for (let i = 0; i < ITEMS; i++) await writer.add({ key: `img${i}`, image: await solidPng(colourOf(i), 10 + (i % 3), 9), label: 0, extension: 'png' });
    await writer.finish();
    indexUri = path.join(dir, 'shards', 'index.json');
    index = await readShardIndex(indexUri, store);
    shardUris = index.shards.map((shard) => shardUri(indexUri, shard));
    listing = { kind: 'shards', indexUri, count: ITEMS };
    const counting = new CountingStore();
    whole = await serve(listing, counting);
  });

  afterAll(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });

  it('has the two shards of four the slices below rely on, and serves the whole list in index order', () => {
    expect(index.shards.map((shard) => shard.count)).toEqual([4, 4]);
    expect(whole.keys).toEqual(Array.from({ length: ITEMS }, (_, i) => `img${i}`));
  });

  it('serves each of two slices its own range of the whole list, item for item; the slice starting in the second shard never reads the first', async () => {
    // Slices of 5: [0, 5) spans both shards, [5, 8) starts one item into the second.
    expect(sliceCount(ITEMS, 5)).toBe(2);
    const reads: number[][] = [];
    for (const slice of [0, 1]) {
      const range = sliceRange(ITEMS, 5, slice);
      const store = new CountingStore();
      const served = await serve(listing, store, range);
      expect(served.keys).toEqual(whole.keys.slice(range.start, range.end));
      expect(served.pixels).toEqual(whole.pixels.slice(range.start, range.end));
      reads.push(store.shardReads(shardUris));
    }
    expect(reads).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });

  it('for every slice size, reads each shard the slice reaches once and no other, and the slices join into the whole list', async () => {
    for (let sliceSize = 1; sliceSize <= ITEMS; sliceSize++) {
      const joined: string[] = [];
      for (let slice = 0; slice < sliceCount(ITEMS, sliceSize); slice++) {
        const range = sliceRange(ITEMS, sliceSize, slice);
        const store = new CountingStore();
        const served = await serve(listing, store, range, 2);
        expect(served.keys, `slice ${slice} of size ${sliceSize}`).toEqual(whole.keys.slice(range.start, range.end));
        // Shard s holds items [4s, 4s + 4).
        const reached = [0, 1].map((s) => (range.start < 4 * s + 4 && range.end > 4 * s ? 1 : 0));
        expect(store.shardReads(shardUris), `slice ${slice} (${range.start}-${range.end}) of size ${sliceSize}`).toEqual(reached);
        joined.push(...served.keys);
      }
      expect(joined).toEqual(whole.keys);
    }
  });

  it('finds the span from the counts alone, passing over empty shards before the range', () => {
    const entry = (count: number): DataShardIndex['shards'][number] => ({ uri: `s${count}.tar`, count, classCounts: count > 0 ? { '0': count } : {} });
    const sparse: DataShardIndex = { version: 1, format: 'webdataset', shards: [entry(3), entry(0), entry(2), entry(4)] };
    expect(shardSpan(sparse, { start: 0, end: 2 })).toMatchObject({ first: 0, firstIndex: 0, skip: 0, shards: [sparse.shards[0]] });
    expect(shardSpan(sparse, { start: 3, end: 5 })).toMatchObject({ first: 2, firstIndex: 3, skip: 0, shards: [sparse.shards[2]] });
    expect(shardSpan(sparse, { start: 4, end: 6 })).toMatchObject({ first: 2, firstIndex: 3, skip: 1, shards: [sparse.shards[2], sparse.shards[3]] });
    expect(shardSpan(sparse, { start: 8, end: 20 })).toMatchObject({ first: 3, firstIndex: 5, skip: 3, shards: [sparse.shards[3]] });
    expect(shardSpan(sparse, { start: 9, end: 9 }).shards).toEqual([]);
  });

  it('refuses an index whose count changed since the images were listed, naming both counts', async () => {
    const error = await openImageSource({ images: { ...listing, count: ITEMS + 1 }, range: { start: 0, end: 5 }, imageSize: SIZE, workers: 0, store: new CountingStore() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardIndexError);
    expect((error as Error).message).toMatch(new RegExp(`holds ${ITEMS} images, but it held ${ITEMS + 1}`));
  });
});
