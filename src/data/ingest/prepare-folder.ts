/**
 * `sage prepare folder`: any folder-per-class image tree (`<root>/<class>/.../<image>`, class
 * order = sorted folder names, as torchvision's ImageFolder). The test split is a second tree
 * with the same class folders, or a seeded number of images held out per class. An optional
 * imbalance ratio cuts a long-tailed training subset by the same rule as CIFAR-100-LT.
 *
 * Real folders hold empty files, truncated downloads and files that only look like images by
 * name. Every image is therefore decoded once before anything is written, as the trainer will
 * decode it (sharp, failing on truncation), at a reduced size so a JPEG decodes at 1/8 scale: a
 * bad one is skipped with its full location (or, with `onBadImage: 'fail'`, all of them are
 * listed in one ImageFolderError), and the splits, the held-out images and the long tail are
 * then drawn from the good images only.
 */
import sharp from 'sharp';
import { IMAGE_EXTENSIONS } from '../../manifest/schema';
import { isS3Uri, joinUri, storeFor, type ObjectStore } from '../../storage';
import { sniffImageExtension } from '../shards/format';
import { mapOrdered } from './ordered-map';
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
  /** What an image that does not decode does: skipped with a warning (default), or the whole preparation refused. */
  onBadImage?: 'skip' | 'fail';
  /** Each image that was skipped, with its full location and why; default: nothing. */
  onSkip?: (bad: BadImage) => void;
  /** The stages before the copy: the listing (once, with the count) and the check (as it goes). */
  onStage?: (progress: FolderStageProgress) => void;
}

export interface BadImage {
  /** The image's full location (a path or an s3:// URI). */
  uri: string;
  reason: string;
}

export interface FolderStageProgress {
  stage: 'listing' | 'checking';
  done: number;
  total: number;
}

/** What `onBadImage` accepts. */
export const BAD_IMAGE_ACTIONS = ['skip', 'fail'] as const;

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

/** Why the bytes are no image the trainer can use, or undefined when they decode. */
export async function imageProblem(bytes: Uint8Array): Promise<string | undefined> {
  if (bytes.length === 0) return 'the file is empty (0 bytes)';
  if (!sniffImageExtension(bytes)) return `not an image this project reads (expected ${IMAGE_EXTENSIONS.join(', ')} by its first bytes)`;
  try {
    // The trainer's decoder settings (src/data/transforms/apply.ts); 16 px keeps the check cheap.
    await sharp(bytes, { failOn: 'truncated' }).resize(16, 16, { fit: 'fill' }).raw().toBuffer();
    return undefined;
  } catch (error) {
    return `cannot be decoded: ${(error as Error).message}`;
  }
}

/** The images of `tree` that decode, in order; the others are reported through `onBad`. */
async function checkTree(
  tree: Map<string, string[]>,
  root: string,
  store: ObjectStore,
  options: { concurrency: number; onBad: (bad: BadImage) => void; onChecked: () => void },
): Promise<Map<string, string[]>> {
  const entries = [...tree.entries()].flatMap(([name, paths]) => paths.map((relative) => ({ name, relative, uri: joinUri(root, relative) })));
  const good = new Map<string, string[]>([...tree.keys()].map((name) => [name, []]));
  const checked = mapOrdered(entries, options.concurrency, async (entry) => {
    let reason: string | undefined;
    try {
      reason = await imageProblem(await store.get(entry.uri));
    } catch (error) {
      reason = `cannot be read: ${(error as Error).message}`;
    }
    return { ...entry, reason };
  });
  for await (const entry of checked) {
    if (entry.reason === undefined) good.get(entry.name)!.push(entry.relative);
    else options.onBad({ uri: entry.uri, reason: entry.reason });
    options.onChecked();
  }
  return good;
}

/** Decodes every image of the trees once; drops (or refuses) the bad ones. */
async function keepGoodImages(
  trees: { tree: Map<string, string[]>; root: string; store: ObjectStore }[],
  options: PrepareImageFolderOptions,
): Promise<Map<string, string[]>[]> {
  const total = trees.reduce((sum, { tree }) => sum + [...tree.values()].reduce((n, paths) => n + paths.length, 0), 0);
  options.onStage?.({ stage: 'listing', done: total, total });
  const bad: BadImage[] = [];
  let done = 0;
  const step = Math.max(1, Math.ceil(total / 100));
  const onChecked = (): void => {
    done++;
    if (done % step === 0 || done === total) options.onStage?.({ stage: 'checking', done, total });
  };
  const onBad = (image: BadImage): void => {
    bad.push(image);
    if (options.onBadImage !== 'fail') options.onSkip?.(image);
  };
  const kept: Map<string, string[]>[] = [];
  for (const { tree, root, store } of trees) kept.push(await checkTree(tree, root, store, { concurrency: options.concurrency ?? 16, onBad, onChecked }));
  if (bad.length > 0 && options.onBadImage === 'fail') {
    const shown = bad.slice(0, 20).map((image) => `  ${image.uri}: ${image.reason}`);
    throw new ImageFolderError(`${bad.length} of ${total} images cannot be used, and bad images were to fail the preparation (the default skips them):\n${shown.join('\n')}${bad.length > 20 ? `\n  ... and ${bad.length - 20} more` : ''}`);
  }
  return kept;
}

export async function prepareImageFolder(options: PrepareImageFolderOptions): Promise<PreparedDataset> {
  const { testRoot, testPerClass, imbalanceRatio, seed = 0 } = options;
  if ((testRoot === undefined) === (testPerClass === undefined)) {
    throw new ImageFolderError('give exactly one of testRoot (a test tree with the same class folders) or testPerClass (images held out per class)');
  }
  const store = options.store ?? (await storeFor(options.root));
  const listed = await listTree(options.root, store);
  const classes = [...listed.keys()].sort();
  if (classes.length < 2) throw new ImageFolderError(`${options.root}: expected at least two class folders holding images, found ${classes.length}`);
  const testStore = testRoot !== undefined ? (options.store ?? (await storeFor(testRoot))) : store;
  const listedTest = testRoot !== undefined ? await listTree(testRoot, testStore) : undefined;
  if (testRoot !== undefined) {
    const unknown = [...listedTest!.keys()].filter((name) => !listed.has(name));
    if (unknown.length > 0) throw new ImageFolderError(`${testRoot}: class folders ${unknown.slice(0, 5).join(', ')} are not in ${options.root}`);
  }
  const [tree, testTree] = await keepGoodImages(
    [{ tree: listed, root: options.root, store }, ...(listedTest ? [{ tree: listedTest, root: testRoot!, store: testStore }] : [])],
    options,
  );
  const empty = classes.filter((name) => tree!.get(name)!.length === 0);
  if (empty.length > 0) throw new ImageFolderError(`${options.root}: class folder(s) ${empty.slice(0, 5).join(', ')} have no image that decodes`);
  let train = imagesOf(tree!, classes);
  let test: ListedImage[];
  if (testTree !== undefined) {
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
      test: listedSamples(test, testRoot ?? options.root, testStore),
      defaultName: 'image-folder',
      description: `Folder-per-class images from ${options.root}${imbalanceRatio !== undefined ? `, long-tailed with imbalance ratio ${imbalanceRatio}` : ''}`,
    },
    options,
  );
}
