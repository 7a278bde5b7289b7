import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  LocalObjectStore,
  ObjectNotRegularFileError,
  ObjectTooLargeError,
  PreconditionFailedError,
  collectStream,
  joinUri,
  limitStream,
  parseS3Uri,
} from '../../src/storage';

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

describe('LocalObjectStore bounded reads', () => {
  it('refuses a FIFO, a character device and a directory without reading (or waiting for a writer)', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'store-special-'));
    const fifo = path.join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const store = new LocalObjectStore();
    // No writer ever opens the FIFO: a blocking open would hang this test until its timeout.
    await expect(store.get(fifo)).rejects.toThrow(/is a FIFO \(named pipe\), not a regular file/);
    await expect(store.getStream(fifo)).rejects.toBeInstanceOf(ObjectNotRegularFileError);
    await expect(store.getText('/dev/zero', { maxBytes: 1024 })).rejects.toThrow(/\/dev\/zero is a character device, not a regular file/);
    await expect(store.get(root)).rejects.toThrow(/is a directory/);
    expect(await store.exists(fifo)).toBe(false);
  });

  it('stops at maxBytes with the size in the error, and reads files whose size the kernel reports as 0', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'store-bounded-'));
    const uri = path.join(root, 'big.txt');
    await writeFile(uri, 'x'.repeat(5000));
    const store = new LocalObjectStore();
    const error = await store.get(uri, { maxBytes: 4096 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectTooLargeError);
    expect((error as ObjectTooLargeError).message).toBe(`${uri} is 5,000 bytes; expected at most 4,096 bytes`);
    expect((await store.get(uri, { maxBytes: 5000 })).length).toBe(5000);
    // A stream of a file known to be too large is refused before it opens.
    await expect(store.getStream(uri, undefined, { maxBytes: 4096 })).rejects.toBeInstanceOf(ObjectTooLargeError);
    // /proc files stat as 0 bytes but have content: the read goes to the end, not to the reported size.
    expect((await store.getText('/proc/self/status')).length).toBeGreaterThan(0);
  });

  it('limitStream ends an endless source at the limit', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    await expect(collectStream(limitStream(endless, 'endless', 1_000_000), 'endless')).rejects.toThrow('endless is larger than the limit; expected at most 1,000,000 bytes');
    expect(produced).toBeLessThan(4_000_000);
  });
});

describe('putStream', () => {
  it('writes a stream into place through a temporary file, hidden from list()', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'store-stream-'));
    const store = new LocalObjectStore();
    const uri = joinUri(root, 'joined', 'out.jsonl');
    const parts = ['{"a":1}\n', '{"a":2}\n', '{"a":3}\n'];
    await store.putStream(uri, Readable.from(parts.map((part) => Buffer.from(part))));
    expect(await store.getText(uri)).toBe(parts.join(''));
    expect((await store.list(`${root}${path.sep}`)).map((o) => o.uri)).toEqual([uri]);
  });
});
