/**
 * Turns an ordered stream of items into batches: each batch's images are decoded by the worker
 * pool while earlier batches are consumed, with at most `prefetch` batches started and not yet
 * handed out, so memory stays bounded whatever the dataset size.
 */
import type { BatchSource, EpochOptions, ImageBatch } from '../../contracts/batches';
import { ObjectNotFoundError } from '../../storage';
import type { DecodePool } from '../decode/pool';
import { DecodePoolError, ImageDecodeError } from '../decode/pool';
import { LoaderBadImageError, LoaderOptionsError, type BadImageReason, type BadImageReport } from '../errors';
import { mixSeedWide } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import { cropsFor, floatsPerItem, type TransformRequest } from '../transforms/apply';
import type { ResizedCropOptions } from '../transforms/geometry';
import type { ItemStream, SourceItem } from './item-stream';

export type OnBadImage = 'skip' | 'fail';

export interface BatcherSettings {
  imageSize: number;
  /** Batches decoded ahead of the consumer; default 2. */
  prefetch: number;
  onBadImage: OnBadImage;
  /** Called for every image that is skipped (or, with 'fail', just before the error). */
  reportBadImage: (report: BadImageReport) => void;
  crop?: ResizedCropOptions;
}

/** What the pipeline observed, for tests, logs and benchmarks. */
export interface LoaderStats {
  /** Most batches ever started and not yet handed to the consumer. */
  maxInFlight: number;
  batches: number;
  items: number;
  /** Images skipped as bad since the source was opened. */
  skipped: BadImageReport[];
}

interface Decoded {
  item: SourceItem;
  bad?: BadImageReport;
}

function badImageOf(item: SourceItem, error: unknown): BadImageReport {
  const reason: BadImageReason = error instanceof ObjectNotFoundError ? 'missing' : error instanceof ImageDecodeError ? 'corrupt' : 'unreadable';
  return { key: item.key, label: item.label, reason, detail: error instanceof Error ? error.message : String(error) };
}

async function take<T>(iterator: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

export class DecodedBatchSource implements BatchSource {
  readonly stats: LoaderStats = { maxInFlight: 0, batches: 0, items: 0, skipped: [] };

  constructor(
    private readonly source: ItemStream,
    private readonly pool: DecodePool,
    private readonly settings: BatcherSettings,
  ) {}

  get count(): number {
    return this.source.count;
  }

  labels(): Promise<Int32Array> {
    return this.source.labels();
  }

  async *batches(epoch: number, options: EpochOptions): AsyncGenerator<ImageBatch> {
    const { batchSize, shuffle, seed, transform } = options;
    const skip = options.skip ?? 0;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new LoaderOptionsError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(skip) || skip < 0) throw new LoaderOptionsError(`skip must be a non-negative integer, got ${skip}`);
    const iterator = this.source.items({ epoch, shuffle, seed })[Symbol.asyncIterator]();
    const inFlight: Promise<ImageBatch | undefined>[] = [];
    try {
      for (let skipped = 0; skipped < skip; skipped++) if ((await iterator.next()).done) break;
      let exhausted = false;
      for (;;) {
        while (!exhausted && inFlight.length < this.settings.prefetch) {
          const items = await take(iterator, batchSize);
          if (items.length < batchSize) exhausted = true;
          if (items.length === 0) break;
          const batch = this.decodeBatch(items, { epoch, seed, transform });
          // Handled when its turn comes; this only keeps an early failure from going unobserved.
          batch.catch(() => undefined);
          inFlight.push(batch);
          this.stats.maxInFlight = Math.max(this.stats.maxInFlight, inFlight.length);
        }
        const next = inFlight.shift();
        if (!next) return;
        const batch = await next;
        if (batch) {
          this.stats.batches++;
          this.stats.items += batch.n;
          yield batch;
        }
      }
    } finally {
      await iterator.return?.();
    }
  }

  private async decodeBatch(items: SourceItem[], context: { epoch: number; seed: number; transform: EpochOptions['transform'] }): Promise<ImageBatch | undefined> {
    const { imageSize: size, crop } = this.settings;
    const stride = floatsPerItem(context.transform, size);
    // [n * crops, S, S, 3] in shared memory: the decode workers write each item into its slot, so
    // no item is copied after decoding (a skipped item's slot is closed up below).
    const images = new Float32Array(new SharedArrayBuffer(items.length * stride * Float32Array.BYTES_PER_ELEMENT));
    const decoded = await Promise.all(
      items.map(async (item, slot): Promise<Decoded> => {
        const request: TransformRequest = { kind: context.transform, size, seed: mixSeedWide(context.seed, context.epoch, item.index, RNG_STREAM.augmentation), crop };
        try {
          await this.pool.run(await item.load(), request, images.subarray(slot * stride, (slot + 1) * stride));
          return { item };
        } catch (error) {
          // A broken pool is not a bad image: it must stop the epoch whatever onBadImage says.
          if (error instanceof DecodePoolError) throw error;
          return { item, bad: badImageOf(item, error) };
        }
      }),
    );
    const good: SourceItem[] = [];
    decoded.forEach((result, slot) => {
      if (!result.bad) {
        if (slot !== good.length) images.copyWithin(good.length * stride, slot * stride, (slot + 1) * stride);
        good.push(result.item);
        return;
      }
      this.settings.reportBadImage(result.bad);
      if (this.settings.onBadImage === 'fail') throw new LoaderBadImageError(result.bad);
      this.stats.skipped.push(result.bad);
    });
    if (good.length === 0) return undefined;
    return {
      images: good.length === items.length ? images : images.subarray(0, good.length * stride),
      labels: Int32Array.from(good, (item) => item.label),
      keys: good.map((item) => item.key),
      n: good.length,
      size,
      crops: cropsFor(context.transform),
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
