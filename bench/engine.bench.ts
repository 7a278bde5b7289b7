/**
 * Sage engine throughput: training images/s for LIFT and Sage at the mini-CLIP shape and
 * at ViT-B/16 shape (random weights in memory, C = 100), the effective GFLOP/s of a step
 * against this backend's plain 2-D matmul rate measured in the same run, Sage's cost per
 * step over LIFT (target ≤ 1.5×, FIT's forward-only f^zs included), and peak memory of one
 * micro-batch at ViT-B/16 shape (peak tf.memory() bytes sampled at every block, the wasm
 * heap's high-water mark after the step, and process RSS).
 *
 * `npm run bench -- engine`. Env: ENGINE_BENCH_ROUNDS (timed ViT steps per method after a warm-up,
 * alternating LIFT and Sage, fastest kept; default 2; the mini shape runs 3× as many),
 * ENGINE_BENCH_VIT_MICRO (ViT-B/16 micro-batch, default 2), ENGINE_BENCH_SKIP_VIT=1.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/clip/backend';
import { ClipModelImpl } from '../src/clip/model';
import type { SafetensorsEntry } from '../src/clip/safetensors';
import type { ClipConfig, ClipModel } from '../src/clip/types';
import { clipTensorSpecs } from '../src/clip/weights';
import type { ImageBatch } from '../src/contracts/batches';
import { resolveSettings } from '../src/contracts/settings';
import { logitAdjustment } from '../src/engine/heads';
import { buildSageModel, type SageModel } from '../src/engine/model';
import { batchGradients, meanGradients, SgdMomentum } from '../src/engine/step';
import type { BenchReport, BenchRow } from './types';

interface Shape {
  name: string;
  config: ClipConfig;
  microBatch: number;
}

function visionConfig(hidden: number, layers: number, heads: number, imageSize: number, patchSize: number): ClipConfig['vision'] {
  return { hiddenSize: hidden, intermediateSize: 4 * hidden, numLayers: layers, numHeads: heads, imageSize, patchSize, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' };
}

/** The text tower is tiny: only its shape-compatibility matters here (W^zs is random). */
function clipConfig(vision: ClipConfig['vision'], projectionDim: number): ClipConfig {
  return {
    vision,
    text: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, maxPositionEmbeddings: 8, vocabSize: 64, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', eosTokenId: 63, bosTokenId: 62, padTokenId: 0 },
    projectionDim,
    logitScale: 100,
  };
}

/** A CLIP with random weights, built in memory (no 350 MB file for ViT-B/16). */
function randomClip(config: ClipConfig, seed: number): ClipModel {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const table = new Map<string, SafetensorsEntry>();
  for (const spec of clipTensorSpecs(config)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (spec.role === 'weight' || spec.role === 'bias') data[i] = (uniform() - 0.5) * 0.07; // std ≈ 0.02
      else if (spec.role === 'normScale') data[i] = 1;
      else data[i] = Math.log(100);
    }
    table.set(spec.name, { dtype: 'F32', shape: spec.shape, data });
  }
  return new ClipModelImpl(config, table, { source: `random:${config.vision.hiddenSize}x${config.vision.numLayers}`, fingerprint: `random-${seed}` });
}

/** Multiply-adds ×2 of one forward pass of the vision tower for one image. */
function visionForwardFlops(v: ClipConfig['vision']): number {
  const tokens = (v.imageSize / v.patchSize) ** 2 + 1;
  const d = v.hiddenSize;
  const patch = 2 * (tokens - 1) * 3 * v.patchSize ** 2 * d;
  const block = 2 * tokens * d * 3 * d + 2 * tokens * tokens * d * 2 + 2 * tokens * d * d + 2 * 2 * tokens * d * v.intermediateSize;
  return patch + v.numLayers * block;
}

/**
 * FLOPs credited to one training image: forward + backward to the inputs through the frozen
 * matmuls (no weight gradients) ≈ 2× forward; Sage adds FIT's forward-only f^zs pass (1×).
 * Adapter FLOPs are small and not counted, so this is a lower bound on the work done.
 */
function stepFlopsPerImage(v: ClipConfig['vision'], method: 'lift' | 'sage'): number {
  return visionForwardFlops(v) * (method === 'sage' ? 3 : 2);
}

