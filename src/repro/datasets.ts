/**
 * The paper's six benchmark settings, named by their Table 8 preset (one name for the
 * dataset, its preset and its column in the paper's tables), with what identifies them:
 * the class count, and the title the paper prints.
 */
import { PRESETS, type PresetName } from '../contracts/settings';

export type PaperDataset = PresetName;
export const PAPER_DATASETS: readonly PaperDataset[] = PRESETS;

export interface PaperDatasetInfo {
  /** As the paper's tables name it. */
  title: string;
  /** Classes of the benchmark: a dataset with another count is not the paper's (a toy). */
  classes: number;
  /** CIFAR-100-LT's imbalance ratio β (undefined for the other benchmarks). */
  imbalanceRatio?: number;
}

export const PAPER_DATASET_INFO: Record<PaperDataset, PaperDatasetInfo> = {
  'cifar100-lt-r100': { title: 'CIFAR-100-LT β = 100', classes: 100, imbalanceRatio: 100 },
  'cifar100-lt-r50': { title: 'CIFAR-100-LT β = 50', classes: 100, imbalanceRatio: 50 },
  'cifar100-lt-r10': { title: 'CIFAR-100-LT β = 10', classes: 100, imbalanceRatio: 10 },
  'places-lt': { title: 'Places-LT', classes: 365 },
  'imagenet-lt': { title: 'ImageNet-LT', classes: 1000 },
  inat2018: { title: 'iNaturalist 2018', classes: 8142 },
};

export function isPaperDataset(value: string): value is PaperDataset {
  return (PAPER_DATASETS as readonly string[]).includes(value);
}

/**
 * Where the paper ran (section 4.2): PyTorch on an RTX 4080, iNaturalist 2018 on an A100.
 * Our runs use tfjs; the report names our backend beside this.
 */
export function paperHardware(dataset: PaperDataset): string {
  return dataset === 'inat2018' ? 'PyTorch on an NVIDIA A100 80GB' : 'PyTorch on an NVIDIA GeForce RTX 4080';
}
