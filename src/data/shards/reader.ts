/**
 * Streams samples out of WebDataset shards, one object per shard: a training job reads a few
 * hundred large objects instead of listing or fetching one object per image. While one shard is
 * parsed, the next ones are already downloading into a bounded buffer.
 */
import { PassThrough, pipeline, type Readable } from 'node:stream';
import type { ObjectStore } from '../../storage';
import { readTarMembers } from '../tar';
import { SHARD_IMAGE_EXTENSIONS, SHARD_LABEL_EXTENSION, splitMemberName } from './format';
import { DataError } from '../../common/errors';

export interface ShardReadOptions {
  /** Shards opened ahead of the one being read; default 1. */
  prefetchShards?: number;
  /** Bytes buffered per opened shard before its download pauses; default 64 MiB. */
  prefetchBytes?: number;
}

export const DEFAULT_PREFETCH_BYTES = 64 * 1024 * 1024;

/** One sample of a shard. */
export interface ShardRecord {
  key: string;
  /** Encoded image. */
  image: Buffer;
  extension: string;
  label: number;
  /** The shard it came from (for error messages). */
  shardUri: string;
  /** Position of that shard in the list readShards was given (0 for readShardRecords). */
  shard: number;
  /** Position of the sample in its shard. */
  position: number;
}

export class ShardFormatError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'ShardFormatError';
  }
}

function parseLabel(bytes: Buffer, key: string, uri: string): number {
  const text = bytes.toString('utf8').trim();
  if (!/^\d+$/.test(text)) throw new ShardFormatError(`${uri}: ${key}.${SHARD_LABEL_EXTENSION} should hold a class index, got "${text.slice(0, 40)}"`);
  return Number(text);
}

interface PartialSample {
  key: string;
  image?: Buffer;
  extension?: string;
  label?: number;
}

function complete(sample: PartialSample, uri: string, position: number): ShardRecord {
  if (sample.image === undefined) throw new ShardFormatError(`${uri}: sample "${sample.key}" has no image member (expected one of ${[...SHARD_IMAGE_EXTENSIONS].join(', ')})`);
  if (sample.label === undefined) throw new ShardFormatError(`${uri}: sample "${sample.key}" has no .${SHARD_LABEL_EXTENSION} member`);
  return { key: sample.key, image: sample.image, extension: sample.extension!, label: sample.label, shardUri: uri, shard: 0, position };
}

/**
 * The samples of one shard stream, in tar order. Members of one sample are consecutive (the
 * WebDataset rule); members with other extensions are ignored.
 */
export async function* readShardRecords(stream: Readable, uri: string): AsyncGenerator<ShardRecord> {
  let current: PartialSample | undefined;
  let position = 0;
  for await (const member of readTarMembers(stream)) {
    const { key, extension } = splitMemberName(member.name);
    if (current && current.key !== key) {
      yield complete(current, uri, position++);
      current = undefined;
    }
    current ??= { key };
    if (extension === SHARD_LABEL_EXTENSION) current.label = parseLabel(member.bytes, key, uri);
    else if (SHARD_IMAGE_EXTENSIONS.has(extension)) {
      current.image = member.bytes;
      current.extension = extension;
    }
  }
  if (current) yield complete(current, uri, position);
}

/** Opens a shard with its download decoupled from parsing by a buffer of `bytes`. */
async function openBuffered(store: ObjectStore, uri: string, bytes: number): Promise<Readable> {
  const source = await store.getStream(uri);
  const buffer = new PassThrough({ highWaterMark: bytes });
  pipeline(source, buffer, () => {
    // A failed download destroys `buffer`, and reading it throws: nothing to do here.
  });
  return buffer;
}

/** Samples of several shards in the given order, with the next shards prefetched. */
export async function* readShards(uris: readonly string[], store: ObjectStore, options: ShardReadOptions = {}): AsyncGenerator<ShardRecord> {
  const ahead = Math.max(0, options.prefetchShards ?? 1);
  const bytes = options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES;
  const opened = new Map<number, Promise<Readable>>();
  const open = (i: number): void => {
    if (i >= uris.length || opened.has(i)) return;
    const stream = openBuffered(store, uris[i]!, bytes);
    // Marks a failure of a prefetch as handled until its turn comes.
    stream.catch(() => undefined);
    opened.set(i, stream);
  };
  try {
    for (let i = 0; i < uris.length; i++) {
      for (let j = i; j <= i + ahead; j++) open(j);
      const stream = await opened.get(i)!;
      opened.delete(i);
      try {
        for await (const record of readShardRecords(stream, uris[i]!)) yield { ...record, shard: i };
      } finally {
        stream.destroy();
      }
    }
  } finally {
    for (const pending of opened.values()) pending.then((stream) => stream.destroy(), () => undefined);
  }
}
