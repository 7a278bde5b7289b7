/**
 * Sage engine throughput: training images/s for LIFT and Sage at the mini-CLIP shape and
 * at ViT-B/16 shape (random weights in memory, C = 100), the effective GFLOP/s of a step
 * against this backend's plain 2-D matmul rate measured in the same run, Sage's cost per
 * step over LIFT (target ≤ 1.5×, FIT's forward-only f^zs included), and peak memory of one
 * micro-batch at ViT-B/16 shape (peak tf.memory() bytes sampled at every block, the wasm
 * heap's growth over the step, and process RSS).
 *
 * `npm run bench -- engine`. Env: ENGINE_BENCH_STEPS (timed ViT steps per row, default 1; the
 * mini shape runs 5× as many after a warm-up step), ENGINE_BENCH_VIT_MICRO (ViT-B/16 micro-batch,
 * default 2), ENGINE_BENCH_SKIP_VIT=1.
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
import { logitAdjustment } from '../src/engine/compensation';
import { buildSageModel, type SageModel } from '../src/engine/model';
import { SgdMomentum } from '../src/engine/optimizer';
import { computeStep } from '../src/engine/step';
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
  tf.tidy(() => tf.matMul(a, b).dataSync());
  const runs = 10;
  const started = performance.now();
  for (let i = 0; i < runs; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([a, b]);
  return (2 * 1024 * 768 * 768 * runs) / seconds / 1e9;
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

interface Measured {
  imagesPerSecond: number;
  secondsPerStep: number;
  /** Growth of the wasm heap (its high-water mark) over the measured steps; null off wasm. */
  heapGrowthBytes: number | null;
  /** Largest tf.memory().numBytes seen at any block of the forward passes. */
  peakTensorBytes: number;
  rssBytes: number;
}

/** The wasm backend's heap size: it only grows, so it is the allocator's high-water mark. */
function wasmHeapBytes(): number | null {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length ?? null;
}

async function measure(clip: ClipModel, method: 'lift' | 'sage', shape: Shape, steps: number, warmUp: boolean): Promise<Measured> {
  const classes = 100;
  const classNames = Array.from({ length: classes }, (_, i) => `class ${i}`);
  const width = clip.config.vision.hiddenSize;
  const zeroShot = tf.randomNormal([classes, width], 0, 1, 'float32', 1) as tf.Tensor2D;
  const settings = resolveSettings({ method, batchSize: shape.microBatch, microBatchSize: shape.microBatch });
  const model: SageModel = buildSageModel({ clip, settings, classNames, zeroShotWeights: zeroShot });
  zeroShot.dispose();
  // Sample tensor memory at every block of every forward pass (tf.profile cannot trace customGrad ops).
  let peakTensorBytes = 0;
  const sampled: ClipModel = {
    ...clip,
    config: clip.config,
    source: clip.source,
    visualProjection: clip.visualProjection,
    projectImage: (f) => clip.projectImage(f),
    encodeText: (ids) => clip.encodeText(ids),
    dispose: () => clip.dispose(),
    encodeImageFeatures: (pixels, options) =>
      clip.encodeImageFeatures(pixels, {
        blockHook: (layer, xTilde, info) => {
          peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
          return options?.blockHook ? options.blockHook(layer, xTilde, info) : null;
        },
      }),
  };
  const measuredModel: SageModel = { ...model, clip: sampled };
  const counts = Array.from({ length: classes }, (_, i) => Math.max(1, Math.floor(500 * 100 ** (-i / 99))));
  const variables = model.trainableVariables();
  const optimizer = new SgdMomentum(variables, settings);
  const adjustment = tf.tensor1d(logitAdjustment(counts, settings));
  const context = { model: measuredModel, variables, optimizer, adjustment, microBatchSize: shape.microBatch };
  const batch = randomBatch(shape.microBatch, clip.config.vision.imageSize, classes, 7);
  if (warmUp) computeStep(context, batch).apply(); // kernels compiled, momentum slots created
  const heapBefore = wasmHeapBytes();
  const started = performance.now();
  for (let i = 0; i < steps; i++) computeStep(context, batch).apply();
  const seconds = (performance.now() - started) / 1000;
  const heapAfter = wasmHeapBytes();
  const rssBytes = process.memoryUsage().rss;
  optimizer.dispose();
  adjustment.dispose();
  model.dispose();
  return {
    imagesPerSecond: (steps * shape.microBatch) / seconds,
    secondsPerStep: seconds / steps,
    heapGrowthBytes: heapBefore === null || heapAfter === null ? null : heapAfter - heapBefore,
    peakTensorBytes,
    rssBytes,
  };
}

export async function run(): Promise<BenchReport> {
  const backend = await initBackend();
  const steps = Number(process.env.ENGINE_BENCH_STEPS ?? 1);
  const shapes: Shape[] = [
    // fixtures/mini-clip's architecture (scripts/mini-clip/recipe.ts DEFAULT_RECIPE).
    { name: 'mini-CLIP (64w, 2 blocks, 32 px)', config: clipConfig(visionConfig(64, 2, 4, 32, 8), 64), microBatch: 64 },
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
    const isVit = shape.config.vision.hiddenSize === 768;
    const results: Partial<Record<'lift' | 'sage', Measured>> = {};
    for (const method of ['lift', 'sage'] as const) {
      const m = await measure(clip, method, shape, isVit ? steps : steps * 5, !isVit);
      results[method] = m;
      const gflops = (stepFlopsPerImage(shape.config.vision, method) * m.imagesPerSecond) / 1e9;
      rows.push({
        shape: shape.name,
        method,
        microBatch: shape.microBatch,
        'images/s': Number(m.imagesPerSecond.toFixed(2)),
        's/step': Number(m.secondsPerStep.toFixed(3)),
        'effective GFLOP/s': Number(gflops.toFixed(1)),
        'of matmul rate': `${((100 * gflops) / matmulRate).toFixed(0)}%`,
        'peak tensor MiB': Number((m.peakTensorBytes / 2 ** 20).toFixed(0)),
        'wasm heap growth MiB': m.heapGrowthBytes === null ? null : Number((m.heapGrowthBytes / 2 ** 20).toFixed(0)),
        'RSS MiB': Number((m.rssBytes / 2 ** 20).toFixed(0)),
      });
    }
    clip.dispose();
    const ratio = results.sage!.secondsPerStep / results.lift!.secondsPerStep;
    notes.push(`${shape.name}: Sage/LIFT time per step ${ratio.toFixed(2)}× (target ≤ 1.5×): ${ratio <= 1.5 ? 'met' : 'MISSED'}`);
  }
  return { rows, notes };
}
