/**
 * Items in WebDataset shards. The epoch order cannot be a full permutation without random
 * access, so it is the WebDataset one: a seeded shard order, then a seeded shuffle buffer over
 * the stream of samples. Both depend only on (seed, epoch), so an epoch is repeatable.
 */
import type { ObjectStore } from '../../storage';
import { createRng, mixSeedWide, permutation, shuffleInPlace, type Rng } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import { shardUri, type DataShardEntry, type DataShardIndex } from '../shards/format';
import { readShards, ShardFormatError, type ShardReadOptions } from '../shards/reader';
import type { EpochOrder, ItemStream, SourceItem } from './item-stream';

export interface ShardSourceOptions extends ShardReadOptions {
  /** Samples held by the shuffle buffer; default 1000. */
  shuffleBuffer?: number;
  /**
   * Source-order index of the first shard's first sample, for a stream over the later shards
   * of an index (shardSpan): items keep the index (and so the augmentation seed) they have in
   * the whole index. Default 0.
   */
  firstIndex?: number;
}

export const DEFAULT_SHUFFLE_BUFFER = 1000;

/** WebDataset's buffer shuffle: fill, then emit a random held item for every new one. */
async function* bufferShuffle<T>(source: AsyncIterable<T>, size: number, rng: Rng): AsyncGenerator<T> {
  const buffer: T[] = [];
  for await (const item of source) {
    if (buffer.length < size) {
      buffer.push(item);
      continue;
    }
    const j = rng.int(size);
    const out = buffer[j]!;
    buffer[j] = item;
    yield out;
  }
  shuffleInPlace(buffer, rng);
  yield* buffer;
}

/** Which shards of an index hold the items [start, end), as shardSpan finds them. */
export interface ShardSpan {
  /** The shards to read, in index order (empty for an empty range). */
  shards: DataShardEntry[];
  /** Position in the index of shards[0]. */
  first: number;
  /** Source-order index of shards[0]'s first sample. */
  firstIndex: number;
  /** Samples of shards[0] before `start`: what is left to skip once the stream opens there. */
  skip: number;
}

/**
 * The shards that hold items [start, end) of an index in source (index) order, found from the
 * index's per-shard counts, so no tar before the range is downloaded or parsed: an inference
 * slice over shards reads its own shards, not every earlier one. The range is clamped to the index.
 */
export function shardSpan(index: DataShardIndex, range: { start: number; end: number }): ShardSpan {
  const total = index.shards.reduce((sum, shard) => sum + shard.count, 0);
  const start = Math.max(0, Math.min(total, range.start));
  const end = Math.max(start, Math.min(total, range.end));
  if (start === end) return { shards: [], first: 0, firstIndex: start, skip: 0 };
  let at = 0;
  let first = -1;
  let firstIndex = 0;
  const shards: DataShardEntry[] = [];
  for (const [s, shard] of index.shards.entries()) {
    if (at >= end) break;
    // The first shard is the one whose samples reach past `start` (empty shards before it are passed over).
    if (first < 0 && at + shard.count > start) {
      first = s;
      firstIndex = at;
    }
    if (first >= 0) shards.push(shard);
    at += shard.count;
  }
  return { shards, first, firstIndex, skip: start - firstIndex };
}

export class ShardItemStream implements ItemStream {
  private readonly uris: string[];
  /** Source-order index of each shard's first sample. */
  private readonly starts: number[] = [];
  private readonly firstIndex: number;
  readonly count: number;

  constructor(
    private readonly index: DataShardIndex,
    indexUri: string,
    private readonly store: ObjectStore,
    private readonly options: ShardSourceOptions = {},
  ) {
    this.uris = index.shards.map((shard) => shardUri(indexUri, shard));
    let total = 0;
    for (const shard of index.shards) {
      this.starts.push(total);
      total += shard.count;
    }
    this.count = total;
    this.firstIndex = options.firstIndex ?? 0;
  }

  async labels(): Promise<Int32Array> {
    const out = new Int32Array(this.count);
    const missing: number[] = [];
    this.index.shards.forEach((shard, s) => {
      if (shard.labels) out.set(shard.labels, this.starts[s]);
      else missing.push(s);
    });
    // An index without per-sample labels: read the shards' .cls members (the images are skipped, not decoded).
    for (const s of missing) {
      let i = this.starts[s]!;
      for await (const record of readShards([this.uris[s]!], this.store, this.options)) out[i++] = record.label;
    }
    return out;
  }

  async *items(order: EpochOrder): AsyncGenerator<SourceItem> {
    const shardOrder = order.shuffle
      ? Array.from(permutation(this.uris.length, createRng(mixSeedWide(order.seed, order.epoch, RNG_STREAM.epochOrder))))
      : this.uris.map((_, s) => s);
    const stream = this.indexed(shardOrder);
    const size = this.options.shuffleBuffer ?? DEFAULT_SHUFFLE_BUFFER;
    yield* order.shuffle && size > 1 ? bufferShuffle(stream, size, createRng(mixSeedWide(order.seed, order.epoch, RNG_STREAM.shuffleBuffer))) : stream;
  }

  private async *indexed(shardOrder: readonly number[]): AsyncGenerator<SourceItem> {
    const uris = shardOrder.map((s) => this.uris[s]!);
    const seen = new Array<number>(uris.length).fill(0);
    for await (const record of readShards(uris, this.store, this.options)) {
      const shard = shardOrder[record.shard]!;
      if (record.position >= this.index.shards[shard]!.count) {
        throw new ShardFormatError(`${record.shardUri} holds more samples than the ${this.index.shards[shard]!.count} its index entry says`);
      }
      const indexed = this.index.shards[shard]!.labels?.[record.position];
      if (indexed !== undefined && indexed !== record.label) {
        throw new ShardFormatError(`${record.shardUri}: sample "${record.key}" is labelled ${record.label} in the shard but ${indexed} in the index`);
      }
      seen[record.shard]++;
      const image = record.image;
      yield { index: this.firstIndex + this.starts[shard]! + record.position, key: record.key, label: record.label, load: () => Promise.resolve(image) };
    }
    seen.forEach((count, i) => {
      const expected = this.index.shards[shardOrder[i]!]!.count;
      if (count !== expected) throw new ShardFormatError(`${uris[i]} holds ${count} samples, its index entry says ${expected}`);
    });
  }
}
