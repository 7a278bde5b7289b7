/**
 * `sage prepare folder`: any folder-per-class image tree (`<root>/<class>/.../<image>`, class
 * order = sorted folder names, as torchvision's ImageFolder). The test split is a second tree
 * with the same class folders, or a seeded number of images held out per class. An optional
 * imbalance ratio cuts a long-tailed training subset by the same rule as CIFAR-100-LT.
 */
import { IMAGE_EXTENSIONS } from '../../manifest/schema';
import { isS3Uri, storeFor, type ObjectStore } from '../../storage';
import { createRng, mixSeedWide, shuffleInPlace } from '../../common/random';
import { RNG_STREAM } from '../random-streams';
import { longTailCounts, selectLongTail } from './long-tail';
import { listedSamples } from './prepare-lists';
import type { ListedImage } from './text-files';
import { writePreparedDataset, type PrepareOutputOptions, type PreparedDataset } from './write-dataset';
import path from 'node:path';
import { DataError } from '../../common/errors';

export interface PrepareImageFolderOptions extends PrepareOutputOptions {
  /** `<root>/<class name>/<image>` (local folder or s3:// prefix). */
  root: string;
  /** A test tree with the same class folders. Give this or testPerClass. */
  testRoot?: string;
  /** Images per class held out (seeded) from `root` as the test split. */
  testPerClass?: number;
  /** β: keep floor(maxPerClass · β^(-i/(C-1))) training images of class i; default: keep everything. */
  imbalanceRatio?: number;
  /** Head-class count of the long-tailed cut; default: the largest class's training images. */
  maxPerClass?: number;
}

export class ImageFolderError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFolderError';
  }
}

const IMAGE_EXTENSION = new RegExp(`\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

function withSeparator(root: string): string {
  const separator = isS3Uri(root) ? '/' : path.sep;
  return root.endsWith(separator) ? root : `${root}${separator}`;
}

/** Images under `root` grouped by their first folder, sorted; paths relative to root with "/" separators. */
async function listTree(root: string, store: ObjectStore): Promise<Map<string, string[]>> {
  const prefix = withSeparator(root);
  const byClass = new Map<string, string[]>();
  for (const object of await store.list(prefix)) {
    const relative = object.uri.slice(prefix.length).split(path.sep).join('/');
    const slash = relative.indexOf('/');
    if (slash <= 0 || !IMAGE_EXTENSION.test(relative)) continue;
    const className = relative.slice(0, slash);
    if (!byClass.has(className)) byClass.set(className, []);
    byClass.get(className)!.push(relative);
  }
  for (const paths of byClass.values()) paths.sort();
  return byClass;
}

function imagesOf(tree: Map<string, string[]>, classes: readonly string[]): ListedImage[] {
  return classes.flatMap((name, label) => (tree.get(name) ?? []).map((imagePath) => ({ path: imagePath, label })));
}

export async function prepareImageFolder(options: PrepareImageFolderOptions): Promise<PreparedDataset> {
  const { testRoot, testPerClass, imbalanceRatio, seed = 0 } = options;
  if ((testRoot === undefined) === (testPerClass === undefined)) {
    throw new ImageFolderError('give exactly one of testRoot (a test tree with the same class folders) or testPerClass (images held out per class)');
  }
  const store = options.store ?? (await storeFor(options.root));
  const tree = await listTree(options.root, store);
  const classes = [...tree.keys()].sort();
  if (classes.length < 2) throw new ImageFolderError(`${options.root}: expected at least two class folders holding images, found ${classes.length}`);
  let train = imagesOf(tree, classes);
  let test: ListedImage[];
  if (testRoot !== undefined) {
    const testTree = await listTree(testRoot, options.store ?? (await storeFor(testRoot)));
    const unknown = [...testTree.keys()].filter((name) => !tree.has(name));
    if (unknown.length > 0) throw new ImageFolderError(`${testRoot}: class folders ${unknown.slice(0, 5).join(', ')} are not in ${options.root}`);
    test = imagesOf(testTree, classes);
  } else {
    if (!Number.isInteger(testPerClass) || testPerClass! < 1) throw new ImageFolderError(`testPerClass must be a positive integer, got ${testPerClass}`);
    const heldOut = new Set<string>();
    classes.forEach((name, c) => {
      const paths = [...tree.get(name)!];
      if (paths.length <= testPerClass!) throw new ImageFolderError(`class "${name}" has ${paths.length} images, not enough to hold out ${testPerClass} and train on the rest`);
      shuffleInPlace(paths, createRng(mixSeedWide(seed, c, RNG_STREAM.heldOut)));
      for (const held of paths.slice(0, testPerClass)) heldOut.add(held);
    });
    test = train.filter((item) => heldOut.has(item.path));
    train = train.filter((item) => !heldOut.has(item.path));
  }
  if (imbalanceRatio !== undefined) {
    const available = classes.map((_, c) => train.filter((item) => item.label === c).length);
    const counts = longTailCounts(classes.length, options.maxPerClass ?? Math.max(...available), imbalanceRatio);
    const kept = selectLongTail(train.map((item) => item.label), counts, seed);
    train = kept.map((i) => train[i]!);
  }
  return writePreparedDataset(
    {
      classes,
      train: listedSamples(train, options.root, store),
      test: listedSamples(test, testRoot ?? options.root, testRoot !== undefined ? options.store ?? (await storeFor(testRoot)) : store),
      defaultName: 'image-folder',
      description: `Folder-per-class images from ${options.root}${imbalanceRatio !== undefined ? `, long-tailed with imbalance ratio ${imbalanceRatio}` : ''}`,
    },
    options,
  );
}
