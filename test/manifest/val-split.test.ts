/** The optional held-out `val` split: validated as `test` is (labels, paths, images), counted, and optional. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateManifest, type Manifest } from '../../src/manifest';
import { imagePath, makeDataset, type TestDataset } from './helpers';

let dataset: TestDataset;
beforeAll(async () => {
  dataset = await makeDataset();
});
afterAll(async () => {
  await dataset.cleanup();
});

/** The test images reused as the val split (they exist on disk), with labels as given. */
function withVal(labels: readonly (number | string)[], paths?: readonly string[]): Manifest {
  const items = labels.map((label, i) => ({ path: paths?.[i] ?? imagePath('test', ['apple', 'bicycle', 'cloud'][i % 3]!, 0), label }));
  return { ...structuredClone(dataset.manifest), val: { items } };
}

describe('the val split', () => {
  it('is optional: a manifest without it has no val counts', async () => {
    const result = await validateManifest(dataset.manifest, { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.counts.val).toBeUndefined();
  });

  it('is read and counted per class like test', async () => {
    const result = await validateManifest(withVal([0, 'bicycle', 2, 0]), { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.counts.val).toEqual([2, 1, 1]);
  });

  it('reports bad labels, bad paths and missing images at val.items[i]', async () => {
    const manifest = withVal([0, 7, 1], [imagePath('test', 'apple', 0), imagePath('test', 'apple', 0), 'missing/0001.png']);
    manifest.val = { items: [...(manifest.val as { items: { path: string; label: number | string }[] }).items, { path: '../up.png', label: 0 }] };
    const result = await validateManifest(manifest, { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((p) => p.path).sort();
    expect(paths).toEqual(['val.items[1].label', 'val.items[2].path', 'val.items[3].path']);
    expect(result.problems.find((p) => p.path === 'val.items[2].path')!.code).toBe('image-missing');
  });

  it('refuses a val field of the wrong shape', async () => {
    const result = await validateManifest({ ...dataset.manifest, val: { folder: 'x' } }, { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.some((p) => p.path.startsWith('val'))).toBe(true);
  });
});
