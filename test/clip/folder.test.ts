import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip/index';
import { createRandomClip } from '../../src/clip/testing';
import { setS3Store } from '../../src/storage';
import { MemoryObjectStore } from '../../src/storage/memory';

/** The in-memory S3 stand-in, counting downloads. */
class MemoryStore extends MemoryObjectStore {
  downloads = 0;

  override async get(uri: string): Promise<Buffer> {
    const body = await super.get(uri);
    this.downloads++;
    return body;
  }
}

const store = new MemoryStore();
let tmp: string;

beforeAll(async () => {
  await initBackend({ log: () => {} });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-folder-'));
  const clip = await createRandomClip(path.join(tmp, 'source'), {}, 2);
  for (const name of await readdir(clip.dir)) await store.put(`s3://models/clip/tiny/${name}`, await readFile(path.join(clip.dir, name)));
  setS3Store(store);
});

afterAll(() => setS3Store(undefined));

describe('loading from an s3:// prefix', () => {
  it('downloads the folder once into the cache and loads the same model as from disk', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const fromS3 = await loadClip('s3://models/clip/tiny/', { cacheDir });
    const downloadsAfterFirst = store.downloads;
    expect(downloadsAfterFirst).toBe(3);
    const again = await loadClip('s3://models/clip/tiny', { cacheDir });
    const tokenizer = await loadClipTokenizer('s3://models/clip/tiny', { cacheDir });
    expect(store.downloads).toBe(downloadsAfterFirst);
    expect(fromS3.source).toBe('s3://models/clip/tiny/');
    const fromDisk = await loadClip(path.join(tmp, 'source'));
    const size = fromDisk.config.vision.imageSize;
    const pixels = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    expect(Array.from(again.encodeImageFeatures(pixels).dataSync())).toEqual(Array.from(fromDisk.encodeImageFeatures(pixels).dataSync()));
    expect(tokenizer.contextLength).toBe(fromDisk.config.text.maxPositionEmbeddings);
  });

  it('fetches a file again when its etag changes', async () => {
    const cacheDir = path.join(tmp, 'cache-etag');
    await loadClip('s3://models/clip/tiny', { cacheDir });
    const before = store.downloads;
    const configUri = 's3://models/clip/tiny/config.json';
    await store.put(configUri, store.objects.get(configUri)!.body);
    await loadClip('s3://models/clip/tiny', { cacheDir });
    expect(store.downloads).toBe(before + 1);
  });
});
