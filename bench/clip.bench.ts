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
  const seconds = timeIt(9, () => {
    const product = tf.matMul(a, b);
    product.dataSync();
    product.dispose();
  });
  tf.dispose([a, b]);
  return (2 * 1024 * 768 * 768) / seconds / 1e9;
}

function imageTowerRow(name: string, model: ClipModelImpl, batch: number, runs: number, matMulGflops: number): BenchRow {
  const { vision } = model.config;
  const pixels = tf.randomNormal([batch, vision.imageSize, vision.imageSize, 3]) as tf.Tensor4D;
  const seconds = timeIt(runs, () => {
    const features = model.encodeImageFeatures(pixels);
    features.dataSync();
    features.dispose();
  });
  pixels.dispose();
  const gflops = visionFlops(vision, batch) / seconds / 1e9;
  return {
    shape: name,
    batch,
    'seconds/batch': Number(seconds.toFixed(3)),
    'items/s': Number((batch / seconds).toFixed(2)),
    'GFLOP/s': Number(gflops.toFixed(2)),
    'vs matMul': Number((gflops / matMulGflops).toFixed(2)),
  };
}

/** Prompts of `tokens` tokens (start, words, end) through the text tower, as the classifier init runs them. */
function textTowerRow(name: string, model: ClipModelImpl, prompts: number, tokens: number, matMulGflops: number): BenchRow {
  const { text } = model.config;
  const ids = new Int32Array(prompts * text.maxPositionEmbeddings);
  for (let r = 0; r < prompts; r++) {
    const row = ids.subarray(r * text.maxPositionEmbeddings);
    row[0] = text.bosTokenId;
    for (let t = 1; t < tokens - 1; t++) row[t] = 300 + ((r + t) % 1000);
    row[tokens - 1] = text.eosTokenId;
  }
  const idsTensor = tf.tensor2d(ids, [prompts, text.maxPositionEmbeddings], 'int32');
  const seconds = timeIt(1, () => {
    const embeddings = model.encodeText(idsTensor);
    embeddings.dataSync();
    embeddings.dispose();
  });
  idsTensor.dispose();
  const rows = prompts * tokens;
  const flops = text.numLayers * (2 * rows * text.hiddenSize * (4 * text.hiddenSize + 2 * text.intermediateSize) + 4 * prompts * tokens * tokens * text.hiddenSize);
  const gflops = flops / seconds / 1e9;
  return {
    shape: name,
    batch: prompts,
    'seconds/batch': Number(seconds.toFixed(3)),
    'items/s': Number((prompts / seconds).toFixed(2)),
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
  const vitB16 = buildModel(parseClipConfig({ vision_config: { patch_size: 16 } }));
  const mini = miniClipConfig();
  const miniModel = buildModel(mini.config);
  // The machine may be shared: take the matMul rate before and after the long run and use their mean.
  const matMulBefore = matMulRate();
  const vitRow = imageTowerRow(`ViT-B/16 image tower (${backend})`, vitB16, 8, Number(process.env.CLIP_BENCH_RUNS ?? 1), matMulBefore);
  const matMulAfter = matMulRate();
  const matMulGflops = (matMulBefore + matMulAfter) / 2;
  vitRow['vs matMul'] = Number((Number(vitRow['GFLOP/s']) / matMulGflops).toFixed(2));
  const rows: BenchRow[] = [
    { shape: `matMul 1024×768×768 (${backend}), before / after`, batch: null, 'seconds/batch': null, 'items/s': null, 'GFLOP/s': `${matMulBefore.toFixed(2)} / ${matMulAfter.toFixed(2)}`, 'vs matMul': 1 },
    vitRow,
    imageTowerRow(`${mini.name} image tower (${backend})`, miniModel, 8, 5, matMulGflops),
    textTowerRow(`ViT-B/16 text tower, 12-token prompts (${backend})`, vitB16, 64, 12, matMulGflops),
  ];
  vitB16.dispose();
  miniModel.dispose();
  const ratio = Number(vitRow['vs matMul']);
  return {
    rows,
    notes: [
      `ViT-B/16 image forward at ${(ratio * 100).toFixed(0)}% of the plain matMul rate (mean of before/after): target ≥ 50% ${ratio >= 0.5 ? 'met' : 'MISSED'}.`,
      'GFLOP/s counts matMul work only (patch embedding, projections, MLP, attention products); a warm-up call precedes the timed ones.',
      'items/s: images for the image tower, prompts for the text tower.',
    ],
  };
}
