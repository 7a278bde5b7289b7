/**
 * Test datasets on a temporary folder: class folders of placeholder image files, a CLIP
 * weights folder, and a manifest that references them. Validation only checks that
 * images exist, so their bytes need not decode.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Manifest } from '../../src/manifest';
import { tinyClipFiles } from '../helpers/tiny-clip';

export interface TestDataset {
  dir: string;
  manifestUri: string;
  manifest: Manifest;
  cleanup(): Promise<void>;
}

export const CLASS_NAMES = ['apple', 'bicycle', 'cloud'] as const;

/** Training counts per class (long-tailed) and test items per class of the default dataset. */
export const TRAIN_COUNTS = [4, 2, 1] as const;
export const TEST_PER_CLASS = 1;

export function imagePath(split: 'train' | 'test', className: string, index: number): string {
  return `${split}/${className}/${String(index).padStart(4, '0')}.png`;
}

/** Writes images, weights and returns a manifest (inline items) that validates. */
export async function makeDataset(options: { writeWeights?: boolean; writeImages?: boolean } = {}): Promise<TestDataset> {
  const dir = await mkdtemp(path.join(tmpdir(), 'manifest-test-'));
  const trainItems: { path: string; label: number | string }[] = [];
  const testItems: { path: string; label: number | string }[] = [];
  CLASS_NAMES.forEach((name, label) => {
    for (let i = 0; i < TRAIN_COUNTS[label]!; i++) trainItems.push({ path: imagePath('train', name, i), label });
    for (let i = 0; i < TEST_PER_CLASS; i++) testItems.push({ path: imagePath('test', name, i), label: name });
  });
  if (options.writeImages !== false) {
    for (const item of [...trainItems, ...testItems]) {
      const file = path.join(dir, 'images', item.path);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'png');
    }
  }
  if (options.writeWeights !== false) {
    await mkdir(path.join(dir, 'weights'), { recursive: true });
    const clip = tinyClipFiles();
    await writeFile(path.join(dir, 'weights', 'config.json'), clip.config);
    await writeFile(path.join(dir, 'weights', 'model.safetensors'), clip.model);
  }
  const manifest: Manifest = {
    version: 1,
    name: 'tiny-lt',
    classes: [...CLASS_NAMES],
    images: './images',
    train: { items: trainItems },
    test: { items: testItems },
    weights: './weights',
    training: { method: 'sage', preset: 'cifar100-lt-r100', epochs: 2 },
  };
  const manifestUri = path.join(dir, 'manifest.json');
  await writeFile(manifestUri, JSON.stringify(manifest, null, 2));
  return { dir, manifestUri, manifest, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
