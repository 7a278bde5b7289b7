import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/storage';
import { Manifest } from '../../src/manifest/schema';
import { validateManifest } from '../../src/manifest';
import { prepareCifar100Lt } from '../../src/data/ingest/prepare-cifar';
import { longTailCounts, selectLongTail } from '../../src/data/ingest/long-tail';
import { readCifar100Archive } from '../../src/data/ingest/cifar';
import { readShardIndex, shardUri } from '../../src/data/shards/format';
import { readShards } from '../../src/data/shards/reader';
import { binaryArchive, CLASS_NAMES, cifarPixels, pythonArchive, tinyCifar } from './cifar-fixtures';
import { tempDir } from './helpers';

const store = new LocalObjectStore();

/** SPEC's rule, written out independently: floor(500 · β^(-i/99)). */
function specCount(i: number, beta: number): number {
  return Math.floor(500 * Math.pow(beta, -i / 99));
}

describe('long-tailed counts', () => {
  it('keeps 10,847 CIFAR-100 training images at β = 100, from 500 down to 5', () => {
    const counts = longTailCounts(100, 500, 100);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10847);
    expect(counts[0]).toBe(500);
    expect(counts[99]).toBe(5);
    for (const beta of [100, 50, 10]) counts.forEach((_, i) => expect(longTailCounts(100, 500, beta)[i]).toBe(specCount(i, beta)));
  });

  it('groups β = 100 classes 35 / 35 / 30 into head (> 100), medium (20-100) and tail (< 20)', () => {
    const counts = longTailCounts(100, 500, 100);
    expect(counts.filter((n) => n > 100)).toHaveLength(35);
    expect(counts.filter((n) => n >= 20 && n <= 100)).toHaveLength(35);
    expect(counts.filter((n) => n < 20)).toHaveLength(30);
  });

  it('selects exactly the count of every class, repeatably for a seed and differently for another', () => {
    const labels = Array.from({ length: 5000 }, (_, i) => i % 10);
    const counts = longTailCounts(10, 500, 10);
    const kept = selectLongTail(labels, counts, 3);
    counts.forEach((n, c) => expect(kept.filter((i) => labels[i] === c)).toHaveLength(n));
    expect(selectLongTail(labels, counts, 3)).toEqual(kept);
    expect(selectLongTail(labels, counts, 4)).not.toEqual(kept);
  });
});

async function writeArchive(bytes: Buffer, name: string): Promise<string> {
  const file = path.join(await tempDir('cifar'), name);
  await writeFile(file, bytes);
  return file;
}

/** The RGB pixels of the CIFAR record, interleaved, as a reader of the spec would lay them out. */
function interleaved(planar: Uint8Array): Buffer {
  const out = Buffer.alloc(3072);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = planar[c * 1024 + p]!;
  return out;
}

describe('CIFAR-100 archives', () => {
  it('reads the binary and python versions to the same labels, pixels and class names', async () => {
    const data = tinyCifar(2);
    const binary = await readCifar100Archive(await binaryArchive(data));
    const python = await readCifar100Archive(await pythonArchive(data));
    expect(binary.layout).toBe('binary');
    expect(python.layout).toBe('python');
    for (const archive of [binary, python]) {
      expect(archive.classNames).toEqual(CLASS_NAMES);
      expect(archive.train.labels).toEqual(data.trainLabels);
      expect(archive.test.labels).toEqual(data.testLabels);
      expect(Buffer.from(archive.train.pixels.subarray(3072 * 17, 3072 * 18)).equals(Buffer.from(cifarPixels(17, 'train')))).toBe(true);
    }
  });

  it('names what it expected when the archive is something else', async () => {
    // 1024 zero bytes: a valid, empty tar.
    await expect(readCifar100Archive(Buffer.alloc(1024))).rejects.toThrow(/not a CIFAR-100 archive: expected train\.bin, test\.bin and fine_label_names\.txt/);
  });
});

describe('prepareCifar100Lt', () => {
  for (const layout of ['binary', 'python'] as const) {
    it(`writes CIFAR-100-LT β=100 shards and a manifest from the ${layout} archive`, async () => {
      const perClass = 8;
      const data = tinyCifar(perClass);
      const archive = await writeArchive(layout === 'binary' ? await binaryArchive(data) : await pythonArchive(data), `cifar-100-${layout}.tar.gz`);
      const out = await tempDir('cifar-out');
      const prepared = await prepareCifar100Lt({ archive, out, imbalanceRatio: 100, seed: 1 });
      // Every class keeps min(available, SPEC count) images.
      const expectedCounts = Array.from({ length: 100 }, (_, i) => Math.min(perClass, specCount(i, 100)));
      expect(prepared.trainCounts).toEqual(expectedCounts);
      expect(prepared.testCount).toBe(200);
      const manifest = Manifest.parse(JSON.parse(await store.getText(prepared.manifestUri)));
      expect(manifest.classes).toEqual(CLASS_NAMES);
      expect(manifest.train).toEqual({ shards: 'train/index.json' });
      expect(manifest.training).toEqual({ preset: 'cifar100-lt-r100' });
      expect(manifest.evaluation).toBeUndefined();
      // The shards hold lossless PNGs of the archive's records, with the archive's labels.
      const indexUri = path.join(out, 'train', 'index.json');
      const index = await readShardIndex(indexUri, store);
      const labels: number[] = [];
      let checked = 0;
      for await (const record of readShards(index.shards.map((s) => shardUri(indexUri, s)), store)) {
        labels.push(record.label);
        const archiveIndex = Number(record.key.replace('train_', ''));
        expect(record.label).toBe(data.trainLabels[archiveIndex]);
        if (checked++ < 3) {
          const { data: pixels, info } = await sharp(record.image).raw().toBuffer({ resolveWithObject: true });
          expect([info.width, info.height, info.channels]).toEqual([32, 32, 3]);
          expect(pixels.equals(interleaved(cifarPixels(archiveIndex, 'train')))).toBe(true);
        }
      }
      const perLabel = Array.from({ length: 100 }, (_, c) => labels.filter((l) => l === c).length);
      expect(perLabel).toEqual(expectedCounts);
    });
  }

  it('writes a manifest the manifest validator accepts, the weights it cannot know apart', async () => {
    const archive = await writeArchive(await binaryArchive(tinyCifar(6)), 'cifar-100-binary.tar.gz');
    const prepared = await prepareCifar100Lt({ archive, out: await tempDir('cifar-valid'), maxShardBytes: 64 * 1024 });
    const result = await validateManifest(await store.getText(prepared.manifestUri), { manifestUri: prepared.manifestUri });
    const problems = result.ok ? [] : result.problems;
    expect(problems.filter((problem) => problem.code !== 'weights')).toEqual([]);
  });

  it('keeps the β = 100 counts as evaluation.groupCounts for β = 10', async () => {
    const archive = await writeArchive(await binaryArchive(tinyCifar(3)), 'cifar-100-binary.tar.gz');
    const prepared = await prepareCifar100Lt({ archive, out: await tempDir('cifar-r10'), imbalanceRatio: 10 });
    expect(prepared.manifest.name).toBe('cifar100-lt-r10');
    expect(prepared.manifest.training).toEqual({ preset: 'cifar100-lt-r10' });
    expect(prepared.manifest.evaluation?.groupCounts).toEqual(Array.from({ length: 100 }, (_, i) => specCount(i, 100)));
  });
});
