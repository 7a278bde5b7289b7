import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../../src/manifest';
import { generateProceduralDataset, longTailCounts, ProceduralDatasetOptionsError, type ProceduralDataset } from '../../src/procedural/dataset';
import { applyDomain, type DomainName } from '../../src/procedural/domain';
import { renderClassImage, STREAM } from '../../src/procedural/samples';
import { createRandomClip } from '../../src/clip/testing';

async function digestOf(dir: string, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(await readFile(path.join(dir, file)));
  return hash.digest('hex');
}

describe('long-tailed class counts', () => {
  it('follow floor(max · ratio^(-i/(C-1))) as for CIFAR-100-LT', () => {
    // CIFAR-100-LT, β = 100: 500 images down to 5, 10,847 in all.
    const cifar = longTailCounts(100, 500, 100);
    expect(cifar[0]).toBe(500);
    expect(cifar[99]).toBe(5);
    expect(cifar.reduce((a, b) => a + b, 0)).toBe(10847);
    expect(longTailCounts(4, 100, 8)).toEqual([100, 50, 25, 12]); // 100·8^(-i/3): 100, 50, 25, 12.5
    expect(longTailCounts(3, 7, 1)).toEqual([7, 7, 7]);
  });
});

describe('generateProceduralDataset', () => {
  let root = '';
  let weights = '';
  let dataset: ProceduralDataset;
  const options = { imbalanceRatio: 10, maxPerClass: 20, testPerClass: 3, imageSize: 16, seed: 4, classes: 6 };

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'procedural-dataset-'));
    weights = path.join(root, 'weights');
    await createRandomClip(weights);
    dataset = await generateProceduralDataset({ ...options, outDir: path.join(root, 'a'), weights });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes a manifest that the manifest validator accepts, with the long-tailed and balanced counts', async () => {
    const text = await readFile(dataset.manifestUri, 'utf8');
    const result = await validateManifest(text, { manifestUri: dataset.manifestUri });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.manifest.classes).toEqual(['red circle', 'green square', 'blue triangle', 'yellow star', 'purple cross', 'orange crescent']);
    expect(result.manifest.weights).toBe(weights);
    expect(result.counts.train).toEqual([20, 12, 7, 5, 3, 2]); // floor(20·10^(-i/5)): 20, 12.6, 7.96, 5.02, 3.17, 2
    expect(result.counts.test).toEqual([3, 3, 3, 3, 3, 3]);
    expect(dataset.trainCounts).toEqual(result.counts.train);
  });

  it('stores each image losslessly as the pixels the world renders for (seed, split, class, index)', async () => {
    const lines = (await readFile(path.join(root, 'a', 'test.jsonl'), 'utf8')).trim().split('\n');
    const item = JSON.parse(lines[4] as string) as { path: string; label: number };
    expect(item).toEqual({ path: 'test/01-green_square/0001.png', label: 1 });
    const { data, info } = await sharp(path.join(root, 'a', 'images', item.path)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([16, 16, 3]);
    expect(new Uint8Array(data)).toEqual(renderClassImage(1, 1, 16, options.seed, STREAM.datasetTest));
  });

  it('writes the same bytes again for the same seed, and other images for another seed', async () => {
    const again = await generateProceduralDataset({ ...options, outDir: path.join(root, 'b'), weights });
    const files = ['manifest.json', 'train.jsonl', 'test.jsonl', ...[0, 1].map((i) => `images/train/00-red_circle/000${i}.png`)];
    const first = await digestOf(path.join(root, 'a'), files);
    expect(await digestOf(path.join(root, 'b'), files)).toBe(first);
    expect(again.manifestUri).toBe(path.join(root, 'b', 'manifest.json'));
    await generateProceduralDataset({ ...options, seed: 5, outDir: path.join(root, 'c'), weights });
    expect(await digestOf(path.join(root, 'c'), files)).not.toBe(first);
  });

  it('draws the same scenes under the tungsten colour cast when asked, and says so in the description', async () => {
    const shifted = await generateProceduralDataset({ ...options, domain: 'tungsten', outDir: path.join(root, 'e'), weights });
    expect(shifted.manifest.description).toMatch(/tungsten domain/);
    expect(dataset.manifest.description).toMatch(/pretraining domain/);
    const file = 'images/train/02-blue_triangle/0003.png';
    const { data } = await sharp(path.join(root, 'e', file)).raw().toBuffer({ resolveWithObject: true });
    const plain = renderClassImage(2, 3, 16, options.seed, STREAM.datasetTrain);
    expect(new Uint8Array(data)).toEqual(applyDomain(plain, 'tungsten'));
    expect(new Uint8Array(data)).not.toEqual(plain);
  });

  it('refuses settings that leave the rarest class without images, or ask for more classes than the world has', async () => {
    await expect(generateProceduralDataset({ ...options, outDir: path.join(root, 'd'), maxPerClass: 5, imbalanceRatio: 10 })).rejects.toThrow(ProceduralDatasetOptionsError);
    await expect(generateProceduralDataset({ ...options, outDir: path.join(root, 'd'), classes: 37 })).rejects.toThrow(/at most 36/);
    await expect(generateProceduralDataset({ ...options, outDir: path.join(root, 'd'), imbalanceRatio: 0.5 })).rejects.toThrow(/imbalanceRatio must be a finite number ≥ 1/);
    await expect(generateProceduralDataset({ ...options, outDir: path.join(root, 'd'), domain: 'sepia' as DomainName })).rejects.toThrow(/domain must be one of pretraining, tungsten, got sepia/);
  });
});
