/**
 * Seeded sampling for the image-existence check: every image when there are few, a
 * reproducible random subset when there are many, chosen in one pass over a stream of
 * unknown length (reservoir sampling) so a million-item split is never held in memory.
 */
import { mulberry32 } from '../common/random';

/** mulberry32: uniform floats in [0, 1) from a seed. */
export const seededRandom = mulberry32;

/** Keeps a uniform random sample of at most `capacity` of the values offered (Algorithm R). */
export class Reservoir<T> {
  private readonly kept: T[] = [];
  private seen = 0;
  private readonly random: () => number;

  constructor(
    private readonly capacity: number,
    seed: number,
  ) {
    this.random = seededRandom(seed);
  }

  /** Offers one value; `make` runs only when the value is kept, so skipped ones cost nothing to build. */
  offer(make: () => T): void {
    this.seen++;
    if (this.kept.length < this.capacity) {
      this.kept.push(make());
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.kept[slot] = make();
  }

  /** How many values were offered in all. */
  get offered(): number {
    return this.seen;
  }

  values(): readonly T[] {
    return this.kept;
  }
}

/** Runs `task` over `values` with at most `limit` in flight; results in input order. */
export async function mapConcurrently<T, R>(values: readonly T[], limit: number, task: (value: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(values.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < values.length) {
      const index = next++;
      results[index] = await task(values[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, values.length) }, worker));
  return results;
}
