/**
 * CLIP runtime throughput: images per second through the image tower (pixels → f) at
 * the ViT-B/16 shape (batch 8, random weights built in memory) and at the mini-CLIP
 * shape, on the backend initBackend picks, beside that backend's plain matMul rate
 * (1024×768×768) measured in the same run. Target: the ViT-B/16 forward reaches at
 * least half the matMul rate.
 *
 * Effective GFLOP/s counts the matMul work only (2·m·k·n per product): the patch
 * embedding, q/k/v/out projections, the MLP, and the two attention products.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/clip/backend';
import { parseClipConfig } from '../src/clip/config';
import { ClipModelImpl } from '../src/clip/model';
import type { SafetensorsEntry } from '../src/clip/safetensors';
import { randomClipTensors } from '../src/clip/testing';
import type { ClipConfig, ClipVisionConfig } from '../src/clip/types';
import type { BenchReport, BenchRow } from './types';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A text tower too small to matter: only the image tower is measured. */
const TINY_TEXT = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 64, max_position_embeddings: 8, eos_token_id: 63, bos_token_id: 62 };

function visionFlops(vision: ClipVisionConfig, batch: number): number {
  const { hiddenSize: d, intermediateSize: m, patchSize: p, imageSize: s, numLayers: layers } = vision;
  const patches = (s / p) ** 2;
  const tokens = patches + 1;
  const rows = batch * tokens;
  const patchEmbedding = 2 * batch * patches * 3 * p * p * d;
  const perLayer = 2 * rows * d * (4 * d) + 2 * rows * d * m * 2 + 2 * 2 * batch * tokens * tokens * d;
  return patchEmbedding + layers * perLayer;
}

function buildModel(config: ClipConfig): ClipModelImpl {
  const tensors = randomClipTensors(config, 1);
  const table = new Map<string, SafetensorsEntry>(Object.entries(tensors).map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: t.data }]));
  return new ClipModelImpl(config, table, { source: 'bench:random', fingerprint: 'bench' });
}

/** Median seconds of `runs` timed calls after one warm-up call. */
function timeIt(runs: number, body: () => void): number {
  body();
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    seconds.push((performance.now() - start) / 1000);
  }
  return seconds.sort((a, b) => a - b)[Math.floor(seconds.length / 2)]!;
}

function matMulRate(): number {
  const a = tf.randomNormal([1024, 768]) as tf.Tensor2D;
  const b = tf.randomNormal([768, 768]) as tf.Tensor2D;
  const seconds = timeIt(5, () => {
    const product = tf.matMul(a, b);
    product.dataSync();
    product.dispose();
  });
  tf.dispose([a, b]);
  return (2 * 1024 * 768 * 768) / seconds / 1e9;
}

function imageTowerRow(name: string, config: ClipConfig, batch: number, runs: number, matMulGflops: number): BenchRow {
  const model = buildModel(config);
  const { imageSize } = config.vision;
  const pixels = tf.randomNormal([batch, imageSize, imageSize, 3]) as tf.Tensor4D;
  const seconds = timeIt(runs, () => {
    const features = model.encodeImageFeatures(pixels);
    features.dataSync();
    features.dispose();
  });
  pixels.dispose();
  model.dispose();
  const gflops = visionFlops(config.vision, batch) / seconds / 1e9;
  return {
    shape: name,
    batch,
    'seconds/batch': Number(seconds.toFixed(3)),
    'images/s': Number((batch / seconds).toFixed(2)),
    'GFLOP/s': Number(gflops.toFixed(2)),
    'vs matMul': Number((gflops / matMulGflops).toFixed(2)),
  };
}

function miniClipConfig(): { name: string; config: ClipConfig } {
  const file = path.join(repoRoot, 'fixtures', 'mini-clip', 'config.json');
  if (existsSync(file)) return { name: 'mini-CLIP (fixtures/mini-clip)', config: parseClipConfig(readFileSync(file, 'utf8'), file) };
  const config = parseClipConfig({ projection_dim: 64, vision_config: { hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, image_size: 64, patch_size: 8 }, text_config: TINY_TEXT });
  return { name: 'mini-CLIP default (no fixture)', config };
}

export async function run(): Promise<BenchReport> {
  const backend = await initBackend();
  const matMulGflops = matMulRate();
  const vitB16 = parseClipConfig({ vision_config: { patch_size: 16 }, text_config: TINY_TEXT });
  const mini = miniClipConfig();
  const rows: BenchRow[] = [
    { shape: `matMul 1024×768×768 (${backend})`, batch: null, 'seconds/batch': null, 'images/s': null, 'GFLOP/s': Number(matMulGflops.toFixed(2)), 'vs matMul': 1 },
    imageTowerRow(`ViT-B/16 image tower (${backend})`, vitB16, 8, Number(process.env.CLIP_BENCH_RUNS ?? 1), matMulGflops),
    imageTowerRow(`${mini.name} image tower (${backend})`, mini.config, 8, 5, matMulGflops),
  ];
  const ratio = Number(rows[1]!['vs matMul']);
  return {
    rows,
    notes: [
      `ViT-B/16 forward at ${(ratio * 100).toFixed(0)}% of the plain matMul rate: target ≥ 50% ${ratio >= 0.5 ? 'met' : 'MISSED'}.`,
      'GFLOP/s counts matMul work only (patch embedding, projections, MLP, attention products); a warm-up batch precedes the timed ones.',
    ],
  };
}
