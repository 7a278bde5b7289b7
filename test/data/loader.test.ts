import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ImageBatch } from '../../src/contracts/batches';
import type { Manifest } from '../../src/manifest';
import { LocalObjectStore } from '../../src/storage';
import { openBatchSource, type LoaderBatchSource, type OpenBatchSourceOptions } from '../../src/data/loader/open';
import { DecodePool } from '../../src/data/decode/pool';
import { LoaderBadImageError, type BadImageReport } from '../../src/data/errors';
import { ShardWriter } from '../../src/data/shards/writer';
import { colourOf, normalised, solidPng, tempDir } from './helpers';

const store = new LocalObjectStore();
const CLASSES = ['ant', 'bee', 'cat', 'dog'];
const ITEMS = 40;
const SIZE = 8;
const opened: LoaderBatchSource[] = [];

/** Item i: colour colourOf(i), label i mod 4, key "c<label>/i<i>". Item `corrupt` holds bytes that are not an image. */
async function shardDataset(options: { corrupt?: number; maxShardBytes?: number } = {}): Promise<{ manifest: Manifest; manifestUri: string }> {
  const dir = await tempDir('loader');
  const writer = new ShardWriter({ outUri: path.join(dir, 'train'), store, prefix: 'train', maxShardBytes: options.maxShardBytes ?? 2000 });
  for (let i = 0; i < ITEMS; i++) {
    const image = i === options.corrupt ? Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from('truncated garbage')]) : await solidPng(colourOf(i), 12 + (i % 5), 10 + (i % 3));
    await writer.add({ key: `c${i % 4}/i${i}`, image, label: i % 4, extension: 'png' });
  }
  await writer.finish();
  const manifest: Manifest = { version: 1, name: 'loader-test', classes: CLASSES, train: { shards: 'train/index.json' }, test: { shards: 'train/index.json' }, weights: 'w' };
  return { manifest, manifestUri: path.join(dir, 'manifest.json') };
}

async function open(options: Omit<OpenBatchSourceOptions, 'imageSize' | 'split'> & Partial<OpenBatchSourceOptions>): Promise<LoaderBatchSource> {
  const source = await openBatchSource({ split: 'train', imageSize: SIZE, workers: 0, ...options });
  opened.push(source);
  return source;
}

async function collect(batches: AsyncIterable<ImageBatch>): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const batch of batches) out.push(batch);
  return out;
}

const idOf = (key: string): number => Number(key.split('/i')[1]);

afterAll(async () => {
  await Promise.all(opened.map((source) => source.close()));
});

