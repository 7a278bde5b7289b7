import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore, PreconditionFailedError, joinUri, parseS3Uri } from '../../src/storage';

describe('LocalObjectStore', () => {
  it('writes, reads, lists and refuses a second If-None-Match write', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'store-'));
    const store = new LocalObjectStore();
    const uri = joinUri(root, 'a', 'b.json');
    await store.put(uri, '{"x":1}', { ifNoneMatch: '*' });
    await expect(store.put(uri, '{"x":2}', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(await store.getText(uri)).toBe('{"x":1}');
    const info = await store.head(uri);
    await expect(store.put(uri, '{"x":3}', { ifMatch: 'stale' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.put(uri, '{"x":3}', { ifMatch: info!.etag });
    expect(await store.getText(uri)).toBe('{"x":3}');
    expect((await store.list(joinUri(root, 'a') + path.sep)).map((o) => o.uri)).toEqual([uri]);
    expect(await store.head(joinUri(root, 'missing'))).toBeNull();
  });

  it('parses and joins S3 URIs', () => {
    expect(parseS3Uri('s3://bucket/some/key.json')).toEqual({ bucket: 'bucket', key: 'some/key.json' });
    expect(joinUri('s3://bucket/prefix/', '/runs/', 'x')).toBe('s3://bucket/prefix/runs/x');
    expect(() => parseS3Uri('/local/path')).toThrow(/not an S3 URI/);
  });
});

describe('LocalObjectStore conditional writes', () => {
  it('lets concurrent read-modify-write loops with If-Match lose no update', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'store-cas-'));
    const store = new LocalObjectStore();
    const uri = joinUri(root, 'counter.json');
    await store.put(uri, JSON.stringify({ n: 0 }));
    const increment = async (): Promise<void> => {
      for (;;) {
        const info = (await store.head(uri))!;
        const value = JSON.parse(await store.getText(uri)) as { n: number };
        try {
          await store.put(uri, JSON.stringify({ n: value.n + 1 }), { ifMatch: info.etag });
          return;
        } catch (error) {
          if (!(error instanceof PreconditionFailedError)) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, increment));
    expect(JSON.parse(await store.getText(uri))).toEqual({ n: 20 });
    expect((await store.list(root + path.sep)).map((o) => path.basename(o.uri))).toEqual(['counter.json']);
  });
});
