/**
 * Data: ingestion of long-tailed benchmarks into WebDataset shards plus a manifest, the shard
 * writer and reader, and the loader that serves transformed batches to the engine
 * (BatchSource, src/contracts/batches.ts).
 */
export * from './ingest';
export { openBatchSource, openImageSource, type OpenBatchSourceOptions, type OpenImageSourceOptions, type LoaderBatchSource } from './loader/open';
export type { LoaderStats, OnBadImage } from './loader/batcher';
export { LoaderBadImageError, LoaderOptionsError, type BadImageReport, type BadImageReason } from './errors';
export { ShardWriter, DEFAULT_SHARD_BYTES, SHARD_INDEX_NAME, ShardWriteError, type ShardWriterOptions, type ShardSample } from './shards/writer';
export { readShards, readShardRecords, ShardFormatError, DEFAULT_PREFETCH_BYTES, type ShardRecord, type ShardReadOptions } from './shards/reader';
export { readShardIndex, parseShardIndex, shardUri, shardKeyFor, ShardIndexError, type DataShardIndex, type DataShardEntry } from './shards/format';
export { transformImage, cropsFor, floatsPerItem, type TransformRequest } from './transforms/apply';
export { CLIP_MEAN, CLIP_STD } from './transforms/normalise';
export { testResizeSide, tteResizeSide } from './transforms/geometry';
export { DecodePool, DecodePoolError, ImageDecodeError, type DecodePoolOptions } from './decode/pool';