function matmulGflops(): number {
  const a = tf.randomNormal([1024, 768]) as tf.Tensor2D;
  const b = tf.randomNormal([768, 768]) as tf.Tensor2D;
  // No tf.tidy returning a TypedArray here: that path is very slow on wasm (SPEC §5).
  const once = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  once();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    once();
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  tf.dispose([a, b]);
  return (2 * 1024 * 768 * 768) / best / 1e9;
}

function randomBatch(n: number, size: number, classes: number, seed: number): ImageBatch {
  const images = new Float32Array(n * size * size * 3);
  let state = seed >>> 0;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = (state / 4294967296) * 4 - 2;
  }
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % classes), keys: Array.from({ length: n }, (_, i) => `b${i}`), n, size, crops: 1 };
}

type Method = 'lift' | 'sage';

interface Measured {
  imagesPerSecond: number;
  /** Fastest timed step (steps of both methods alternate, so contention hits both alike). */
  secondsPerStep: number;
  /** The wasm heap (it only grows: the allocator's high-water mark) after this method's first step; null off wasm. */
  heapBytes: number | null;
  /** Largest tf.memory().numBytes seen at any block of the forward passes. */
  peakTensorBytes: number;
  rssBytes: number;
}

function wasmHeapBytes(): number | null {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length ?? null;
}

/** A view of `clip` that samples tensor memory at every block of every forward pass. */
function sampledClip(clip: ClipModel, onBlock: () => void): ClipModel {
  return {
    config: clip.config,
    source: clip.source,
    visualProjection: clip.visualProjection,
    projectImage: (f) => clip.projectImage(f),
    encodeText: (ids) => clip.encodeText(ids),
    dispose: () => clip.dispose(),
    encodeImageFeatures: (pixels, options) =>
      clip.encodeImageFeatures(pixels, {
        blockHook: (layer, xTilde, info) => {
          onBlock();
          return options?.blockHook ? options.blockHook(layer, xTilde, info) : null;
        },
      }),
  };
}

/** Times training steps of LIFT and Sage alternately on the same batch; `rounds` timed steps each after one warm-up step. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface ShapeResult extends Record<Method, Measured> {
  /** Sage's step over the LIFT step timed just before it, per round (steps vary by ±15 % here; adjacent pairs share the moment's conditions). */
  pairRatios: number[];
}

async function measureShape(clip: ClipModel, shape: Shape, rounds: number): Promise<ShapeResult> {
  const classes = 100;
  const classNames = Array.from({ length: classes }, (_, i) => `class ${i}`);
  const counts = Array.from({ length: classes }, (_, i) => Math.max(1, Math.floor(500 * 100 ** (-i / 99))));
  const zeroShot = tf.randomNormal([classes, clip.config.vision.hiddenSize], 0, 1, 'float32', 1) as tf.Tensor2D;
  const batch = randomBatch(shape.microBatch, clip.config.vision.imageSize, classes, 7);
  const peaks: Record<Method, number> = { lift: 0, sage: 0 };
  const runners = (['lift', 'sage'] as const).map((method) => {
    const settings = resolveSettings({ method, batchSize: shape.microBatch, microBatchSize: shape.microBatch });
    const model = buildSageModel({ clip, settings, classNames, zeroShotWeights: zeroShot });
    const measured: SageModel = { ...model, clip: sampledClip(clip, () => (peaks[method] = Math.max(peaks[method], tf.memory().numBytes))) };
    const variables = model.trainableVariables();
    const optimizer = new SgdMomentum(variables, settings);
    const adjustment = tf.tensor1d(logitAdjustment(counts, settings));
    const context = { model: measured, adjustment, microBatchSize: shape.microBatch };
    const step = () => {
      const gradients = batchGradients(batch, context);
      optimizer.step(meanGradients(gradients.sums, gradients.count));
    };
    return { method, model, optimizer, adjustment, step };
  });
  zeroShot.dispose();
  const heap: Record<Method, number | null> = { lift: null, sage: null };
  const best: Record<Method, number> = { lift: Infinity, sage: Infinity };
  const seconds: Record<Method, number[]> = { lift: [], sage: [] };
  for (const runner of runners) {
    runner.step(); // warm-up: kernels, packed weights, momentum slots
    heap[runner.method] = wasmHeapBytes();
  }
  for (let round = 0; round < rounds; round++) {
    for (const runner of runners) {
      const started = performance.now();
      runner.step();
      const elapsed = (performance.now() - started) / 1000;
      seconds[runner.method].push(elapsed);
      best[runner.method] = Math.min(best[runner.method], elapsed);
    }
  }
  const rssBytes = process.memoryUsage().rss;
  for (const runner of runners) {
    runner.optimizer.dispose();
    runner.adjustment.dispose();
    runner.model.dispose();
  }
  const result = (method: Method): Measured => ({
    imagesPerSecond: shape.microBatch / best[method],
    secondsPerStep: best[method],
    heapBytes: heap[method],
    peakTensorBytes: peaks[method],
    rssBytes,
  });
  return { lift: result('lift'), sage: result('sage'), pairRatios: seconds.sage.map((t, i) => t / seconds.lift[i]!) };
}

