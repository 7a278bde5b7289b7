import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MANIFEST_BYTES, validateManifest, type Manifest, type ManifestProblem } from '../../src/manifest';
import { makeDataset, TRAIN_COUNTS, type TestDataset } from './helpers';

let dataset: TestDataset;
beforeAll(async () => {
  dataset = await makeDataset();
});
afterAll(async () => {
  await dataset.cleanup();
});

function variant(change: (manifest: Manifest & Record<string, unknown>) => void): Manifest {
  const copy = structuredClone(dataset.manifest) as Manifest & Record<string, unknown>;
  change(copy);
  return copy;
}

async function problemsOf(manifest: unknown, options: { checkStorage?: boolean } = {}): Promise<ManifestProblem[]> {
  const result = await validateManifest(manifest, { manifestUri: dataset.manifestUri, ...options });
  if (result.ok) throw new Error('expected the manifest to be refused');
  return result.problems;
}

/** path → message, for exact comparisons. */
function byPath(problems: readonly ManifestProblem[]): Record<string, string> {
  return Object.fromEntries(problems.map((p) => [p.path, p.message]));
}

describe('validateManifest on a good manifest', () => {
  it('accepts it with storage checks and returns the per-class counts', async () => {
    const result = await validateManifest(JSON.stringify(dataset.manifest), { manifestUri: dataset.manifestUri });
    expect(result).toMatchObject({ ok: true, warnings: [], counts: { train: [...TRAIN_COUNTS], test: [1, 1, 1] } });
  });

  it('accepts the already-parsed value just as the text', async () => {
    const result = await validateManifest(dataset.manifest, { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(true);
  });

  it('warns, without refusing, when a class has no test items', async () => {
    const manifest = variant((m) => {
      if ('items' in m.test) m.test.items = m.test.items.slice(1);
    });
    const result = await validateManifest(manifest, { manifestUri: dataset.manifestUri });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]!.message).toBe('1 class(es) have no test items, so their accuracy is not measured: "apple"');
  });
});

