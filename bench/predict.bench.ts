/**
 * Inference throughput (issue: "predict at scale"): images/s of streamPredictions, the path of
 * `sage predict` and the inference job, against the evaluation loop (evaluate) on the same
 * model, images, loader and backend, measured back to back in one process. Target: predict
 * within 10 % of evaluation. Cases: the mini-CLIP on the procedural images, and a ViT-B/16-shaped
 * random CLIP (bench/fixtures/vit-b16-folder.ts) on 224 px JPEGs.
 *
 *   npm run bench -- predict          PREDICT_BENCH_VIT=0 skips the ViT-B/16 case
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { initBackend, loadClip, type ClipModel } from '../src/clip';
import { resolveSettings } from '../src/contracts/settings';
import { openImageSource } from '../src/data/loader/open';
import { createSageModel, evaluate } from '../src/engine';
import type { PredictImage } from '../src/manifest';
import { MINI_CLIP_FIXTURE } from '../src/procedural/dataset';
import { streamPredictions } from '../src/trainer/predict-job';
import { vitB16Folder } from './fixtures/vit-b16-folder';
import type { BenchReport, BenchRow } from './types';

const CLASSES = ['red circle', 'green square', 'blue triangle', 'yellow star', 'purple heart', 'orange cross', 'cyan ring', 'grey moon'];

/** `count` random-noise JPEGs of `size` px (decoding cost like a photo's), in a temporary folder. */
async function writeImages(dir: string, count: number, size: number): Promise<PredictImage[]> {
  await mkdir(dir, { recursive: true });
  const images: PredictImage[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(size * size * 3);
    for (let j = 0; j < pixels.length; j++) pixels[j] = (j * 2654435761 + i * 97) >>> 24;
    const key = `img-${String(i).padStart(4, '0')}.jpg`;
    await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 85 }).toFile(path.join(dir, key));
    images.push({ key, uri: path.join(dir, key) });
  }
  return images;
}

async function caseRows(name: string, clip: ClipModel, images: PredictImage[], batchSize: number, rounds: number): Promise<{ rows: BenchRow[]; ratio: number }> {
  const settings = resolveSettings({ method: 'lift', microBatchSize: batchSize, batchSize });
  const zeroShotWeights = (await import('@tensorflow/tfjs')).randomNormal([CLASSES.length, clip.config.vision.hiddenSize], 0, 0.02, 'float32', 1) as import('@tensorflow/tfjs').Tensor2D;
  const model = await createSageModel({ clip, settings, classNames: CLASSES, zeroShotWeights });
  zeroShotWeights.dispose();
  const listing = { kind: 'listed' as const, images };
  const best = { evaluate: Infinity, predict: Infinity };
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate the two so drift in the machine's load hits both alike.
      const opened = await openImageSource({ images: listing, imageSize: clip.config.vision.imageSize, workers: 0 });
      const started = performance.now();
      await evaluate({ model, test: opened.source, trainCounts: CLASSES.map(() => 10), batchSize });
      best.evaluate = Math.min(best.evaluate, (performance.now() - started) / 1000);
      await opened.source.close();
      const predicted = performance.now();
      await streamPredictions({ model, images: listing, topK: 5, tte: false, workers: 0, batchSize, onRecord: () => {} });
      best.predict = Math.min(best.predict, (performance.now() - predicted) / 1000);
    }
  } finally {
    model.dispose();
  }
  const rate = (seconds: number): number => Number((images.length / seconds).toFixed(2));
  const ratio = best.evaluate / best.predict;
  return {
    rows: [
      { case: `${name}: evaluation loop (evaluate)`, images: images.length, batch: batchSize, 'images/s': rate(best.evaluate) },
      { case: `${name}: predict (streamPredictions)`, images: images.length, batch: batchSize, 'images/s': rate(best.predict), 'predict / evaluate': Number(ratio.toFixed(3)) },
    ],
    ratio,
  };
}

export async function run(): Promise<BenchReport> {
  const backend = await initBackend({ log: () => {} });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'predict-bench-'));
  const rows: BenchRow[] = [];
  const notes: string[] = [`backend ${backend}; decode on the calling thread (workers 0) for both, best of the rounds; load: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`];
  try {
    const mini = await loadClip(MINI_CLIP_FIXTURE);
    try {
      const result = await caseRows('mini-CLIP 36 px', mini, await writeImages(path.join(scratch, 'mini'), 256, 48), 32, 3);
      rows.push(...result.rows);
      notes.push(`mini-CLIP: predict runs at ${(result.ratio * 100).toFixed(0)} % of evaluation's images/s (target ≥ 90 %: ${result.ratio >= 0.9 ? 'met' : 'MISSED'})`);
    } finally {
      mini.dispose();
    }
    if (process.env.PREDICT_BENCH_VIT !== '0') {
      const folder = await vitB16Folder();
      const vit = await loadClip(folder.dir);
      try {
        const result = await caseRows('ViT-B/16 224 px', vit, await writeImages(path.join(scratch, 'vit'), 16, 256), 2, 2);
        rows.push(...result.rows);
        notes.push(`ViT-B/16: predict runs at ${(result.ratio * 100).toFixed(0)} % of evaluation's images/s (target ≥ 90 %: ${result.ratio >= 0.9 ? 'met' : 'MISSED'})`);
      } finally {
        vit.dispose();
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { rows, notes };
}
