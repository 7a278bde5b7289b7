/** Maps items with bounded concurrency and yields results in input order. */
export async function* mapOrdered<T, R>(items: Iterable<T>, concurrency: number, map: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  const iterator = items[Symbol.iterator]();
  let done = false;
  const refill = (): void => {
    while (!done && window.length < concurrency) {
      const next = iterator.next();
      if (next.done) {
        done = true;
        return;
      }
      const result = map(next.value);
      // Observed when its turn comes; this keeps an early rejection from being reported as unhandled.
      result.catch(() => undefined);
      window.push(result);
    }
  };
  refill();
  while (window.length > 0) {
    const result = await window.shift()!;
    refill();
    yield result;
  }
}
