import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  loadManifest,
  ManifestItemsError,
  ManifestValidationError,
  readItems,
  resolveReference,
  validateManifest,
  type ItemSource,
  type Manifest,
  type ManifestItem,
  type ListedItemSource,
  type ManifestProblem,
} from '../../src/manifest';
import type { ShardIndex } from '../../src/data/shards/format';
import { LocalObjectStore } from '../../src/storage';
import { CLASS_NAMES, imagePath, makeDataset, TRAIN_COUNTS, type TestDataset } from './helpers';

let dataset: TestDataset;
beforeEach(async () => {
  dataset = await makeDataset();
});
afterEach(async () => {
  await dataset.cleanup();
});

function trainItems(): { path: string; label: number }[] {
  return CLASS_NAMES.flatMap((name, label) => Array.from({ length: TRAIN_COUNTS[label]! }, (_, i) => ({ path: imagePath('train', name, i), label })));
}

function withTrain(train: ItemSource): Manifest {
  return { ...structuredClone(dataset.manifest), train };
}

async function validate(manifest: Manifest, options: { sampleSize?: number; seed?: number; checkStorage?: boolean } = {}) {
  return validateManifest(JSON.stringify(manifest), { manifestUri: dataset.manifestUri, store: new LocalObjectStore(), ...options });
}

async function problemsOf(manifest: Manifest, options: { sampleSize?: number; seed?: number } = {}): Promise<ManifestProblem[]> {
  const result = await validate(manifest, options);
  if (result.ok) throw new Error('expected the manifest to be refused');
  return result.problems;
}

async function collect(source: ListedItemSource, manifestUri = dataset.manifestUri): Promise<ManifestItem[]> {
  const out: ManifestItem[] = [];
  for await (const item of readItems(source, { manifestUri, classNames: CLASS_NAMES })) out.push(item);
  return out;
}

