/**
 * The WebDataset shard index a manifest split may point at (`{ "shards": "index.json" }`).
 * The data module writes shards and this index; the validator reads only the index, so a
 * split of a million images is checked without opening a single tar.
 *
 * Shard layout (WebDataset): each sample is two tar members sharing a key,
 * `<key>.<image extension>` (the encoded image) and `<key>.cls` (the class index as
 * decimal text). Shard URIs are relative to the index's own location unless absolute.
 *
 *   { "version": 1, "format": "webdataset",
 *     "shards": [ { "uri": "train-000000.tar", "count": 1000, "classCounts": { "0": 500, "7": 500 } } ] }
 */
import { z } from 'zod';
import { UriString } from './schema';

export const SHARD_INDEX_VERSION = 1 as const;

export const ShardEntry = z.object({
  uri: UriString.describe('The tar shard, relative to the index or absolute.'),
  /** Samples in the shard. */
  count: z.number().int().min(0),
  /** Samples per class index in the shard (absent classes omitted); sums to `count`. */
  classCounts: z.record(z.string().regex(/^\d+$/, 'a class index'), z.number().int().min(0)),
  /** Size of the tar in bytes, when known (for progress and range reads). */
  bytes: z.number().int().min(0).optional(),
});
export type ShardEntry = z.infer<typeof ShardEntry>;

export const ShardIndex = z.object({
  version: z.literal(SHARD_INDEX_VERSION),
  format: z.literal('webdataset'),
  shards: z.array(ShardEntry).min(1),
});
export type ShardIndex = z.infer<typeof ShardIndex>;

/** Member names of one sample: the label member's extension. */
export const SHARD_LABEL_EXTENSION = 'cls';
