import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/storage';
import { Manifest } from '../../src/manifest/schema';
import { prepareImageNetLt, preparePlacesLt } from '../../src/data/ingest/prepare-lists';
import { prepareInat2018 } from '../../src/data/ingest/prepare-inat';
import { prepareImageFolder } from '../../src/data/ingest/prepare-folder';
import { parseClassNames } from '../../src/data/ingest/text-files';
import { readShardIndex, shardUri } from '../../src/data/shards/format';
import { readShards, type ShardRecord } from '../../src/data/shards/reader';
import type { PreparedDataset } from '../../src/data/ingest/write-dataset';
import { colourOf, solidPng, tempDir } from './helpers';

const store = new LocalObjectStore();

async function writeImage(root: string, relative: string, id: number): Promise<void> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await solidPng(colourOf(id), 6, 5));
}

async function records(out: string, split: 'train' | 'test'): Promise<ShardRecord[]> {
  const indexUri = path.join(out, split, 'index.json');
  const index = await readShardIndex(indexUri, store);
  const all: ShardRecord[] = [];
  for await (const record of readShards(index.shards.map((s) => shardUri(indexUri, s)), store)) all.push(record);
  return all;
}

async function manifestOf(prepared: PreparedDataset): Promise<Manifest> {
  return Manifest.parse(JSON.parse(await store.getText(prepared.manifestUri)));
}

describe('ImageNet-LT and Places-LT from list files', () => {
  async function listDataset(): Promise<{ root: string; dir: string; train: [string, number][]; test: [string, number][] }> {
    const dir = await tempDir('lists');
    const root = path.join(dir, 'imagenet');
    const train: [string, number][] = [
      ['train/n01440764/n01440764_10026.JPEG', 0],
      ['train/n01440764/n01440764_10027.JPEG', 0],
      ['train/n01443537/n01443537_1.JPEG', 1],
      ['train/n01484850/n01484850_7.JPEG', 2],
    ];
    const test: [string, number][] = [
      ['val/ILSVRC2012_val_00000001.JPEG', 2],
      ['val/ILSVRC2012_val_00000002.JPEG', 0],
    ];
    for (const [i, [file]] of [...train, ...test].entries()) await writeImage(root, file, i);
    await writeFile(path.join(dir, 'ImageNet_LT_train.txt'), train.map(([p, l]) => `${p} ${l}`).join('\n') + '\n');
    await writeFile(path.join(dir, 'ImageNet_LT_test.txt'), test.map(([p, l]) => `${p}\t${l}`).join('\r\n'));
    await writeFile(path.join(dir, 'classnames.txt'), 'tench\ngoldfish\ngreat white shark\n');
    return { root, dir, train, test };
  }

  it('copies every listed image into shards with its label, and names the classes from classnames.txt', async () => {
    const { root, dir, train, test } = await listDataset();
    const out = path.join(dir, 'out');
    const prepared = await prepareImageNetLt({
      imageRoot: root,
      trainList: path.join(dir, 'ImageNet_LT_train.txt'),
      testList: path.join(dir, 'ImageNet_LT_test.txt'),
      classNames: path.join(dir, 'classnames.txt'),
      out,
    });
    expect(prepared.trainCounts).toEqual([2, 1, 1]);
    expect(prepared.testCount).toBe(2);
    const manifest = await manifestOf(prepared);
    expect(manifest.classes).toEqual(['tench', 'goldfish', 'great white shark']);
    expect(manifest.training).toEqual({ preset: 'imagenet-lt' });
    const trainRecords = await records(out, 'train');
    expect(trainRecords.map((r) => [r.key, r.label])).toEqual(train.map(([p, l]) => [p.replace('.JPEG', ''), l]));
    expect(trainRecords[2]!.image.equals(await solidPng(colourOf(2), 6, 5))).toBe(true);
    expect((await records(out, 'test')).map((r) => r.label)).toEqual(test.map(([, l]) => l));
  });

  it('names the list file and line of a label outside the classes', async () => {
    const { root, dir } = await listDataset();
    await writeFile(path.join(dir, 'bad.txt'), 'train/n01440764/n01440764_10026.JPEG 0\ntrain/x.JPEG 3\n');
    await expect(
      preparePlacesLt({ imageRoot: root, trainList: path.join(dir, 'bad.txt'), testList: path.join(dir, 'bad.txt'), classNames: path.join(dir, 'classnames.txt'), out: path.join(dir, 'o') }),
    ).rejects.toThrow(/bad\.txt:2: expected a class index in \[0, 2\], got "3"/);
  });

  it('drops WordNet ids from a classnames file that has them on every line', () => {
    expect(parseClassNames('n01440764 tench\nn01443537 goldfish, Carassius auratus\n', 'c.txt')).toEqual(['tench', 'goldfish, Carassius auratus']);
    expect(parseClassNames('abbey\nairfield\n', 'c.txt')).toEqual(['abbey', 'airfield']);
  });
});