describe('JSONL and list files', () => {
  it('reads a JSONL split line by line, skipping blank lines, with labels by index or name', async () => {
    const lines = trainItems().map((item, i) => JSON.stringify({ path: item.path, label: i % 2 === 0 ? item.label : CLASS_NAMES[item.label] }));
    await writeFile(path.join(dataset.dir, 'train.jsonl'), `${lines.slice(0, 3).join('\n')}\n\n${lines.slice(3).join('\r\n')}\n`);
    const items = await collect({ jsonl: 'train.jsonl' });
    expect(items.map((item) => [item.path, item.label, item.line])).toEqual(
      trainItems().map((item, i) => [item.path, item.label, i < 3 ? i + 1 : i + 2]),
    );
    const result = await validate(withTrain({ jsonl: 'train.jsonl' }));
    expect(result).toMatchObject({ ok: true, counts: { train: [...TRAIN_COUNTS] } });
  });

  it('reads an ImageNet-LT style list file, paths with spaces included', async () => {
    await mkdir(path.join(dataset.dir, 'images', 'train', 'with space'), { recursive: true });
    await writeFile(path.join(dataset.dir, 'images', 'train', 'with space', 'a.jpg'), 'jpg');
    const lines = [...trainItems().map((item) => `${item.path} ${item.label}`), 'train/with space/a.jpg cloud'];
    await writeFile(path.join(dataset.dir, 'lists', 'train.txt').replace('lists/', ''), `\uFEFF${lines.join('\n')}`);
    const items = await collect({ list: 'train.txt' });
    expect(items.at(-1)).toEqual({ path: 'train/with space/a.jpg', label: 2, line: lines.length });
    const result = await validate(withTrain({ list: 'train.txt' }));
    expect(result).toMatchObject({ ok: true, counts: { train: [TRAIN_COUNTS[0], TRAIN_COUNTS[1], TRAIN_COUNTS[2] + 1] } });
  });

  it('names the file and line of every bad list line', async () => {
    const lines = [
      'train/apple/0000.png 0',
      'train/apple/0001.png',
      'train/bicycle/0000.png 3',
      'train/bicycle/0001.png pear',
      '../../etc/shadow.png 1',
      'train/cloud/0000.png 2',
    ];
    await writeFile(path.join(dataset.dir, 'train.txt'), lines.join('\n'));
    const problems = await problemsOf(withTrain({ list: 'train.txt' }));
    expect(problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['train.txt:2', 2, 'expected "relative/path label", got "train/apple/0001.png"'],
      ['train.txt:3', 3, 'expected a class index in [0, 2] or a class name, got 3'],
      ['train.txt:4', 4, 'expected a class index in [0, 2] or one of the 3 class names, got the unknown name "pear"'],
      ['train.txt:5', 5, 'expected a path inside images, got "../../etc/shadow.png" which escapes it with ".."'],
      // A JSON path's line is the manifest's (here a one-line document).
      ['classes[1]', 1, 'expected at least one training item for class "bicycle" (index 1), got none'],
    ]);
  });

  it('names the line and the field of bad JSONL lines', async () => {
    const lines = ['{"path": "train/apple/0000.png", "label": 0}', '{"path": "train/apple/0001.png", "label": 0', '{"path": 5, "label": 1, "extra": true}', '{"path": "train/cloud/0000.png", "label": "bicycle"}'];
    await writeFile(path.join(dataset.dir, 'train.jsonl'), lines.join('\n'));
    const problems = await problemsOf(withTrain({ jsonl: 'train.jsonl' }));
    expect(problems.map((p) => [p.path, p.line, p.code])).toEqual([
      ['train.jsonl:2', 2, 'syntax'],
      ['train.jsonl:3', 3, 'schema'],
      ['train.jsonl:3', 3, 'unknown-field'],
      ['classes[2]', 1, 'empty-class'],
    ]);
    expect(problems[1]!.message).toBe('path: expected a string, got 5');
    expect(problems[2]!.message).toBe('extra: unknown field "extra"; expected only: path, label');
  });

  it('lists the first 100 problems of a kind and counts the rest', async () => {
    const good = trainItems().map((item) => `${item.path} ${item.label}`);
    const bad = Array.from({ length: 5000 }, (_, i) => `train/apple/${i}.png 99`);
    await writeFile(path.join(dataset.dir, 'train.txt'), [...good, ...bad].join('\n'));
    const problems = await problemsOf(withTrain({ list: 'train.txt' }));
    expect(problems.filter((p) => p.code === 'label')).toHaveLength(100);
    const overflow = problems.filter((p) => p.code === 'limit');
    expect(overflow).toHaveLength(1);
    expect(overflow[0]!.path).toBe(`train.txt:${good.length + 101}`);
    expect(overflow[0]!.message).toMatch(/^4,900 more "label" problem\(s\) not listed \(the first 100 are\)/);
  });

  it('reports a missing referenced file at the field that names it', async () => {
    const problems = await problemsOf(withTrain({ jsonl: 'nowhere.jsonl' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('train.jsonl');
    expect(problems[0]!.code).toBe('reference');
    expect(problems[0]!.message).toBe('expected a readable file at nowhere.jsonl, got: no such file');
  });

  it('stops readItems at the first bad line with a ManifestItemsError naming it', async () => {
    await writeFile(path.join(dataset.dir, 'train.txt'), 'train/apple/0000.png 0\ntrain/apple/0001.png 7\n');
    await expect(collect({ list: 'train.txt' })).rejects.toThrow(ManifestItemsError);
    await expect(collect({ list: 'train.txt' })).rejects.toThrow('cannot read items at train.txt:2: expected a class index in [0, 2]');
  });
});

describe('loadManifest', () => {
  it('reads and validates a manifest from its location, resolving names to labels', async () => {
    const loaded = await loadManifest(dataset.manifestUri);
    expect(loaded.manifest.name).toBe('tiny-lt');
    expect(loaded.counts).toEqual({ train: [...TRAIN_COUNTS], test: [1, 1, 1] });
    const test = await collect(loaded.manifest.test as ListedItemSource);
    expect(test.map((item) => item.label)).toEqual([0, 1, 2]);
  });

  it('throws ManifestValidationError carrying every problem', async () => {
    await writeFile(dataset.manifestUri, JSON.stringify({ ...dataset.manifest, name: 'bad name', weights: './nowhere' }));
    const error = await loadManifest(dataset.manifestUri).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ManifestValidationError);
    expect((error as ManifestValidationError).problems.map((p) => p.path)).toEqual(['name', 'weights', 'weights']);
  });
});

describe('storage checks', () => {
  it('requires config.json and model.safetensors in the weights folder', async () => {
    await rm(path.join(dataset.dir, 'weights', 'model.safetensors'));
    const problems = await problemsOf(dataset.manifest);
    expect(problems).toEqual([
      {
        path: 'weights',
        message: `expected model.safetensors in the CLIP weights folder (Hugging Face layout), got no object at ${path.join(dataset.dir, 'weights', 'model.safetensors')}`,
        code: 'weights',
        line: expect.any(Number) as number,
        column: expect.any(Number) as number,
      },
    ]);
  });

  it('reports every missing image when there are at most sampleSize of them', async () => {
    await rm(path.join(dataset.dir, 'images', imagePath('train', 'apple', 2)));
    await rm(path.join(dataset.dir, 'images', imagePath('test', 'cloud', 0)));
    const problems = await problemsOf(dataset.manifest);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['train.items[2].path', 'image-missing'],
      ['test.items[2].path', 'image-missing'],
    ]);
    expect(problems[0]!.message).toBe(`expected an image at ${path.join(dataset.dir, 'images', imagePath('train', 'apple', 2))}, got no such object`);
  });

  it('checks a seeded sample when there are more images than sampleSize', async () => {
    await rm(path.join(dataset.dir, 'images'), { recursive: true });
    const first = await problemsOf(dataset.manifest, { sampleSize: 3, seed: 7 });
    const again = await problemsOf(dataset.manifest, { sampleSize: 3, seed: 7 });
    expect(first).toHaveLength(3);
    expect(again.map((p) => p.path).sort()).toEqual(first.map((p) => p.path).sort());
    const otherSeeds = await Promise.all([1, 2, 3, 4, 5].map((seed) => problemsOf(dataset.manifest, { sampleSize: 3, seed })));
    const distinct = new Set(otherSeeds.map((problems) => problems.map((p) => p.path).sort().join()));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('skips the existence checks without checkStorage but still reads referenced lists', async () => {
    await rm(path.join(dataset.dir, 'images'), { recursive: true });
    await rm(path.join(dataset.dir, 'weights'), { recursive: true });
    await writeFile(path.join(dataset.dir, 'train.txt'), trainItems().map((item) => `${item.path} ${item.label}`).join('\n'));
    const result = await validate(withTrain({ list: 'train.txt' }), { checkStorage: false });
    expect(result).toMatchObject({ ok: true, counts: { train: [...TRAIN_COUNTS], test: [1, 1, 1] } });
    const missing = await validate(withTrain({ list: 'nowhere.txt' }), { checkStorage: false });
    expect(missing.ok ? [] : missing.problems.map((p) => p.path)).toEqual(['train.list']);
  });
});

describe('relative references', () => {
  it('resolve against the manifest folder, locally and in a bucket', () => {
    expect(resolveReference('lists/train.txt', '/data/cifar/manifest.json')).toBe('/data/cifar/lists/train.txt');
    expect(resolveReference('../shared/weights', '/data/cifar/manifest.json')).toBe('/data/shared/weights');
    expect(resolveReference('./train.jsonl', 's3://data/manifests/cifar/run.json')).toBe('s3://data/manifests/cifar/train.jsonl');
    expect(resolveReference('../images/', 's3://data/manifests/run.json')).toBe('s3://data/images/');
    expect(resolveReference('s3://other/x.txt', '/data/m.json')).toBe('s3://other/x.txt');
    expect(() => resolveReference('../../x', 's3://data/manifests/run.json')).toThrow('climbs above the root of bucket "data"');
  });
});

async function writeShard(file: string, samples: { key: string; label: string }[]): Promise<void> {
  const pack = tar.pack();
  for (const sample of samples) {
    pack.entry({ name: `${sample.key}.png` }, Buffer.from('png'));
    pack.entry({ name: `${sample.key}.cls` }, sample.label);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.concat(chunks));
}

describe('WebDataset shards', () => {
  async function writeShards(): Promise<ShardIndex> {
    await writeShard(path.join(dataset.dir, 'shards', 'train-0.tar'), [
      { key: 's0', label: '0' },
      { key: 's1', label: '0' },
      { key: 's2', label: '1' },
    ]);
    await writeShard(path.join(dataset.dir, 'shards', 'train-1.tar'), [{ key: 's3', label: '2' }]);
    const index: ShardIndex = {
      version: 1,
      format: 'webdataset',
      shards: [
        { uri: 'train-0.tar', count: 3, classCounts: { '0': 2, '1': 1 } },
        { uri: 'train-1.tar', count: 1, classCounts: { '2': 1 } },
      ],
    };
    await writeFile(path.join(dataset.dir, 'shards', 'index.json'), JSON.stringify(index));
    return index;
  }

  it('validates a shards split from its index and counts classes from it', async () => {
    await writeShards();
    const result = await validate(withTrain({ shards: 'shards/index.json' }));
    expect(result).toMatchObject({ ok: true, counts: { train: [2, 1, 1] } });
  });

  it('reports bad class counts and missing shards in the index', async () => {
    const index = await writeShards();
    index.shards[0]!.classCounts = { '0': 2, '5': 1 };
    index.shards[1]!.count = 4;
    index.shards.push({ uri: 'train-9.tar', count: 0, classCounts: {} });
    await writeFile(path.join(dataset.dir, 'shards', 'index.json'), JSON.stringify(index));
    const problems = await problemsOf(withTrain({ shards: 'shards/index.json' }));
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['shards/index.json:shards[0].classCounts["5"]', 'expected a class index in [0, 2], got 5'],
      ['shards/index.json:shards[1].count', "expected the shard's count to equal the sum of its classCounts (1), got 4"],
      ['shards/index.json:shards[2].uri', `expected a tar shard at ${path.join(dataset.dir, 'shards', 'train-9.tar')}, got no such object`],
      ['classes[1]', 'expected at least one training item for class "bicycle" (index 1), got none'],
    ]);
  });

  it('reports an index that is not a shard index', async () => {
    await mkdir(path.join(dataset.dir, 'shards'), { recursive: true });
    await writeFile(path.join(dataset.dir, 'shards', 'index.json'), JSON.stringify({ version: 1, shards: [{ uri: 'a.tar' }] }));
    const problems = await problemsOf(withTrain({ shards: 'shards/index.json' }));
    expect(problems.map((p) => p.path)).toEqual([
      'shards/index.json:format',
      'shards/index.json:shards[0].count',
      'shards/index.json:shards[0].classCounts',
    ]);
  });
});
