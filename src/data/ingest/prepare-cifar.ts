/**
 * `sage prepare cifar100-lt`: CIFAR-100-LT from the official archive, by SPEC's rule. Class i
 * keeps floor(500 · β^(-i/99)) training images (a seeded choice); the test split is the full
 * balanced test set. β = 50 and 10 keep β = 100's head/medium/tail grouping
 * (evaluation.groupCounts), as the paper does.
 */
import type { PresetName } from '../../contracts/settings';
import { storeFor } from '../../storage';
import { cifarImagePng, readCifar100Archive, type CifarSplit } from './cifar';
import { longTailCounts, selectLongTail } from './long-tail';
import { writePreparedDataset, type IngestSample, type PrepareOutputOptions, type PreparedDataset } from './write-dataset';

export const CIFAR100_TRAIN_PER_CLASS = 500;
/** The split whose counts define head / medium / tail for every CIFAR-100-LT variant. */
export const CIFAR100_GROUPING_RATIO = 100;

const PRESET_BY_RATIO: Record<number, PresetName> = { 100: 'cifar100-lt-r100', 50: 'cifar100-lt-r50', 10: 'cifar100-lt-r10' };

export interface PrepareCifar100LtOptions extends PrepareOutputOptions {
  /** cifar-100-binary.tar.gz or cifar-100-python.tar.gz (local path or s3:// URI). */
  archive: string;
  /** β, the ratio of the largest to the smallest class; default 100. The paper uses 100, 50, 10. */
  imbalanceRatio?: number;
}

function samplesOf(split: CifarSplit, indices: Iterable<number>, prefix: string): IngestSample[] {
  return Array.from(indices, (i) => ({ key: `${prefix}_${String(i).padStart(5, '0')}`, label: split.labels[i]!, image: () => cifarImagePng(split, i) }));
}

export async function prepareCifar100Lt(options: PrepareCifar100LtOptions): Promise<PreparedDataset> {
  const ratio = options.imbalanceRatio ?? 100;
  const store = options.store ?? (await storeFor(options.archive));
  const archive = await readCifar100Archive(await store.get(options.archive));
  const classCount = archive.classNames.length;
  const counts = longTailCounts(classCount, CIFAR100_TRAIN_PER_CLASS, ratio);
  const kept = selectLongTail(archive.train.labels, counts, options.seed ?? 0);
  const preset = PRESET_BY_RATIO[ratio];
  const groupCounts = ratio === CIFAR100_GROUPING_RATIO ? undefined : longTailCounts(classCount, CIFAR100_TRAIN_PER_CLASS, CIFAR100_GROUPING_RATIO);
  return writePreparedDataset(
    {
      classes: archive.classNames,
      train: samplesOf(archive.train, kept, 'train'),
      test: samplesOf(archive.test, archive.test.labels.keys(), 'test'),
      defaultName: `cifar100-lt-r${ratio}`,
      description: `CIFAR-100-LT, imbalance ratio ${ratio} (${kept.length} training images), from the ${archive.layout} CIFAR-100 archive`,
      ...(preset ? { training: { preset } } : {}),
      ...(groupCounts ? { evaluation: { groupCounts } } : {}),
    },
    options,
  );
}
