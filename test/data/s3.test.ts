import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setS3Store, type ObjectStore } from '../../src/storage';
import { S3ObjectStore } from '../../src/storage/s3';
import { Manifest } from '../../src/manifest/schema';
import { prepareImageFolder } from '../../src/data/ingest/prepare-folder';
import { openBatchSource } from '../../src/data/loader/open';
import { emulatorUnavailableReason, startEmulator, type Emulator } from '../integration/moto';
import { colourOf, normalised, solidPng, tempDir } from './helpers';

const unavailable = emulatorUnavailableReason();
if (unavailable) console.warn(`data s3.test: ${unavailable}`);

/** Counts reads, to show the loader fetches shards, not images. */
function countingStore(inner: ObjectStore, reads: string[]): ObjectStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'get' || property === 'getText' || property === 'getStream') reads.push(String(args[0]));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe.skipIf(unavailable !== null)('shards in S3 (moto)', () => {
  let emulator: Emulator;
  let s3: S3ObjectStore;

  beforeAll(async () => {
    emulator = await startEmulator();
    const client = new S3Client({ endpoint: emulator.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await client.send(new CreateBucketCommand({ Bucket: 'data' }));
    s3 = new S3ObjectStore(client);
    setS3Store(s3);
  }, 60_000);

  afterAll(async () => {
    setS3Store(undefined);
    await emulator?.stop();
  });

  it('streams an object of unknown length up in parts, and refuses reads past maxBytes', async () => {
    // 12 MB in 1 MB chunks: more than two 5 MB parts of a multipart upload.
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const { Readable } = await import('node:stream');
    await s3.putStream('s3://data/stream/big.bin', Readable.from(Array.from({ length: 12 }, () => chunk)));
    expect((await s3.head('s3://data/stream/big.bin'))?.size).toBe(12 * 1024 * 1024);
    await expect(s3.get('s3://data/stream/big.bin', { maxBytes: 1024 })).rejects.toThrow(/is 12,582,912 bytes; expected at most 1,024 bytes/);
    const range = await s3.getStream('s3://data/stream/big.bin', { start: 10, end: 20 });
    const bytes: Buffer[] = [];
    for await (const part of range) bytes.push(part as Buffer);
    expect(Buffer.concat(bytes)).toEqual(Buffer.alloc(10, 7));
  });

  it('prepares a local image tree into S3 and streams it back one shard object at a time', async () => {
    const root = path.join(await tempDir('s3-tree'), 'tree');
    let id = 0;
    for (const name of ['left', 'right']) {
      for (let i = 0; i < 6; i++) {
        const file = path.join(root, name, `${i}.png`);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, await solidPng(colourOf(id++)));
      }
    }
    const prepared = await prepareImageFolder({ root, out: 's3://data/sets/lr', testPerClass: 1, maxShardBytes: 2500 });
    expect(prepared.manifestUri).toBe('s3://data/sets/lr/manifest.json');
    const manifest = Manifest.parse(JSON.parse(await s3.getText(prepared.manifestUri)));
    const reads: string[] = [];
    const source = await openBatchSource({ manifest, manifestUri: prepared.manifestUri, split: 'train', imageSize: 8, workers: 0, store: countingStore(s3, reads) });
    try {
      expect(source.count).toBe(10);
      const keys: string[] = [];
      for await (const batch of source.batches(0, { batchSize: 4, shuffle: true, seed: 1, transform: 'test' })) {
        batch.keys.forEach((key, j) => {
          keys.push(key);
          const [name, file] = key.split('/') as [string, string];
          const imageId = (name === 'left' ? 0 : 6) + Number(file);
          expect(batch.labels[j]).toBe(name === 'left' ? 0 : 1);
          expect(batch.images[j * 8 * 8 * 3]).toBeCloseTo(normalised(colourOf(imageId)[0], 0), 4);
        });
      }
      expect(keys).toHaveLength(10);
      const shardReads = reads.filter((uri) => uri.endsWith('.tar'));
      expect(reads.filter((uri) => !uri.endsWith('.tar'))).toEqual(['s3://data/sets/lr/train/index.json']);
      expect(shardReads.length).toBeGreaterThan(1);
      expect(new Set(shardReads).size).toBe(shardReads.length);
    } finally {
      await source.close();
    }
  });
});
