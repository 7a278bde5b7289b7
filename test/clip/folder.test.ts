import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip/index';
import { createRandomClip } from '../../src/clip/testing';
import { ObjectNotFoundError, setS3Store, type ObjectInfo, type ObjectStore } from '../../src/storage';

/** An in-memory stand-in for S3 that counts downloads. */
class MemoryStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly objects = new Map<string, { body: Buffer; etag: string }>();
  downloads = 0;

  async get(uri: string): Promise<Buffer> {
    const object = this.objects.get(uri);
    if (!object) throw new ObjectNotFoundError(uri);
    this.downloads++;
    return object.body;
  }
  async getText(uri: string): Promise<string> {
    return (await this.get(uri)).toString('utf8');
  }
  async getStream(uri: string): Promise<Readable> {
    return Readable.from([await this.get(uri)]);
  }
  async head(uri: string): Promise<ObjectInfo | null> {
    const object = this.objects.get(uri);
    return object ? { uri, size: object.body.length, etag: object.etag } : null;
  }
  async exists(uri: string): Promise<boolean> {
    return this.objects.has(uri);
  }
  async put(uri: string, body: Buffer | string | Uint8Array): Promise<string> {
    const etag = `"${this.objects.size + 1}"`;
    this.objects.set(uri, { body: Buffer.from(body), etag });
    return etag;
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort().map((uri) => ({ uri, size: this.objects.get(uri)!.body.length, etag: this.objects.get(uri)!.etag }));
  }
  async delete(uri: string): Promise<void> {
    this.objects.delete(uri);
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