describe('iNaturalist 2018 from the competition JSON', () => {
  it('labels images by category id order and takes names from categories.json', async () => {
    const dir = await tempDir('inat');
    const root = path.join(dir, 'images');
    // Category ids deliberately unsorted and sparse: class index = rank of the id.
    const categories = [
      { id: 7, name: 'Obfuscated 7', supercategory: 'Plantae' },
      { id: 2, name: 'Obfuscated 2', supercategory: 'Aves' },
      { id: 4, name: 'Obfuscated 4', supercategory: 'Fungi' },
    ];
    const named = [
      { id: 2, name: 'Turdus migratorius', supercategory: 'Aves', kingdom: 'Animalia' },
      { id: 4, name: 'Amanita muscaria', supercategory: 'Fungi', kingdom: 'Fungi' },
      { id: 7, name: 'Quercus robur', supercategory: 'Plantae', kingdom: 'Plantae' },
    ];
    const trainImages = [
      { id: 10, file_name: 'train_val2018/Aves/2/a.jpg', width: 6, height: 5, license: 1, rights_holder: 'x' },
      { id: 11, file_name: 'train_val2018/Plantae/7/b.jpg', width: 6, height: 5, license: 1, rights_holder: 'x' },
      { id: 12, file_name: 'train_val2018/Aves/2/c.jpg', width: 6, height: 5, license: 1, rights_holder: 'x' },
      { id: 13, file_name: 'train_val2018/Fungi/4/d.jpg', width: 6, height: 5, license: 1, rights_holder: 'x' },
    ];
    const train = {
      info: { year: 2018 },
      images: trainImages,
      categories,
      annotations: [
        { id: 1, image_id: 12, category_id: 2 },
        { id: 2, image_id: 10, category_id: 2 },
        { id: 3, image_id: 11, category_id: 7 },
        { id: 4, image_id: 13, category_id: 4 },
      ],
      licenses: [],
    };
    const val = {
      images: [{ id: 20, file_name: 'train_val2018/Fungi/4/e.jpg', width: 6, height: 5 }],
      categories,
      annotations: [{ id: 9, image_id: 20, category_id: 4 }],
    };
    for (const [i, image] of [...trainImages, ...val.images].entries()) await writeImage(root, image.file_name, i);
    await writeFile(path.join(dir, 'train2018.json'), JSON.stringify(train));
    await writeFile(path.join(dir, 'val2018.json'), JSON.stringify(val));
    await writeFile(path.join(dir, 'categories.json'), JSON.stringify(named));
    const out = path.join(dir, 'out');
    const prepared = await prepareInat2018({
      imageRoot: root,
      trainJson: path.join(dir, 'train2018.json'),
      valJson: path.join(dir, 'val2018.json'),
      categoriesJson: path.join(dir, 'categories.json'),
      out,
    });
    const manifest = await manifestOf(prepared);
    expect(manifest.classes).toEqual(['Turdus migratorius', 'Amanita muscaria', 'Quercus robur']);
    expect(manifest.training).toEqual({ preset: 'inat2018' });
    expect((await records(out, 'train')).map((r) => [r.key, r.label])).toEqual([
      ['train_val2018/Aves/2/a', 0],
      ['train_val2018/Plantae/7/b', 2],
      ['train_val2018/Aves/2/c', 0],
      ['train_val2018/Fungi/4/d', 1],
    ]);
    expect((await records(out, 'test')).map((r) => r.label)).toEqual([1]);
    expect(prepared.trainCounts).toEqual([2, 1, 1]);
  });
});

describe('folder-per-class trees', () => {
  it('holds out test images per class and cuts a long-tailed training subset by the imbalance ratio', async () => {
    const dir = await tempDir('folder');
    const root = path.join(dir, 'tree');
    const classes = ['apple', 'banana', 'cherry'];
    let id = 0;
    for (const name of classes) for (let i = 0; i < 12; i++) await writeImage(root, `${name}/${String(i).padStart(2, '0')}.png`, id++);
    await writeFile(path.join(root, 'README.txt'), 'not an image');
    const out = path.join(dir, 'out');
    const prepared = await prepareImageFolder({ root, out, testPerClass: 2, imbalanceRatio: 4, seed: 3 });
    const manifest = await manifestOf(prepared);
    expect(manifest.classes).toEqual(classes);
    // 10 training images left per class; β = 4 over 3 classes keeps floor(10 · 4^(-i/2)) = 10, 5, 2.
    expect(prepared.trainCounts).toEqual([10, 5, 2]);
    expect(prepared.testCount).toBe(6);
    const train = await records(out, 'train');
    const test = await records(out, 'test');
    for (const record of [...train, ...test]) expect(classes[record.label]).toBe(record.key.split('/')[0]);
    const trainKeys = new Set(train.map((r) => r.key));
    expect(test.filter((r) => trainKeys.has(r.key))).toEqual([]);
  });

  it('takes the test split from a second tree with the same class folders', async () => {
    const dir = await tempDir('folder2');
    for (const [tree, count] of [['train', 3], ['val', 1]] as const) {
      for (const name of ['x', 'y']) for (let i = 0; i < count; i++) await writeImage(path.join(dir, tree), `${name}/${i}.png`, i);
    }
    const prepared = await prepareImageFolder({ root: path.join(dir, 'train'), testRoot: path.join(dir, 'val'), out: path.join(dir, 'out'), name: 'xy' });
    expect(prepared.trainCounts).toEqual([3, 3]);
    expect(prepared.testCount).toBe(2);
    expect(prepared.manifest.name).toBe('xy');
  });

  it('asks for exactly one way to make the test split', async () => {
    await expect(prepareImageFolder({ root: '/nowhere', out: '/nowhere/out' })).rejects.toThrow(/exactly one of testRoot .* or testPerClass/);
  });
});
