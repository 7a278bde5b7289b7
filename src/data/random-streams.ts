/**
 * Tags that keep the data loader's independent random streams of one (seed, epoch) apart:
 * the epoch order must not correlate with the augmentation draws of any item. Each stream's
 * seed is `mixSeedWide(seed, ..., tag)` (src/common/random.ts).
 */
export const RNG_STREAM = {
  epochOrder: 1,
  shuffleBuffer: 2,
  augmentation: 3,
  subset: 4,
  heldOut: 5,
} as const;
