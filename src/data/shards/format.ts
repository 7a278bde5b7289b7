/**
 * The shard format as this module writes and reads it: the manifest's WebDataset shard index
 * (src/manifest/shard-index.ts) plus, per shard, the class index of every sample in tar order
 * (`labels`), so a loader can report the split's labels without opening a tar. The manifest's
 * schema ignores `labels`; readers that lack it fall back to reading the `.cls` members.
 */
import { z } from 'zod';
import { IMAGE_EXTENSIONS } from '../../manifest/schema';
import { SHARD_INDEX_VERSION, ShardEntry, ShardIndex } from '../../manifest/shard-index';
import type { ObjectStore } from '../../storage';
import { dirnameUri, isS3Uri, joinUri } from '../../storage';
import path from 'node:path';

export const DataShardEntry = ShardEntry.extend({
  /** Class index of each sample, in tar order; length = count. */
  labels: z.array(z.number().int().min(0)).optional(),
});
export type DataShardEntry = z.infer<typeof DataShardEntry>;

export const DataShardIndex = ShardIndex.extend({ shards: z.array(DataShardEntry).min(1) });
export type DataShardIndex = z.infer<typeof DataShardIndex>;

export { SHARD_INDEX_VERSION };

export class ShardIndexError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShardIndexError';
  }
}

/** Parses and checks an index document: labels, when present, must agree with count and classCounts. */
export function parseShardIndex(text: string, uri: string): DataShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ShardIndexError(`shard index ${uri} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = DataShardIndex.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new ShardIndexError(`shard index ${uri}: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  parsed.data.shards.forEach((shard, i) => {
    const classTotal = Object.values(shard.classCounts).reduce((a, b) => a + b, 0);
    if (classTotal !== shard.count) {
      throw new ShardIndexError(`shard index ${uri}: shards[${i}].classCounts sums to ${classTotal}, expected count ${shard.count}`);
    }
    if (shard.labels && shard.labels.length !== shard.count) {
      throw new ShardIndexError(`shard index ${uri}: shards[${i}].labels has ${shard.labels.length} entries, expected count ${shard.count}`);
    }
  });
  return parsed.data;
}

export async function readShardIndex(uri: string, store: ObjectStore): Promise<DataShardIndex> {
  return parseShardIndex(await store.getText(uri), uri);
}

/** A shard's URI: absolute ones as they are, others relative to the index's folder. */
export function shardUri(indexUri: string, shard: Pick<ShardEntry, 'uri'>): string {
  if (isS3Uri(shard.uri) || path.isAbsolute(shard.uri)) return shard.uri;
  return joinUri(dirnameUri(indexUri), shard.uri);
}

/** Per-class counts of a shard's labels, as the index stores them (class index → count). */
export function classCountsOf(labels: readonly number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/** The image extension of encoded bytes, from their magic number; undefined when unknown. */
export function sniffImageExtension(bytes: Uint8Array): (typeof IMAGE_EXTENSIONS)[number] | undefined {
  const ascii = (start: number, end: number): string => String.fromCharCode(...bytes.subarray(start, end));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpg';
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tif';
  if (ascii(4, 8) === 'ftyp' && ascii(8, 12).startsWith('avi')) return 'avif';
  return undefined;
}

/** Member extensions the reader accepts as the image of a sample. */
export const SHARD_IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(IMAGE_EXTENSIONS);

/**
 * A WebDataset key for an item: its relative path without the extension, with any other dot
 * replaced (WebDataset splits a member name at the first dot of its base name).
 */
export function shardKeyFor(relativePath: string): string {
  const withoutExtension = relativePath.replace(/\.[^./]*$/, '');
  return withoutExtension.replace(/\\/g, '/').replace(/^\/+/, '').replace(/\./g, '_');
}

/** Splits a member name into WebDataset key and extension (after the first dot of the base name). */
export function splitMemberName(name: string): { key: string; extension: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot < 0) return { key: name, extension: '' };
  return { key: name.slice(0, dot), extension: name.slice(dot + 1).toLowerCase() };
}
