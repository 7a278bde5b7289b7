/**
 * The boundary between the data loader (src/data) and the engine (src/engine): plain
 * typed arrays, no tfjs, so either side can be tested alone and a fake source is trivial.
 */

export type TransformKind = 'train' | 'test' | 'tte';

export interface ImageBatch {
  /**
   * CLIP-normalised pixels, NHWC: `[n * crops, size, size, 3]`. With `crops = 5` (TTE) the
   * five crops of item i are rows `5i .. 5i+4` (item-major).
   */
  images: Float32Array;
  /** Class index per item, `[n]`. */
  labels: Int32Array;
  /** Stable key per item (shard key or relative path), for error messages and predictions. */
  keys: string[];
  /** Items in the batch (not counting crops). */
  n: number;
  /** Side of the square crop (the model's image size). */
  size: number;
  /** Crops per item: 1, or 5 with the TTE transform. */
  crops: number;
}

export interface EpochOptions {
  /** Items per batch (the micro-batch size when the engine accumulates). */
  batchSize: number;
  /** Train: shuffle with a seed derived from (seed, epoch) so every epoch is repeatable. */
  shuffle: boolean;
  seed: number;
  transform: TransformKind;
  /** Skip the first `skip` items (resuming mid-epoch); default 0. */
  skip?: number;
}

export interface BatchSource {
  /** Number of items in the split. */
  readonly count: number;
  /** Class index per item in source order (for counts and per-class metrics without decoding images). */
  labels(): Promise<Int32Array>;
  /** One pass over the split. Pulling is back-pressured: at most a fixed number of batches are in flight. */
  batches(epoch: number, options: EpochOptions): AsyncIterable<ImageBatch>;
  /** Releases worker threads and open streams. */
  close(): Promise<void>;
}
