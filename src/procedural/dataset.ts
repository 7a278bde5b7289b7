/**
 * A long-tailed image dataset from the procedural world, for the demo and the tests: class i
 * keeps `floor(maxPerClass · ratio^(-i/(C-1)))` training images (the CIFAR-100-LT rule), the
 * test split is balanced, and the result is a dataset manifest (src/manifest's schema) with
 * PNG images and JSON Lines item files beside it, pointing at the mini-CLIP as its weights.
 * Every image is a pure function of (seed, split, class, index), so the output is deterministic
 * and a head class keeps the same images whatever the imbalance ratio.
 */
import { longTailCounts } from '../data';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Manifest } from '../manifest';
import { isS3Uri, joinUri, storeFor, type ObjectStore } from '../storage';
import { DOMAIN_NAMES, isDomainName, type DomainName } from './domain';
import { renderClassImage, STREAM } from './samples';
import { WORLD_CLASSES } from './world';
import { DataError } from '../common/errors';
import { packageRootOf } from '../common/package-root';

/**
 * The mini-CLIP fixture of this repository (an absolute path), the default weights of a
 * generated manifest: under the package root, which holds for the sources and the CLI bundle alike.
 */
export const MINI_CLIP_FIXTURE = path.join(packageRootOf(import.meta.url) ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'fixtures', 'mini-clip');

/** The mini-CLIP's `vision_config.image_size`: images need no resizing at that size. */
export const DEFAULT_IMAGE_SIZE = 36;

export interface ProceduralDatasetOptions {
  /** Folder or `s3://bucket/prefix` to write into. */
  outDir: string;
  /** Largest / smallest training class (β); 1 gives a balanced training split. */
  imbalanceRatio: number;
  /** Training images of class 0, the largest. */
  maxPerClass: number;
  /** Test images of every class. */
  testPerClass: number;
  /** Image side in pixels (default 36, the mini-CLIP's input size). */
  imageSize?: number;
  seed: number;
  /**
   * How the images look (domain.ts): `pretraining` (default) as the mini-CLIP's own training
   * images, `tungsten` under a warm colour cast the mini-CLIP never saw, like a real dataset.
   */
  domain?: DomainName;
  /** Use the first `classes` classes of the world (default all 36). */
  classes?: number;
  /** Manifest `weights` (default: the mini-CLIP fixture's absolute path). */
  weights?: string;
  /** Manifest `name` (default `procedural-lt-<ratio>`). */
  name?: string;
  /** Manifest `training` overrides (default none: Sage with the CIFAR-100-LT β=100 values). */
  training?: Manifest['training'];
  /** PNG encodes in flight (default 8). */
  concurrency?: number;
  /** Called as images are written (about every 1% of a split) and at the end of each split. */
  onProgress?: (progress: { split: 'train' | 'test'; written: number; total: number }) => void;
}

export interface ProceduralDataset {
  /** URI of manifest.json. */
  manifestUri: string;
  manifest: Manifest;
  classNames: string[];
  trainCounts: number[];
  testCounts: number[];
}

/** A setting is out of range: says which and what was expected. */
export class ProceduralDatasetOptionsError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'ProceduralDatasetOptionsError';
  }
}

/** Training images per class under the CIFAR-100-LT rule: the data module's one definition. */
export { longTailCounts };

function checkOptions(options: ProceduralDatasetOptions, classes: number): void {
  const positiveInteger = (name: string, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min) throw new ProceduralDatasetOptionsError(`${name} must be an integer ≥ ${min}, got ${value}`);
  };
  positiveInteger('maxPerClass', options.maxPerClass, 1);
  positiveInteger('testPerClass', options.testPerClass, 1);
  positiveInteger('imageSize', options.imageSize ?? DEFAULT_IMAGE_SIZE, 8);
  positiveInteger('classes', classes, 2);
  if (classes > WORLD_CLASSES.length) throw new ProceduralDatasetOptionsError(`classes must be at most ${WORLD_CLASSES.length} (the world's classes), got ${classes}`);
  if (!(options.imbalanceRatio >= 1) || !Number.isFinite(options.imbalanceRatio)) {
    throw new ProceduralDatasetOptionsError(`imbalanceRatio must be a finite number ≥ 1, got ${options.imbalanceRatio}`);
  }
  if (options.domain !== undefined && !isDomainName(options.domain)) {
    throw new ProceduralDatasetOptionsError(`domain must be one of ${DOMAIN_NAMES.join(', ')}, got ${String(options.domain)}`);
  }
  const smallest = Math.floor(options.maxPerClass / options.imbalanceRatio);
  if (smallest < 1) {
    throw new ProceduralDatasetOptionsError(`maxPerClass ${options.maxPerClass} / imbalanceRatio ${options.imbalanceRatio} leaves the last class no training image; raise maxPerClass or lower the ratio`);
  }
}

