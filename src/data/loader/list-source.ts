/**
 * Items named one by one (inline, JSON Lines or list files): the epoch order is a full seeded
 * permutation, and each image is one object under the image root, read when its batch starts.
 * Fine for small sets and the demo; large sets belong in shards.
 */
import type { ObjectStore } from '../../storage';
import { createRng, mixSeedWide, permutation } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import type { EpochOrder, ItemStream, SourceItem } from './item-stream';

export interface ListedItem {
  key: string;
  label: number;
  /** Full URI of the image. */
  uri: string;
}

/** Caps concurrent reads so a large batch does not open hundreds of files or connections at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class ListItemStream implements ItemStream {
  private readonly reads: Semaphore;

  constructor(
    private readonly listed: readonly ListedItem[],
    private readonly store: ObjectStore,
    readConcurrency = 16,
  ) {
    this.reads = new Semaphore(readConcurrency);
  }

  get count(): number {
    return this.listed.length;
  }

  async labels(): Promise<Int32Array> {
    return Int32Array.from(this.listed, (item) => item.label);
  }

  async *items(order: EpochOrder): AsyncGenerator<SourceItem> {
    const n = this.listed.length;
    const sequence = order.shuffle ? permutation(n, createRng(mixSeedWide(order.seed, order.epoch, RNG_STREAM.epochOrder))) : undefined;
    for (let position = 0; position < n; position++) {
      const index = sequence ? sequence[position]! : position;
      const { key, label, uri } = this.listed[index]!;
      yield { index, key, label, load: () => this.reads.run(() => this.store.get(uri)) };
    }
  }
}
