/**
 * Where a split's items come from, seen by the batcher (batcher.ts): a fixed count, the labels
 * in source order, and per epoch an ordered stream of items whose bytes can be loaded. Shards and
 * item lists implement it; the batcher does not know which it has. (The manifest's `ItemSource`
 * is something else: which of the four forms a split is written in.)
 */

export interface SourceItem {
  /** Position in source order; seeds the item's augmentation draws. */
  index: number;
  key: string;
  label: number;
  /** The encoded image (already in memory for shards, one GET for item lists). */
  load(): Promise<Uint8Array>;
}

export interface EpochOrder {
  epoch: number;
  shuffle: boolean;
  seed: number;
}

export interface ItemStream {
  readonly count: number;
  labels(): Promise<Int32Array>;
  /** The items of one epoch in order (shuffled by (seed, epoch) when asked). */
  items(order: EpochOrder): AsyncIterable<SourceItem>;
}
