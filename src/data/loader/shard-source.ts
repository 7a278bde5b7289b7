/**
 * Items in WebDataset shards. The epoch order cannot be a full permutation without random
 * access, so it is the WebDataset one: a seeded shard order, then a seeded shuffle buffer over
 * the stream of samples. Both depend only on (seed, epoch), so an epoch is repeatable.
 */
import type { ObjectStore } from '../../storage';
import { createRng, mixSeedWide, permutation, shuffleInPlace, type Rng } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import { shardUri, type DataShardIndex } from '../shards/format';
import { readShards, ShardFormatError, type ShardReadOptions } from '../shards/reader';
import type { EpochOrder, ItemStream, SourceItem } from './item-stream';

export interface ShardSourceOptions extends ShardReadOptions {
  /** Samples held by the shuffle buffer; default 1000. */
  shuffleBuffer?: number;
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

export class ShardItemStream implements ItemStream {
  private readonly uris: string[];
  /** Source-order index of each shard's first sample. */
  private readonly starts: number[] = [];
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
      yield { index: this.starts[shard]! + record.position, key: record.key, label: record.label, load: () => Promise.resolve(image) };
    }
    seen.forEach((count, i) => {
      const expected = this.index.shards[shardOrder[i]!]!.count;
      if (count !== expected) throw new ShardFormatError(`${uris[i]} holds ${count} samples, its index entry says ${expected}`);
    });
  }
}