describe('openBatchSource over shards', () => {
  it('serves every item once per epoch with its own pixels and label (test transform, source order)', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const source = await open({ manifest, manifestUri });
    expect(source.count).toBe(ITEMS);
    expect(Array.from(await source.labels())).toEqual(Array.from({ length: ITEMS }, (_, i) => i % 4));
    const batches = await collect(source.batches(0, { batchSize: 16, shuffle: false, seed: 1, transform: 'test' }));
    expect(batches.map((b) => b.n)).toEqual([16, 16, 8]);
    const keys = batches.flatMap((b) => b.keys);
    expect(keys.map(idOf)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    for (const batch of batches) {
      expect(batch.images.length).toBe(batch.n * SIZE * SIZE * 3);
      expect(batch.crops).toBe(1);
      expect(batch.size).toBe(SIZE);
      batch.keys.forEach((key, j) => {
        const id = idOf(key);
        expect(batch.labels[j]).toBe(id % 4);
        const colour = colourOf(id);
        // A solid image stays solid through resize and crop: every pixel is the normalised colour.
        for (const pixel of [0, 27, SIZE * SIZE - 1]) {
          for (let c = 0; c < 3; c++) expect(batch.images[(j * SIZE * SIZE + pixel) * 3 + c]).toBeCloseTo(normalised(colour[c]!, c), 4);
        }
      });
    }
  });

  it('repeats an epoch exactly for the same seed and epoch, and reorders for another epoch', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const source = await open({ manifest, manifestUri, shuffleBuffer: 8, workers: 1 });
    const epoch = (e: number, seed = 5): Promise<ImageBatch[]> => collect(source.batches(e, { batchSize: 10, shuffle: true, seed, transform: 'train' }));
    const first = await epoch(3);
    const again = await epoch(3);
    expect(again.flatMap((b) => b.keys)).toEqual(first.flatMap((b) => b.keys));
    again.forEach((batch, i) => expect(Buffer.from(batch.images.buffer).equals(Buffer.from(first[i]!.images.buffer))).toBe(true));
    const firstKeys = first.flatMap((b) => b.keys);
    expect([...firstKeys].sort()).toEqual(Array.from({ length: ITEMS }, (_, i) => `c${i % 4}/i${i}`).sort());
    expect(firstKeys.map(idOf)).not.toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    const next = (await epoch(4)).flatMap((b) => b.keys);
    expect(next).not.toEqual(firstKeys);
    expect([...next].sort()).toEqual([...firstKeys].sort());
    const otherSeed = (await epoch(3, 6)).flatMap((b) => b.keys);
    expect(otherSeed).not.toEqual(firstKeys);
  });

  it('gives an item the same augmentation whichever batch size or worker count decodes it', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const threaded = await open({ manifest, manifestUri, workers: 2 });
    const inline = await open({ manifest, manifestUri, workers: 0 });
    const a = await collect(threaded.batches(1, { batchSize: 7, shuffle: true, seed: 9, transform: 'train' }));
    const b = await collect(inline.batches(1, { batchSize: 40, shuffle: true, seed: 9, transform: 'train' }));
    const flat = (batches: ImageBatch[]): Float32Array => Float32Array.from(batches.flatMap((x) => Array.from(x.images)));
    expect(b[0]!.keys).toEqual(a.flatMap((x) => x.keys));
    expect(Buffer.from(flat(a).buffer).equals(Buffer.from(flat(b).buffer))).toBe(true);
  });

  it('skips the first items of an epoch order when resuming', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const source = await open({ manifest, manifestUri });
    const options = { batchSize: 6, shuffle: true, seed: 2, transform: 'test' as const };
    const full = (await collect(source.batches(0, options))).flatMap((b) => b.keys);
    const resumed = (await collect(source.batches(0, { ...options, skip: 13 }))).flatMap((b) => b.keys);
    expect(resumed).toEqual(full.slice(13));
  });

  it('produces five crops per item for the test-time ensemble, item-major', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const source = await open({ manifest, manifestUri });
    const [batch] = await collect(source.batches(0, { batchSize: 3, shuffle: false, seed: 0, transform: 'tte' }));
    expect(batch!.crops).toBe(5);
    expect(batch!.images.length).toBe(3 * 5 * SIZE * SIZE * 3);
    // Rows 5..9 are item 1's crops: all its colour.
    const colour = colourOf(1);
    for (let crop = 5; crop < 10; crop++) expect(batch!.images[crop * SIZE * SIZE * 3]).toBeCloseTo(normalised(colour[0], 0), 4);
  });

  it('keeps at most `prefetch` batches in flight while the consumer is slow', async () => {
    const { manifest, manifestUri } = await shardDataset();
    const source = await open({ manifest, manifestUri, prefetch: 2 });
    let batches = 0;
    for await (const batch of source.batches(0, { batchSize: 4, shuffle: false, seed: 0, transform: 'test' })) {
      batches++;
      expect(batch.n).toBe(4);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    expect(batches).toBe(10);
    expect(source.stats.maxInFlight).toBe(2);
  });

  it("skips a corrupt image with onBadImage 'skip', reporting its key, and keeps every other label right", async () => {
    const { manifest, manifestUri } = await shardDataset({ corrupt: 13 });
    const reports: BadImageReport[] = [];
    const source = await open({ manifest, manifestUri, onBadImage: 'skip', reportBadImage: (r) => reports.push(r) });
    const batches = await collect(source.batches(0, { batchSize: 8, shuffle: false, seed: 0, transform: 'test' }));
    const keys = batches.flatMap((b) => b.keys);
    expect(keys).toHaveLength(ITEMS - 1);
    expect(keys).not.toContain('c1/i13');
    expect(reports).toMatchObject([{ key: 'c1/i13', label: 1, reason: 'corrupt' }]);
    expect(source.stats.skipped.map((r) => r.key)).toEqual(['c1/i13']);
    for (const batch of batches) batch.keys.forEach((key, j) => expect(batch.labels[j]).toBe(idOf(key) % 4));
  });

  it('closes up the slot of a skipped image when worker threads write into the shared batch, keeping every other item its own pixels', async () => {
    const { manifest, manifestUri } = await shardDataset({ corrupt: 5 });
    const source = await open({ manifest, manifestUri, onBadImage: 'skip', reportBadImage: () => undefined, workers: 2, tasksPerWorker: 3 });
    const batches = await collect(source.batches(0, { batchSize: 8, shuffle: false, seed: 0, transform: 'test' }));
    expect(batches[0]!.n).toBe(7);
    expect(batches[0]!.images.length).toBe(7 * SIZE * SIZE * 3);
    for (const batch of batches) {
      batch.keys.forEach((key, j) => {
        const colour = colourOf(idOf(key));
        for (const pixel of [0, SIZE * SIZE - 1]) for (let c = 0; c < 3; c++) expect(batch.images[(j * SIZE * SIZE + pixel) * 3 + c]).toBeCloseTo(normalised(colour[c]!, c), 4);
      });
    }
    expect(batches.flatMap((b) => b.keys)).toHaveLength(ITEMS - 1);
  });

  it("stops the epoch at a corrupt image with onBadImage 'fail', naming its key", async () => {
    const { manifest, manifestUri } = await shardDataset({ corrupt: 13 });
    const source = await open({ manifest, manifestUri, onBadImage: 'fail', reportBadImage: () => undefined, workers: 1 });
    const run = collect(source.batches(0, { batchSize: 8, shuffle: false, seed: 0, transform: 'test' }));
    await expect(run).rejects.toBeInstanceOf(LoaderBadImageError);
    await expect(run).rejects.toThrow(/image "c1\/i13" \(label 1\) is corrupt/);
  });
});