describe('validateManifest reports every problem at once, each at its path', () => {
  it('finds class, label, empty-class and image-path problems in one pass', async () => {
    const manifest = variant((m) => {
      m.classes = ['apple', 'bicycle', 'cloud', 'apple', 'dune'];
      if (!('items' in m.train) || !('items' in m.test)) throw new Error('inline fixture');
      m.train.items[0]!.label = 9;
      m.train.items[1]!.label = 'pear';
      m.train.items[2]!.path = '../secret.png';
      m.train.items[3]!.path = '/etc/passwd.png';
      m.train.items[4]!.path = 's3://other-bucket/x.png';
      m.train.items[5]!.path = 'train/bicycle/0001.txt';
      m.test.items[2]!.label = -1;
    });
    const problems = await problemsOf(JSON.stringify(manifest, null, 2));
    expect(byPath(problems)).toEqual({
      'classes[3]': 'expected unique class names, got "apple" again (first at classes[0])',
      'train.items[0].label': 'expected a class index in [0, 4] or a class name, got 9',
      'train.items[1].label': 'expected a class index in [0, 4] or one of the 5 class names, got the unknown name "pear"',
      'train.items[2].path': 'expected a path inside images, got "../secret.png" which escapes it with ".."',
      'train.items[3].path': 'expected a path relative to images, got the absolute path "/etc/passwd.png"',
      'train.items[4].path':
        'expected a path relative to images, got the URI "s3://other-bucket/x.png" (images from another bucket or location are not allowed)',
      'train.items[5].path': 'expected an image file (.png, .jpg, .jpeg, .webp, .gif, .avif, .tif, .tiff), got "train/bicycle/0001.txt"',
      'test.items[2].label': 'expected a number >= 0, got -1',
      // Every item of "apple" (items 0-3) and "bicycle" (4-5) was broken above; "dune" never had any.
      'classes[0]': 'expected at least one training item for class "apple" (index 0), got none',
      'classes[1]': 'expected at least one training item for class "bicycle" (index 1), got none',
      'classes[4]': 'expected at least one training item for class "dune" (index 4), got none',
    });
    expect(problems.every((p) => p.line !== undefined && p.column !== undefined)).toBe(true);
  });

  it('checks hyper-parameter ranges through the shared settings schema', async () => {
    const manifest = variant((m) => {
      m.training = { epochs: 0, batchSize: 0, learningRate: 0, alpha: 1.5, mu: 0, gamma: -0.1, lambda3: -1 };
      (m.training as Record<string, unknown>).preset = 'cifar10';
    });
    expect(byPath(await problemsOf(manifest))).toEqual({
      'training.epochs': 'expected a number >= 1, got 0',
      'training.batchSize': 'expected a number >= 1, got 0',
      'training.learningRate': 'expected a number > 0, got 0',
      'training.alpha': 'expected a number <= 1, got 1.5',
      'training.mu': 'expected a number > 0, got 0',
      'training.gamma': 'expected a number >= 0, got -0.1',
      'training.lambda3': 'expected a number >= 0, got -1',
      'training.preset':
        'expected one of "cifar100-lt-r100", "cifar100-lt-r50", "cifar100-lt-r10", "places-lt", "imagenet-lt", "inat2018", got "cifar10"',
    });
  });

  it("checks each sweep entry alone and its resolved settings over training's", async () => {
    const manifest = variant((m) => {
      m.training = { batchSize: 64 };
      m.sweep = [{ microBatchSize: 128 }, { alpha: 2 }, { method: 'lift' }, { batchSize: 16, microBatchSize: 32 }];
    });
    expect(byPath(await problemsOf(manifest))).toEqual({
      'sweep[1].alpha': 'expected a number <= 1, got 2',
      'sweep[0].microBatchSize': 'microBatchSize: microBatchSize must not exceed batchSize (settings resolved from sweep[0] over training and the preset)',
      'sweep[3].microBatchSize': 'microBatchSize: microBatchSize must not exceed batchSize (settings resolved from sweep[3] over training and the preset)',
    });
  });

  it('points a resolved-settings problem at training when there is no sweep', async () => {
    const manifest = variant((m) => {
      m.training = { batchSize: 8, microBatchSize: 16 };
    });
    expect(Object.keys(byPath(await problemsOf(manifest)))).toEqual(['training.microBatchSize']);
  });

  it('refuses a sweep of more than 1,000 entries', async () => {
    const manifest = variant((m) => {
      m.sweep = Array.from({ length: 1001 }, (_, i) => ({ seed: i }));
    });
    expect(byPath(await problemsOf(manifest))).toEqual({ sweep: 'expected at most 1000 entries, got 1001 entries' });
  });

  it('refuses a manifest over 10 MB before parsing it, as text or as a value', async () => {
    const manifest = variant((m) => {
      m.description = 'x'.repeat(MAX_MANIFEST_BYTES);
    });
    for (const input of [JSON.stringify(manifest), manifest]) {
      const problems = await problemsOf(input);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ path: '', code: 'too-large' });
      expect(problems[0]!.message).toMatch(/^expected a manifest of at most 10,485,760 bytes \(10 MB\), got 10,48\d,\d\d\d bytes/);
    }
  });

  it('requires images for item splits and one group count per class', async () => {
    const manifest = variant((m) => {
      delete m.images;
      m.evaluation = { groupCounts: [500, 20] };
    });
    expect(byPath(await problemsOf(manifest))).toEqual({
      images:
        'missing required field "images" (expected the image root: a folder or s3://bucket/prefix/), which items, jsonl and list splits need',
      'evaluation.groupCounts': 'expected one count per class (3), got 2',
    });
  });

  it('refuses a JSON value that is not an object, and text that is not JSON', async () => {
    expect(await problemsOf([1, 2])).toEqual([{ path: '', message: 'expected an object, got an array of 2', code: 'schema' }]);
    expect(await problemsOf('{"version": 1, "name": \'x\'}')).toEqual([
      { path: '', message: 'invalid JSON: expected a value, got a single quote: JSON strings use double quotes', line: 1, column: 24, code: 'syntax' },
    ]);
  });

  it('reports a reference with another scheme at its field', async () => {
    const manifest = variant((m) => {
      m.weights = 'https://huggingface.co/openai/clip-vit-base-patch16';
    });
    expect(byPath(await problemsOf(manifest))).toEqual({
      weights:
        'cannot resolve "https://huggingface.co/openai/clip-vit-base-patch16": expected s3://bucket/key, an absolute path or a relative path, got the scheme "https"',
    });
  });
});
