/**
 * Inference manifests (SPEC section 8): the same schema module, validator rules and bounds as
 * training manifests, plus the adapter against itself and the weights, and the images counted
 * in the order every array child slices.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/clip/safetensors';
import { randomClipTensors } from '../../src/clip/testing';
import type { AdapterHeader } from '../../src/contracts/adapter';
import { MAX_ARRAY_SIZE } from '../../src/contracts/job';
import { Manifest, MAX_SWEEP_ENTRIES, sliceCount, sliceRange, validateUpload, type ManifestProblem, type PredictManifest, type ValidatedPredict } from '../../src/manifest';
import { LocalObjectStore } from '../../src/storage';
import { tinyAdapterFiles } from '../helpers/tiny-adapter';
import { TINY_CLIP_CONFIG, tinyClipFiles } from '../helpers/tiny-clip';

const CLASSES = ['apple', 'bicycle', 'cloud'];
let dir: string;

async function write(relative: string, body: string | Uint8Array): Promise<string> {
  const file = path.join(dir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, body);
  return file;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'predict-manifest-'));
  const clip = tinyClipFiles();
  await write('weights/config.json', clip.config);
  await write('weights/model.safetensors', clip.model);
  const adapter = tinyAdapterFiles(CLASSES);
  await write('run/0/adapter.json', adapter.header);
  await write('run/0/adapter.safetensors', adapter.tensors);
  for (const name of ['b/2.png', 'a/1.jpg', 'a/0.png', 'notes.txt', 'c/deep/3.webp']) await write(`unlabelled/${name}`, 'png');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifest = (extra: Partial<PredictManifest> = {}): PredictManifest => ({ version: 1, kind: 'predict', name: 'label-me', adapter: 'run/0', weights: 'weights', images: { folder: 'unlabelled' }, ...extra });

async function validate(document: unknown): Promise<{ ok: true; value: ValidatedPredict } | { ok: false; problems: ManifestProblem[] }> {
  const manifestUri = path.join(dir, 'predict.json');
  await writeFile(manifestUri, JSON.stringify(document, null, 2));
  const outcome = await validateUpload(JSON.stringify(document, null, 2), { manifestUri, store: new LocalObjectStore() });
  expect(outcome.kind).toBe('predict');
  if (outcome.kind !== 'predict') throw new Error('expected an inference manifest');
  return outcome.result.ok ? { ok: true, value: outcome.result } : { ok: false, problems: outcome.result.problems };
}

describe('an inference manifest', () => {
  it('lists a folder’s images in key order, skipping other files, and reads the adapter header', async () => {
    const result = await validate(manifest());
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.value.imageCount).toBe(4);
    expect(result.value.images.kind === 'listed' && result.value.images.images.map((image) => image.key)).toEqual(['a/0.png', 'a/1.jpg', 'b/2.png', 'c/deep/3.webp']);
    expect(result.value.adapter.classNames).toEqual(CLASSES);
    expect(result.value.clip?.vision.hiddenSize).toBe(8);
  });

  it('takes a list file of paths relative to a root, naming bad lines', async () => {
    await write('list.txt', 'a/0.png\n\nb/2.png\n../escape.png\n');
    const refused = await validate(manifest({ images: { list: 'list.txt', root: 'unlabelled' } }));
    expect(refused).toMatchObject({ ok: false, problems: [{ path: 'list.txt:4', code: 'image-path' }] });
    await write('list.txt', 'a/0.png\n\nb/2.png\n');
    const accepted = await validate(manifest({ images: { list: 'list.txt', root: 'unlabelled' } }));
    expect(accepted.ok && accepted.value.imageCount).toBe(2);
  });

  it('refuses an adapter whose class count or method does not match its tensors, naming both sides', async () => {
    const other = tinyAdapterFiles(['one', 'two']);
    await write('run/0/adapter.safetensors', other.tensors);
    const refused = await validate(manifest());
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.problems[0]).toMatchObject({ path: 'adapter', code: 'adapter', message: 'adapter.json names 3 classes of width 8, but classifier.weight has shape [2, 8]' });
    const sage = tinyAdapterFiles(CLASSES, { method: 'sage' });
    await write('run/0/adapter.safetensors', tinyAdapterFiles(CLASSES).tensors);
    await write('run/0/adapter.json', sage.header);
    const mismatched = await validate(manifest());
    expect(!mismatched.ok && mismatched.problems.map((p) => p.message)).toEqual([
      "adapter.json's settings say SG-Adapter (method sage), but adapter.safetensors holds AdaptFormer tensors",
      "adapter.json's settings say FIT is on, but adapter.safetensors lacks FIT's scales",
    ]);
  });

  it('refuses weights of another shape than the adapter was trained on, naming both', async () => {
    const wider = { ...TINY_CLIP_CONFIG, vision: { ...TINY_CLIP_CONFIG.vision, hiddenSize: 16 } };
    const { toHfConfigJson } = await import('../../src/clip/config');
    await write('weights/config.json', JSON.stringify(toHfConfigJson(wider)));
    await write('weights/model.safetensors', writeSafetensors(randomClipTensors(wider, 2)));
    const refused = await validate(manifest());
    expect(!refused.ok && refused.problems).toEqual([
      expect.objectContaining({ path: 'weights', code: 'adapter', message: 'the adapter was trained on a CLIP with hiddenSize 8 (tiny); the weights given have hiddenSize 16' }),
    ]);
  });

  it('refuses weights of another patch size than the adapter header records, naming both; an older header without it still fits', async () => {
    // ViT-B/16 against ViT-B/32: only the patch size differs (and with it the positions).
    const older = JSON.parse(tinyAdapterFiles(CLASSES).header) as AdapterHeader;
    expect(older.clip.patchSize).toBeUndefined();
    const header: AdapterHeader = { ...older, clip: { ...older.clip, patchSize: 8, intermediateSize: 16 } };
    await write('run/0/adapter.json', JSON.stringify(header));
    expect((await validate(manifest())).ok).toBe(true);
    const coarser = { ...TINY_CLIP_CONFIG, vision: { ...TINY_CLIP_CONFIG.vision, patchSize: 4 } };
    const { toHfConfigJson } = await import('../../src/clip/config');
    await write('weights/config.json', JSON.stringify(toHfConfigJson(coarser)));
    await write('weights/model.safetensors', writeSafetensors(randomClipTensors(coarser, 2)));
    const refused = await validate(manifest());
    expect(!refused.ok && refused.problems).toEqual([
      expect.objectContaining({ path: 'weights', code: 'adapter', message: 'the adapter was trained on a CLIP with patchSize 8 (tiny); the weights given have patchSize 4' }),
    ]);
    // The header written before patchSize was recorded is not compared on it.
    await write('run/0/adapter.json', tinyAdapterFiles(CLASSES).header);
    expect((await validate(manifest())).ok).toBe(true);
    await write('run/0/adapter.json', JSON.stringify({ ...header, clip: { ...header.clip, patchSize: 4, intermediateSize: 32 } }));
    const wider = await validate(manifest());
    expect(!wider.ok && wider.problems.map((p) => p.message)).toEqual(['the adapter was trained on a CLIP with intermediateSize 32 (tiny); the weights given have intermediateSize 16']);
  });

  it('refuses a missing adapter, an empty folder and an unknown field, all at once', async () => {
    await rm(path.join(dir, 'run'), { recursive: true });
    await mkdir(path.join(dir, 'empty'));
    // A schema error does not hide the rest: adapter and images pass the schema on their own and are checked.
    const refused = await validate({ ...manifest({ images: { folder: 'empty' } }), topk: 3 });
    expect(!refused.ok && refused.problems.map((p) => [p.path, p.code])).toEqual([
      ['topk', 'unknown-field'],
      ['adapter', 'adapter'],
      ['images', 'empty-class'],
    ]);
    // A field the schema refuses is not checked further; the others still are.
    const broken = await validate({ ...manifest({ images: { folder: 'empty' } }), weights: 7 });
    expect(!broken.ok && broken.problems.map((p) => p.path)).toEqual(['weights', 'adapter', 'images']);
    const second = await validate(manifest({ images: { folder: 'empty' } }));
    expect(!second.ok && second.problems.map((p) => [p.path, p.code])).toEqual([
      ['adapter', 'adapter'],
      ['images', 'empty-class'],
    ]);
  });

  it(`refuses more slices than a Batch array job may have (${MAX_ARRAY_SIZE.toLocaleString('en-US')}), naming the smallest sliceSize that fits`, async () => {
    const shardsOf = (count: number): string => JSON.stringify({ version: 1, format: 'webdataset', shards: [{ uri: 'a.tar', count, classCounts: { '0': count } }] });
    const count = 2 * MAX_ARRAY_SIZE + 1;
    await write('shards/index.json', shardsOf(count));
    const refused = await validate(manifest({ images: { shards: 'shards/index.json' }, sliceSize: 2 }));
    expect(!refused.ok && refused.problems.map((p) => [p.path, p.code])).toEqual([['sliceSize', 'limit']]);
    const message = !refused.ok ? refused.problems[0]!.message : '';
    expect(message).toContain(`got ${sliceCount(count, 2).toLocaleString('en-US')}`);
    const smallest = Number(/at least ([\d,]+)$/.exec(message)?.[1]?.replace(/,/g, ''));
    // The smallest that fits: it does, one less does not.
    expect(sliceCount(count, smallest)).toBeLessThanOrEqual(MAX_ARRAY_SIZE);
    expect(sliceCount(count, smallest - 1)).toBeGreaterThan(MAX_ARRAY_SIZE);
    expect((await validate(manifest({ images: { shards: 'shards/index.json' }, sliceSize: smallest }))).ok).toBe(true);
    // Exactly the limit is accepted.
    await write('shards/index.json', shardsOf(2 * MAX_ARRAY_SIZE));
    expect((await validate(manifest({ images: { shards: 'shards/index.json' }, sliceSize: 2 }))).ok).toBe(true);
  });

  it('keeps a training sweep within the same array limit', () => {
    expect(MAX_SWEEP_ENTRIES).toBeLessThanOrEqual(MAX_ARRAY_SIZE);
    const sweep = Array.from({ length: MAX_SWEEP_ENTRIES + 1 }, () => ({}));
    expect(Manifest.shape.sweep.safeParse(sweep).success).toBe(false);
    expect(Manifest.shape.sweep.safeParse(sweep.slice(1)).success).toBe(true);
  });

  it('slices the images into array children the same way everywhere', () => {
    expect(sliceCount(45_001, 20_000)).toBe(3);
    expect([0, 1, 2].map((slice) => sliceRange(45_001, 20_000, slice))).toEqual([
      { start: 0, end: 20_000 },
      { start: 20_000, end: 40_000 },
      { start: 40_000, end: 45_001 },
    ]);
    expect(sliceCount(0, 100)).toBe(1);
  });
});