describe('openBatchSource over item lists', () => {
  async function listDataset(): Promise<{ manifest: Manifest; manifestUri: string }> {
    const dir = await tempDir('list');
    const lines: string[] = [];
    for (let i = 0; i < 12; i++) {
      const file = path.join(dir, 'images', CLASSES[i % 4]!, `${i}.png`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, await solidPng(colourOf(i)));
      lines.push(JSON.stringify({ path: `${CLASSES[i % 4]}/${i}.png`, label: i % 2 === 0 ? i % 4 : CLASSES[i % 4] }));
    }
    lines.push(JSON.stringify({ path: 'dog/missing.png', label: 3 }));
    await writeFile(path.join(dir, 'train.jsonl'), lines.join('\n'));
    const manifest: Manifest = {
      version: 1,
      name: 'list-test',
      classes: CLASSES,
      images: 'images',
      train: { jsonl: 'train.jsonl' },
      test: { items: [{ path: 'ant/0.png', label: 'ant' }] },
      weights: 'w',
    };
    return { manifest, manifestUri: path.join(dir, 'manifest.json') };
  }

  it('reads one image per item from the image root with a full seeded permutation, reporting a missing one', async () => {
    const { manifest, manifestUri } = await listDataset();
    const reports: BadImageReport[] = [];
    const source = await open({ manifest, manifestUri, onBadImage: 'skip', reportBadImage: (r) => reports.push(r) });
    expect(source.count).toBe(13);
    expect(Array.from(await source.labels())).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 3]);
    const batches = await collect(source.batches(2, { batchSize: 5, shuffle: true, seed: 4, transform: 'train' }));
    const keys = batches.flatMap((b) => b.keys);
    expect(keys).toHaveLength(12);
    expect(reports).toMatchObject([{ key: 'dog/missing.png', reason: 'missing' }]);
    const again = (await collect(source.batches(2, { batchSize: 5, shuffle: true, seed: 4, transform: 'train' }))).flatMap((b) => b.keys);
    expect(again).toEqual(keys);
    for (const batch of batches) {
      batch.keys.forEach((key, j) => {
        const id = Number(path.basename(key, '.png'));
        expect(batch.labels[j]).toBe(id % 4);
        expect(batch.images[j * SIZE * SIZE * 3]).toBeCloseTo(normalised(colourOf(id)[0], 0), 4);
      });
    }
  });

  it('reads an inline test split', async () => {
    const { manifest, manifestUri } = await listDataset();
    const source = await open({ manifest, manifestUri, split: 'test' });
    const [batch] = await collect(source.batches(0, { batchSize: 4, shuffle: false, seed: 0, transform: 'test' }));
    expect(batch!.keys).toEqual(['ant/0.png']);
    expect(Array.from(batch!.labels)).toEqual([0]);
  });
});

describe('DecodePool', () => {
  it('refuses a target outside shared memory when worker threads would have to write into it', async () => {
    const pool = await DecodePool.open({ workers: 1 });
    try {
      const png = await solidPng([1, 2, 3]);
      await expect(pool.run(png, { kind: 'test', size: SIZE, seed: 0 }, new Float32Array(SIZE * SIZE * 3))).rejects.toThrow(/SharedArrayBuffer/);
      const shared = new Float32Array(new SharedArrayBuffer(2 * SIZE * SIZE * 3 * 4));
      await pool.run(png, { kind: 'test', size: SIZE, seed: 0 }, shared.subarray(SIZE * SIZE * 3));
      expect(shared[0]).toBe(0); // the first slot is untouched
      expect(shared[SIZE * SIZE * 3 + 2]).toBeCloseTo(normalised(3, 2), 4);
    } finally {
      await pool.close();
    }
  });
});
