/**
 * Data loader throughput: synthetic 500×375 JPEGs (the size of a typical ImageNet/Places image)
 * packed into shards, then
 *  - shard read MB/s from local disk (tar parsing included, no decoding),
 *  - loader images/s through the 224 train transform (random resized crop + flip + normalise),
 *    the 224 test transform and the five-crop ensemble, with the default worker pool,
 *  - the training step's images/s at ViT-B/16 shape (forward + backward through the 12 blocks of
 *    a random ViT-B/16 CLIP vision tower at batch 8, on this machine's best tfjs backend), and the
 *    loader/step ratio, which must stay above 2 for the loader never to be the bottleneck.
 * Targets: ≥ 250 train images/s on 2 cores; ratio > 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { BenchReport, BenchRow } from './types';
import type { TransformKind } from '../src/contracts/batches';
import type { Manifest } from '../src/manifest';
import { LocalObjectStore } from '../src/storage';
import { openBatchSource } from '../src/data/loader/open';
import { readShards } from '../src/data/shards/reader';
import { readShardIndex, shardUri } from '../src/data/shards/format';
import { ShardWriter } from '../src/data/shards/writer';
import { createRng } from '../src/data/rng';

const IMAGES = Number(process.env.SAGE_BENCH_DATA_IMAGES ?? 384);
const WIDTH = 500;
const HEIGHT = 375;
const IMAGE_SIZE = 224;
const BATCH = 32;
const STEP_BATCH = 8;
const TRAIN_TARGET = 250;
const RATIO_TARGET = 2;

/** A photo-like JPEG: smooth colour waves, a few soft blobs and mild noise, at quality 90. */
async function syntheticJpeg(seed: number): Promise<Buffer> {
  const rng = createRng(seed);
  const raw = Buffer.alloc(WIDTH * HEIGHT * 3);
  const waves = Array.from({ length: 3 }, () => ({ fx: 0.005 + 0.03 * rng(), fy: 0.005 + 0.03 * rng(), phase: 6.28 * rng(), base: 60 + 130 * rng() }));
  const blobs = Array.from({ length: 4 }, () => ({ x: WIDTH * rng(), y: HEIGHT * rng(), r: 20 + 80 * rng(), v: 120 * (rng() - 0.5) }));
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      let blob = 0;
      for (const b of blobs) blob += b.v * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
      for (let c = 0; c < 3; c++) {
        const w = waves[c]!;
        const value = w.base + 50 * Math.sin(w.fx * x + w.phase) * Math.cos(w.fy * y) + blob + 16 * (rng() - 0.5);
        raw[(y * WIDTH + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function writeShards(dir: string, store: LocalObjectStore): Promise<{ indexUri: string; bytes: number; meanJpegBytes: number }> {
  const writer = new ShardWriter({ outUri: path.join(dir, 'train'), store, prefix: 'train', maxShardBytes: 8 * 1024 * 1024 });
  let jpegBytes = 0;
  for (let i = 0; i < IMAGES; i++) {
    const jpeg = await syntheticJpeg(i + 1);
    jpegBytes += jpeg.length;
    await writer.add({ key: `img${String(i).padStart(5, '0')}`, image: jpeg, label: i % 10 });
  }
  const { index, indexUri } = await writer.finish();
  return { indexUri, bytes: index.shards.reduce((sum, shard) => sum + (shard.bytes ?? 0), 0), meanJpegBytes: jpegBytes / IMAGES };
}

async function shardReadRate(indexUri: string, store: LocalObjectStore, bytes: number): Promise<number> {
  const index = await readShardIndex(indexUri, store);
  const uris = index.shards.map((shard) => shardUri(indexUri, shard));
  let passes = 0;
  const start = performance.now();
  // Repeat until at least a second has passed so the figure is not dominated by start-up.
  while (performance.now() - start < 1000 || passes < 3) {
    for await (const record of readShards(uris, store)) void record;
    passes++;
  }
  return (passes * bytes) / 2 ** 20 / ((performance.now() - start) / 1000);
}

interface LoaderRate {
  imagesPerSecond: number;
  workers: number;
  /** CPU time (all threads of the process) per image: the machine-independent cost. */
  cpuMsPerImage: number;
}

async function loaderRate(manifest: Manifest, manifestUri: string, transform: TransformKind): Promise<LoaderRate> {
  const source = await openBatchSource({ manifest, manifestUri, split: 'train', imageSize: IMAGE_SIZE });
  const workers = os.availableParallelism();
  try {
    // Warm-up: worker start-up and the first decode of each shard.
    for await (const batch of source.batches(0, { batchSize: BATCH, shuffle: true, seed: 0, transform })) void batch;
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    let images = 0;
    for await (const batch of source.batches(1, { batchSize: BATCH, shuffle: true, seed: 0, transform })) images += batch.n;
    const cpu = process.cpuUsage(cpuStart);
    return { imagesPerSecond: images / ((performance.now() - start) / 1000), workers, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images };
  } finally {
    await source.close();
  }
}

/**
 * Forward + backward (input gradients through every block, as adapter training needs; the
 * frozen weights get none) of a random CLIP ViT-B/16 vision tower, images per second.
 */
async function trainingStepRate(dir: string): Promise<{ imagesPerSecond: number; backend: string; secondsPerStep: number }> {
  const { createRandomClip } = await import('../src/clip/testing');
  const { initBackend, loadClip } = await import('../src/clip');
  const tf = await import('@tensorflow/tfjs');
  const backend = await initBackend({ log: () => undefined });
  const clipDir = path.join(dir, 'vit-b16');
  await createRandomClip(clipDir, {
    vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 16 },
    projectionDim: 512,
  });
  const model = await loadClip(clipDir);
  const pixels = tf.randomNormal([STEP_BATCH, IMAGE_SIZE, IMAGE_SIZE, 3]) as import('@tensorflow/tfjs').Tensor4D;
  const lossOf = (x: import('@tensorflow/tfjs').Tensor4D): import('@tensorflow/tfjs').Scalar => model.encodeImageFeatures(x).square().mean();
  const step = (): void => {
    const gradient = tf.tidy(() => tf.grad(lossOf)(pixels));
    gradient.dataSync();
    gradient.dispose();
  };
  try {
    step(); // warm-up: kernel set-up, weight transposes
    const steps = 2;
    const start = performance.now();
    for (let i = 0; i < steps; i++) step();
    const secondsPerStep = (performance.now() - start) / 1000 / steps;
    return { imagesPerSecond: STEP_BATCH / secondsPerStep, backend, secondsPerStep };
  } finally {
    pixels.dispose();
    model.dispose();
  }
}

export async function run(): Promise<BenchReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sage-data-bench-'));
  const store = new LocalObjectStore();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const { indexUri, bytes, meanJpegBytes } = await writeShards(dir, store);
    const manifest: Manifest = { version: 1, name: 'bench', classes: Array.from({ length: 10 }, (_, i) => `class${i}`), train: { shards: 'train/index.json' }, test: { shards: 'train/index.json' }, weights: 'w' };
    const manifestUri = path.join(dir, 'manifest.json');
    const readMBps = await shardReadRate(indexUri, store, bytes);
    rows.push({ measure: 'shard read (local disk, tar parse)', value: Number(readMBps.toFixed(0)), unit: 'MB/s', target: null, met: null });
    const results: Record<TransformKind, number> = { train: 0, test: 0, tte: 0 };
    const cores = os.availableParallelism();
    for (const transform of ['train', 'test', 'tte'] as const) {
      const { imagesPerSecond, workers, cpuMsPerImage } = await loaderRate(manifest, manifestUri, transform);
      results[transform] = imagesPerSecond;
      const label = { train: 'train transform (RRC + flip), 224', test: 'test transform (resize 256, centre 224)', tte: 'five-crop TTE (resize 248, 5 × 224)' }[transform];
      rows.push({
        measure: `loader ${label}, ${workers} workers`,
        value: Number(imagesPerSecond.toFixed(0)),
        unit: 'images/s',
        target: transform === 'train' ? `≥ ${TRAIN_TARGET}` : null,
        met: transform === 'train' ? imagesPerSecond >= TRAIN_TARGET : null,
      });
      // On a shared machine wall time understates the loader; CPU time per image does not.
      const projected = (cores * 1000) / cpuMsPerImage;
      rows.push({
        measure: `  ${transform}: CPU per image → rate on ${cores} idle cores`,
        value: Number(projected.toFixed(0)),
        unit: `images/s (${cpuMsPerImage.toFixed(1)} CPU ms/image)`,
        target: transform === 'train' ? `≥ ${TRAIN_TARGET}` : null,
        met: transform === 'train' ? projected >= TRAIN_TARGET : null,
      });
    }
    notes.push(`load average at the end of the loader runs: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} on ${cores} cores (other work shares this machine when it exceeds ${cores}).`);
    notes.push(`${IMAGES} synthetic ${WIDTH}×${HEIGHT} JPEGs (quality 90, mean ${(meanJpegBytes / 1024).toFixed(0)} KiB) in ${(bytes / 2 ** 20).toFixed(1)} MiB of shards; batch ${BATCH}, prefetch 2.`);
    if (process.env.SAGE_BENCH_SKIP_STEP) {
      rows.push({ measure: `training step, ViT-B/16 shape, batch ${STEP_BATCH}`, value: null, unit: 'images/s', target: null, met: null });
      notes.push('training-step row skipped (SAGE_BENCH_SKIP_STEP set): ratio pending.');
    } else {
      const step = await trainingStepRate(dir);
      rows.push({ measure: `training step (fwd + bwd, ViT-B/16 vision, batch ${STEP_BATCH}, ${step.backend})`, value: Number(step.imagesPerSecond.toFixed(2)), unit: 'images/s', target: null, met: null });
      const ratio = results.train / step.imagesPerSecond;
      rows.push({ measure: 'loader train rate / training step rate', value: Number(ratio.toFixed(1)), unit: '×', target: `> ${RATIO_TARGET}`, met: ratio > RATIO_TARGET });
      notes.push(`training step: ${step.secondsPerStep.toFixed(1)} s per batch of ${STEP_BATCH} on ${step.backend}; the ratio on a GPU is what matters in production and is not measured here.`);
    }
    return { rows, notes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
