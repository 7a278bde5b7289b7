/**
 * The WebDataset shard format, owned here for every reader and writer: the shard index
 * (`{ "shards": "index.json" }` in a manifest split), the member-name rule and the label
 * member. The manifest's checks read only the index, so a split of a million images is
 * validated without opening a tar; the loader and the writer use the same schema.
 *
 * Shard layout (WebDataset): each sample is two consecutive tar members sharing a key,
 * `<key>.<image extension>` (the encoded image) and `<key>.cls` (the class index as decimal
 * text); the key is the member name up to the first dot of its base name. Shard URIs in the
 * index are relative to the index's own location unless absolute.
 *
 *   { "version": 1, "format": "webdataset",
 *     "shards": [ { "uri": "train-000000.tar", "count": 1000, "classCounts": { "0": 500, "7": 500 },
 *                   "labels": [0, 7, ...] } ] }
 *
 * This module loads nothing heavy (no tar parser): the validation Lambda imports it.
 */
import { z } from 'zod';
import { IMAGE_EXTENSIONS } from '../../manifest/schema';
import type { ObjectStore } from '../../storage';
import { dirnameUri, isS3Uri, joinUri } from '../../storage';
import path from 'node:path';
import { DataError } from '../../common/errors';

export const SHARD_INDEX_VERSION = 1 as const;

/** Extension of the member that holds a sample's class index. */
export const SHARD_LABEL_EXTENSION = 'cls';

/** A shard index larger than this is refused (a million shards of index entries fit in it). */
export const MAX_SHARD_INDEX_BYTES = 64 * 1024 * 1024;

export const ShardEntry = z.object({
  uri: z.string().min(1).max(2048).describe('The tar shard, relative to the index or absolute.'),
  /** Samples in the shard. */
  count: z.number().int().min(0),
  /** Samples per class index in the shard (absent classes omitted); sums to `count`. */
  classCounts: z.record(z.string().regex(/^\d+$/, 'a class index'), z.number().int().min(0)),
  /** Size of the tar in bytes, when known (for progress and range reads). */
  bytes: z.number().int().min(0).optional(),
  /** Class index of each sample in tar order (length = count), so a loader knows the labels without opening a tar. */
  labels: z.array(z.number().int().min(0)).optional(),
});
export type ShardEntry = z.infer<typeof ShardEntry>;

export const ShardIndex = z.object({
  version: z.literal(SHARD_INDEX_VERSION),
  format: z.literal('webdataset'),
  shards: z.array(ShardEntry).min(1),
});
export type ShardIndex = z.infer<typeof ShardIndex>;

/** Older names of the same schema, kept for the loader and the writer. */
export const DataShardEntry = ShardEntry;
export type DataShardEntry = ShardEntry;
export const DataShardIndex = ShardIndex;
export type DataShardIndex = ShardIndex;

export class ShardIndexError extends DataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShardIndexError';
  }
}

/** A problem of an index that passed the schema: where (a JSON path inside the index) and what. */
export interface ShardIndexIssue {
  path: (string | number)[];
  message: string;
  kind: 'label' | 'count';
}

/**
 * The checks the schema cannot express: class counts sum to the shard's count, labels (when
 * present) have one entry per sample, and (with `classCount`) every class index is in range.
 */
export function shardIndexIssues(index: ShardIndex, classCount?: number): ShardIndexIssue[] {
  const issues: ShardIndexIssue[] = [];
  index.shards.forEach((shard, i) => {
    let sum = 0;
    for (const [key, count] of Object.entries(shard.classCounts)) {
      sum += count;
      if (classCount !== undefined && Number(key) >= classCount) {
        issues.push({ path: ['shards', i, 'classCounts', key], message: `expected a class index in [0, ${classCount - 1}], got ${Number(key)}`, kind: 'label' });
      }
    }
    if (sum !== shard.count) issues.push({ path: ['shards', i, 'count'], message: `expected the shard's count to equal the sum of its classCounts (${sum}), got ${shard.count}`, kind: 'count' });
    if (shard.labels && shard.labels.length !== shard.count) {
      issues.push({ path: ['shards', i, 'labels'], message: `expected one label per sample (${shard.count}), got ${shard.labels.length}`, kind: 'count' });
    }
  });
  return issues;
}

function formatIssuePath(parts: readonly (string | number)[]): string {
  return parts.map((part, i) => (typeof part === 'number' ? `[${part}]` : /^\d/.test(part) ? `[${JSON.stringify(part)}]` : `${i > 0 ? '.' : ''}${part}`)).join('') || '(root)';
}

/** Parses and checks an index document; throws ShardIndexError naming the first problem. */
export function parseShardIndex(text: string, uri: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ShardIndexError(`shard index ${uri} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = ShardIndex.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new ShardIndexError(`shard index ${uri}: ${formatIssuePath(first.path as (string | number)[])}: ${first.message}`);
  }
  const [issue] = shardIndexIssues(parsed.data);
  if (issue) throw new ShardIndexError(`shard index ${uri}: ${formatIssuePath(issue.path)}: ${issue.message}`);
  return parsed.data;
}

/** Reads (at most MAX_SHARD_INDEX_BYTES) and checks the index at `uri`. */
export async function readShardIndex(uri: string, store: ObjectStore): Promise<ShardIndex> {
  return parseShardIndex(await store.getText(uri, { maxBytes: MAX_SHARD_INDEX_BYTES }), uri);
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
