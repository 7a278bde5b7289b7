/**
 * An ObjectStore in memory, with S3's semantics where they matter: conditional writes are
 * atomic, every write gets a new etag, keys list in order. For tests and for callers that
 * want a scratch store without touching the disk.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { collectStream } from './bounded';
import { ObjectNotFoundError, ObjectTooLargeError, PreconditionFailedError, type ObjectInfo, type ObjectStore, type PutOptions, type ReadOptions } from './types';

export class MemoryObjectStore implements ObjectStore {
  // Stands in for S3 (the conditional-write semantics are S3's).
  readonly kind = 's3' as const;
  readonly objects = new Map<string, { body: Buffer; etag: string }>();
  puts = 0;

  /** Reads of each URI, for tests that prove something was never read. */
  readonly reads = new Map<string, number>();

  async get(uri: string, options: ReadOptions = {}): Promise<Buffer> {
    const object = this.objects.get(uri);
    if (!object) throw new ObjectNotFoundError(uri);
    this.reads.set(uri, (this.reads.get(uri) ?? 0) + 1);
    if (options.maxBytes !== undefined && object.body.length > options.maxBytes) throw new ObjectTooLargeError(uri, options.maxBytes, object.body.length);
    return object.body;
  }
  async getText(uri: string, options: ReadOptions = {}): Promise<string> {
    return (await this.get(uri, options)).toString('utf8');
  }
  async getStream(uri: string, range?: { start: number; end: number }, options: ReadOptions = {}): Promise<Readable> {
    const body = await this.get(uri, range ? {} : options);
    return Readable.from([range ? body.subarray(range.start, range.end) : body]);
  }
  async head(uri: string): Promise<ObjectInfo | null> {
    const object = this.objects.get(uri);
    return object ? { uri, size: object.body.length, etag: object.etag } : null;
  }
  async exists(uri: string): Promise<boolean> {
    return this.objects.has(uri);
  }
  async put(uri: string, body: Buffer | string | Uint8Array, options: PutOptions = {}): Promise<string> {
    // Yield first, so concurrent callers interleave as they would against S3.
    await new Promise((resolve) => setImmediate(resolve));
    const current = this.objects.get(uri);
    if (options.ifNoneMatch === '*' && current) throw new PreconditionFailedError(uri);
    if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) throw new PreconditionFailedError(uri);
    const bytes = Buffer.from(body);
    this.puts += 1;
    // Like S3: the etag is the content's MD5, but a rewrite of equal bytes still counts as a write.
    const etag = `"${createHash('md5').update(bytes).digest('hex')}-${this.puts}"`;
    this.objects.set(uri, { body: bytes, etag });
    return etag;
  }
  async putStream(uri: string, body: Readable, options: Pick<PutOptions, 'contentType'> = {}): Promise<string> {
    return this.put(uri, await collectStream(body, uri), options);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.keys()]
      .filter((uri) => uri.startsWith(prefix))
      .sort()
      .map((uri) => ({ uri, size: this.objects.get(uri)!.body.length, etag: this.objects.get(uri)!.etag }));
  }
  async delete(uri: string): Promise<void> {
    this.objects.delete(uri);
  }
  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((uri) => uri.startsWith(prefix)).sort();
  }
  async json<T>(uri: string): Promise<T> {
    return JSON.parse(await this.getText(uri)) as T;
  }
}
