/**
 * prepareImageFolder on a folder as people have them: empty files, truncated downloads and
 * text saved as .png are skipped with their full path (or refuse the whole preparation),
 * the splits are drawn from the images that decode, and the trainer's decoder reads every
 * image that was kept.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageProblem, prepareImageFolder, type BadImage, type FolderStageProgress } from '../../src/data/ingest/prepare-folder';
import { ImageFolderError } from '../../src/data/ingest/prepare-folder';
import { readShardIndex, shardUri } from '../../src/data/shards/format';
import { readShards, type ShardRecord } from '../../src/data/shards/reader';
import { transformImage } from '../../src/data/transforms/apply';
import { LocalObjectStore } from '../../src/storage';
import { colourOf, solidPng, tempDir } from './helpers';

const store = new LocalObjectStore();

/** A 64×48 JPEG with detail in it (noise), so cutting it short loses real scan data. */
async function noisyJpeg(seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(64 * 48 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761 + seed * 97) % 251;
  return sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function put(root: string, relative: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

async function records(out: string, split: 'train' | 'test'): Promise<ShardRecord[]> {
  const indexUri = path.join(out, split, 'index.json');
  const index = await readShardIndex(indexUri, store);
  const all: ShardRecord[] = [];
  for await (const record of readShards(index.shards.map((s) => shardUri(indexUri, s)), store)) all.push(record);
  return all;
}

/** Three classes of 5 good images each, and one bad file of each kind in them. */
async function messyTree(dir: string): Promise<{ root: string; bad: Record<string, string> }> {
  const root = path.join(dir, 'tree');
  let id = 0;
  for (const name of ['ant', 'bee', 'cow']) for (let i = 0; i < 5; i++) await put(root, `${name}/${i}.png`, await solidPng(colourOf(id++), 8, 6));
  const jpeg = await noisyJpeg(1);
  const bad = {
    empty: await put(root, 'ant/empty.jpg', ''),
    text: await put(root, 'bee/notes.png', 'this is not a picture'),
    truncated: await put(root, 'cow/cut.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2))),
  };
  return { root, bad };
}

describe('checking the images of a folder', () => {
  it('tells an image that decodes from an empty file, a non-image and a truncated JPEG', async () => {
    const jpeg = await noisyJpeg(2);
    expect(await imageProblem(jpeg)).toBeUndefined();
    expect(await imageProblem(await solidPng([1, 2, 3]))).toBeUndefined();
    expect(await imageProblem(new Uint8Array())).toBe('the file is empty (0 bytes)');
    expect(await imageProblem(Buffer.from('<html>not found</html>'))).toMatch(/^not an image this project reads/);
    expect(await imageProblem(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toMatch(/^cannot be decoded: /);
    // The trainer's decoder agrees on each: what the check passes, training can read, and the reverse.
    await expect(transformImage(jpeg, { kind: 'test', size: 16, seed: 0 })).resolves.toBeInstanceOf(Float32Array);
    await expect(transformImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), { kind: 'test', size: 16, seed: 0 })).rejects.toThrow();
  });

  it('skips every bad image with its full path and prepares the rest', async () => {
    const dir = await tempDir('messy');
    const { root, bad } = await messyTree(dir);
    const skipped: BadImage[] = [];
    const stages: FolderStageProgress[] = [];
    const out = path.join(dir, 'out');
    const prepared = await prepareImageFolder({ root, out, testPerClass: 1, onSkip: (b) => skipped.push(b), onStage: (p) => stages.push(p) });
    expect(skipped.map((b) => b.uri).sort()).toEqual([bad.empty, bad.text, bad.truncated].sort());
    expect(skipped.find((b) => b.uri === bad.empty)!.reason).toBe('the file is empty (0 bytes)');
    expect(skipped.find((b) => b.uri === bad.truncated)!.reason).toMatch(/^cannot be decoded/);
    // 5 good images a class, one held out: 4 + 4 + 4 training, 3 test.
    expect(prepared.trainCounts).toEqual([4, 4, 4]);
    expect(prepared.testCount).toBe(3);
    expect(stages[0]).toEqual({ stage: 'listing', done: 18, total: 18 });
    expect(stages.at(-1)).toEqual({ stage: 'checking', done: 18, total: 18 });
    const kept = [...(await records(out, 'train')), ...(await records(out, 'test'))];
    expect(kept).toHaveLength(15);
    expect(kept.map((r) => r.key).filter((key) => /empty|notes|cut/.test(key))).toEqual([]);
    for (const record of kept) await expect(transformImage(record.image, { kind: 'test', size: 8, seed: 0 })).resolves.toBeInstanceOf(Float32Array);
  });

  it("refuses the whole folder with onBadImage 'fail', listing every bad image, and writes nothing", async () => {
    const dir = await tempDir('messy-fail');
    const { root, bad } = await messyTree(dir);
    const out = path.join(dir, 'out');
    const error = await prepareImageFolder({ root, out, testPerClass: 1, onBadImage: 'fail' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageFolderError);
    expect((error as ImageFolderError).kind).toBe('bad-input');
    const message = (error as Error).message;
    expect(message).toMatch(/^3 of 18 images cannot be used/);
    for (const file of Object.values(bad)) expect(message).toContain(file);
    expect(await store.exists(path.join(out, 'manifest.json'))).toBe(false);
  });

  it('says which class has nothing left once its bad images are gone', async () => {
    const dir = await tempDir('all-bad');
    const root = path.join(dir, 'tree');
    for (let i = 0; i < 3; i++) await put(root, `good/${i}.png`, await solidPng(colourOf(i)));
    for (let i = 0; i < 3; i++) await put(root, `broken/${i}.jpg`, '');
    await expect(prepareImageFolder({ root, out: path.join(dir, 'out'), testPerClass: 1 })).rejects.toThrow(/class folder\(s\) broken have no image that decodes/);
  });
});