export async function run(): Promise<BenchReport> {
  const backend = await initBackend();
  const rounds = Number(process.env.ENGINE_BENCH_ROUNDS ?? 2);
  const shapes: Shape[] = [
    // fixtures/mini-clip's vision architecture (its config.json: 64 wide, 2 blocks, 4 heads, 36 px, patch 6).
    { name: 'mini-CLIP (64w, 2 blocks, 36 px)', config: clipConfig(visionConfig(64, 2, 4, 36, 6), 64), microBatch: 64 },
  ];
  if (process.env.ENGINE_BENCH_SKIP_VIT !== '1') {
    shapes.push({ name: 'ViT-B/16 (768w, 12 blocks, 224 px)', config: clipConfig(visionConfig(768, 12, 12, 224, 16), 512), microBatch: Number(process.env.ENGINE_BENCH_VIT_MICRO ?? 2) });
  }
  const rows: BenchRow[] = [];
  const notes: string[] = [`backend ${backend}; load average at start ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`];
  for (const shape of shapes) {
    // Measured next to each shape's rows, so contention from other processes hits both alike.
    const matmulRate = matmulGflops();
    notes.push(`${shape.name}: plain 2-D matmul 1024×768×768 measured just before: ${matmulRate.toFixed(1)} GFLOP/s`);
    const clip = randomClip(shape.config, 3);
    const baseHeap = wasmHeapBytes();
    const isVit = shape.config.vision.hiddenSize === 768;
    const results = await measureShape(clip, shape, isVit ? rounds : rounds * 3);
    clip.dispose();
    for (const method of ['lift', 'sage'] as const) {
      const m = results[method];
      const gflops = (stepFlopsPerImage(shape.config.vision, method) * m.imagesPerSecond) / 1e9;
      rows.push({
        shape: shape.name,
        method,
        microBatch: shape.microBatch,
        'images/s': Number(m.imagesPerSecond.toPrecision(3)),
        's/step': Number(m.secondsPerStep.toPrecision(3)),
        'effective GFLOP/s': Number(gflops.toPrecision(3)),
        'of matmul rate': `${((100 * gflops) / matmulRate).toFixed(0)}%`,
        'peak tensor MiB': Number((m.peakTensorBytes / 2 ** 20).toFixed(0)),
        'wasm heap MiB': m.heapBytes === null ? null : Number((m.heapBytes / 2 ** 20).toFixed(0)),
        'RSS MiB': Number((m.rssBytes / 2 ** 20).toFixed(0)),
      });
    }
    if (baseHeap !== null) notes.push(`${shape.name}: wasm heap ${(baseHeap / 2 ** 20).toFixed(0)} MiB with the frozen weights loaded, before any step`);
    const ratio = results.sage.secondsPerStep / results.lift.secondsPerStep;
    const pairMedian = median(results.pairRatios);
    notes.push(
      `${shape.name}: Sage/LIFT time per step: fastest/fastest ${ratio.toFixed(2)}×, median of ${results.pairRatios.length} adjacent pairs ${pairMedian.toFixed(2)}× ` +
        `(pairs: ${results.pairRatios.map((r) => r.toFixed(2)).join(', ')}); target ≤ 1.5×: ${pairMedian <= 1.5 ? 'met' : 'MISSED'} by the median`,
    );
  }
  return { rows, notes };
}
