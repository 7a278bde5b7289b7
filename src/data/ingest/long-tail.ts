/**
 * Long-tailed subsets by SPEC's rule: class i (in label order) of C keeps
 * floor(maxPerClass · β^(-i/(C-1))) images, chosen by a seeded shuffle of that class's images.
 * With C = 100, maxPerClass = 500 and β = 100 this is CIFAR-100-LT (10,847 images).
 */
import { createRng, mixSeedWide, shuffleInPlace } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import { DataError } from '../../common/errors';

export class LongTailError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'LongTailError';
  }
}

/** Images kept per class, head first. */
export function longTailCounts(classCount: number, maxPerClass: number, imbalanceRatio: number): number[] {
  if (!Number.isInteger(classCount) || classCount < 1) throw new LongTailError(`classCount must be a positive integer, got ${classCount}`);
  if (!Number.isInteger(maxPerClass) || maxPerClass < 1) throw new LongTailError(`maxPerClass must be a positive integer, got ${maxPerClass}`);
  if (!(imbalanceRatio >= 1)) throw new LongTailError(`the imbalance ratio β must be at least 1, got ${imbalanceRatio}`);
  const last = Math.max(1, classCount - 1);
  return Array.from({ length: classCount }, (_, i) => Math.floor(maxPerClass * imbalanceRatio ** (-i / last)));
}

/**
 * Indices (into `labels`, ascending) of the images kept when class c keeps `counts[c]` of its
 * images; a class with fewer images than its count keeps all of them.
 */
export function selectLongTail(labels: readonly number[], counts: readonly number[], seed: number): number[] {
  const byClass: number[][] = counts.map(() => []);
  labels.forEach((label, i) => {
    if (label < 0 || label >= counts.length) throw new LongTailError(`image ${i} has label ${label}, expected a class in [0, ${counts.length - 1}]`);
    byClass[label]!.push(i);
  });
  const kept: number[] = [];
  byClass.forEach((members, c) => {
    shuffleInPlace(members, createRng(mixSeedWide(seed, c, RNG_STREAM.subset)));
    kept.push(...members.slice(0, counts[c]));
  });
  return kept.sort((a, b) => a - b);
}