/** Folder of a class inside a split: index first so folders sort in label order, then the name. */
function classFolder(classIndex: number, name: string): string {
  return `${String(classIndex).padStart(2, '0')}-${name.replace(/ /g, '_')}`;
}

async function encodePng(pixels: Uint8Array, size: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

/** Runs `tasks` with at most `limit` in flight, in order of start. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++] as () => Promise<void>;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

interface SplitPlan {
  split: 'train' | 'test';
  counts: number[];
  stream: number;
}

async function writeSplit(store: ObjectStore, options: ProceduralDatasetOptions, plan: SplitPlan, names: readonly string[]): Promise<string> {
  const size = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  const lines: string[] = [];
  const tasks: (() => Promise<void>)[] = [];
  const total = plan.counts.reduce((sum, count) => sum + count, 0);
  const step = Math.max(1, Math.ceil(total / 100));
  let written = 0;
  plan.counts.forEach((count, classIndex) => {
    for (let i = 0; i < count; i++) {
      const relative = `${plan.split}/${classFolder(classIndex, names[classIndex] as string)}/${String(i).padStart(4, '0')}.png`;
      lines.push(JSON.stringify({ path: relative, label: classIndex }));
      tasks.push(async () => {
        const pixels = renderClassImage(classIndex, i, size, options.seed, plan.stream, options.domain);
        await store.put(joinUri(options.outDir, 'images', relative), await encodePng(pixels, size), { contentType: 'image/png' });
        written++;
        if (written % step === 0 || written === total) options.onProgress?.({ split: plan.split, written, total });
      });
    }
  });
  await runLimited(tasks, options.concurrency ?? 8);
  const itemsFile = `${plan.split}.jsonl`;
  await store.put(joinUri(options.outDir, itemsFile), `${lines.join('\n')}\n`, { contentType: 'application/x-ndjson' });
  return itemsFile;
}

/** Writes the images, the item files and manifest.json; resolves to what it wrote. */
export async function generateProceduralDataset(options: ProceduralDatasetOptions): Promise<ProceduralDataset> {
  const classes = options.classes ?? WORLD_CLASSES.length;
  checkOptions(options, classes);
  const classNames = WORLD_CLASSES.slice(0, classes).map((c) => c.name);
  const trainCounts = longTailCounts(classes, options.maxPerClass, options.imbalanceRatio);
  const testCounts = classNames.map(() => options.testPerClass);
  const outDir = isS3Uri(options.outDir) ? options.outDir : path.resolve(options.outDir);
  const resolved = { ...options, outDir };
  const store = await storeFor(outDir);
  const trainFile = await writeSplit(store, resolved, { split: 'train', counts: trainCounts, stream: STREAM.datasetTrain }, classNames);
  const testFile = await writeSplit(store, resolved, { split: 'test', counts: testCounts, stream: STREAM.datasetTest }, classNames);
  const manifest: Manifest = {
    version: 1,
    name: options.name ?? `procedural-lt-${options.imbalanceRatio}`,
    description:
      `Procedural long-tailed dataset: ${classes} shape-colour classes, imbalance ratio ${options.imbalanceRatio}, ` +
      `${options.maxPerClass} to ${trainCounts[trainCounts.length - 1]} training images a class, ${options.testPerClass} test images a class, ` +
      `${options.imageSize ?? DEFAULT_IMAGE_SIZE}px PNG, ${options.domain ?? 'pretraining'} domain, seed ${options.seed}.`,
    classes: classNames,
    images: 'images',
    train: { jsonl: trainFile },
    test: { jsonl: testFile },
    weights: options.weights ?? MINI_CLIP_FIXTURE,
    ...(options.training ? { training: options.training } : {}),
  };
  const manifestUri = joinUri(outDir, 'manifest.json');
  await store.put(manifestUri, `${JSON.stringify(manifest, null, 2)}\n`, { contentType: 'application/json' });
  return { manifestUri, manifest, classNames, trainCounts, testCounts };
}
