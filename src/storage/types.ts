/**
 * Storage seen by every layer: a flat key space addressed by URI, either a local
 * path or `s3://bucket/prefix`. The engine, the loader and the CLIP runtime take
 * an ObjectStore and never know which one it is, so the same code runs on a laptop,
 * against an S3 emulator and on AWS.
 */
import type { Readable } from 'node:stream';
import { StorageError } from '../common/errors';

export interface ObjectInfo {
  /** Full URI of the object (`s3://b/k` or an absolute local path). */
  uri: string;
  size: number;
  /** Entity tag (S3) or `mtime-size` (local); changes whenever the content does. */
  etag: string;
}

export interface PutOptions {
  contentType?: string;
  /** Write only if no object exists at the URI (S3 `If-None-Match: *`). */
  ifNoneMatch?: '*';
  /** Write only if the current object's etag equals this (S3 `If-Match`). */
  ifMatch?: string;
}

export interface ReadOptions {
  /**
   * Refuse an object larger than this many bytes with ObjectTooLargeError. The read stops
   * at the limit, so a huge object (or an endless device file) never fills memory.
   */
  maxBytes?: number;
}

export interface ObjectStore {
  /** Which kind of store this is, for logs. */
  readonly kind: 'local' | 's3';
  get(uri: string, options?: ReadOptions): Promise<Buffer>;
  /** The object as UTF-8 text (invalid sequences become U+FFFD; decode get() strictly where that matters). */
  getText(uri: string, options?: ReadOptions): Promise<string>;
  /**
   * A byte range [start, end) or the whole object as a stream. With `maxBytes` the stream
   * errors with ObjectTooLargeError once it has passed that many bytes.
   */
  getStream(uri: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Readable>;
  /** Null when the object does not exist. */
  head(uri: string): Promise<ObjectInfo | null>;
  exists(uri: string): Promise<boolean>;
  /** Resolves to the new etag. Rejects with PreconditionFailedError when a condition fails. */
  put(uri: string, body: Buffer | string | Uint8Array, options?: PutOptions): Promise<string>;
  /**
   * Writes a stream of unknown length without holding it in memory (S3: a multipart upload;
   * local: a temporary file renamed into place), for outputs that can be larger than memory
   * (the joined predictions of an inference run). Unconditional. Resolves to the new etag.
   */
  putStream(uri: string, body: Readable, options?: Pick<PutOptions, 'contentType'>): Promise<string>;
  /** Every object under a prefix (recursive), sorted by URI. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(uri: string): Promise<void>;
}

/** A conditional write lost the race: someone else wrote first or the object changed. */
export class PreconditionFailedError extends StorageError {
  constructor(
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(`precondition failed writing ${uri}: the object exists or changed since it was read`, options);
    this.name = 'PreconditionFailedError';
  }
}

/** The object does not exist. */
export class ObjectNotFoundError extends StorageError {
  constructor(
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(`no object at ${uri}`, { ...options, kind: 'bad-input' });
    this.name = 'ObjectNotFoundError';
  }
}

/** An object is larger than the reader allows; nothing past the limit was read. */
export class ObjectTooLargeError extends StorageError {
  constructor(
    readonly uri: string,
    readonly limitBytes: number,
    /** The object's size when the store knows it; otherwise only "more than the limit" is known. */
    readonly sizeBytes?: number,
  ) {
    super(
      `${uri} is ${sizeBytes !== undefined ? `${sizeBytes.toLocaleString('en-US')} bytes` : 'larger than the limit'}; expected at most ${limitBytes.toLocaleString('en-US')} bytes`, { kind: 'bad-input' });
    this.name = 'ObjectTooLargeError';
  }
}

/** A local path that is not a regular file (a FIFO, a device, a directory, a socket): never read. */
export class ObjectNotRegularFileError extends StorageError {
  constructor(
    readonly uri: string,
    readonly fileKind: string,
  ) {
    super(`${uri} is ${fileKind}, not a regular file`, { kind: 'bad-input' });
    this.name = 'ObjectNotRegularFileError';
  }
}
