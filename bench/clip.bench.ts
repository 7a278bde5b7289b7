/**
 * CLIP runtime throughput: images per second through the image tower (pixels → f) at
 * the ViT-B/16 shape (batch 8, random weights built in memory) and at the mini-CLIP
 * shape, on the backend initBackend picks, beside that backend's plain matMul rate
 * (1024×768×768) measured in the same run. Target: the ViT-B/16 forward reaches at
 * least half the matMul rate.
 *
 * Effective GFLOP/s counts the matMul work only (2·m·k·n per product): the patch
 * embedding, q/k/v/out projections, the MLP, and the two attention products.
 *
 * Loading at real size: a ViT-B/16-shaped Hugging Face folder with random F16 weights
 * (about 300 MB, bench/fixtures/vit-b16-folder.ts, generated once under out/) is decoded
 * and loaded in child processes (bench/fixtures/measure-clip-load.ts), one measurement
 * each so that each peak RSS is its own: CPU and wall seconds, peak RSS. Target: the
 * decode takes under 2 CPU-seconds. `CLIP_BENCH_PARTS=load` (or `throughput`) runs one part.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/clip/backend';
import { parseClipConfig } from '../src/clip/config';
import { ClipModelImpl } from '../src/clip/model';
import type { SafetensorsEntry } from '../src/clip/safetensors';
import { randomClipTensors } from '../src/clip/testing';
import type { ClipConfig, ClipVisionConfig } from '../src/clip/types';
import type { LoadMeasurement } from './fixtures/measure-clip-load';
import { vitB16Folder } from './fixtures/vit-b16-folder';
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

async function throughput(): Promise<BenchReport> {
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

/** One measurement in a fresh process (its peak RSS is then its own). */
function measureInChild(mode: 'decode' | 'decode-per-element' | 'load', dir: string): LoadMeasurement {
  const script = path.join(repoRoot, 'bench', 'fixtures', 'measure-clip-load.ts');
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, mode, dir], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (child.status !== 0) throw new Error(`measure-clip-load ${mode} exited with ${child.status}: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as LoadMeasurement;
}

function loadRow(name: string, m: LoadMeasurement): BenchRow {
  return {
    shape: name,
    'wall s': Number(m.wallSeconds.toFixed(2)),
    'CPU s': Number(m.cpuSeconds.toFixed(2)),
    'file MB/CPU s': Number((m.fileMB / m.cpuSeconds).toFixed(0)),
    'peak RSS MB': Number(m.peakRssMB.toFixed(0)),
    'peak RSS / file': Number((m.peakRssMB / m.fileMB).toFixed(2)),
  };
}

async function loading(): Promise<BenchReport> {
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadBefore = load();
  const folder = await vitB16Folder();
  const mb = (folder.weightsBytes / 1e6).toFixed(1);
  const decode = measureInChild('decode', folder.dir);
  const previous = measureInChild('decode-per-element', folder.dir);
  const full = measureInChild('load', folder.dir);
  // The same weights stored as BF16 (what many re-uploads use): a 16-bit shift per element.
  const bf16Folder = await vitB16Folder({ dtype: 'BF16' });
  const bf16 = measureInChild('decode', bf16Folder.dir);
  return {
    rows: [
      loadRow(`ViT-B/16 F16 folder (${mb} MB): decode, readSafetensorsFile`, decode),
      loadRow('same file: previous per-element decode (float16ToFloat32 via DataView)', previous),
      loadRow('same folder: loadClip (decode + towers, wasm)', full),
      loadRow(`ViT-B/16 BF16 folder (${(bf16Folder.weightsBytes / 1e6).toFixed(1)} MB): decode, readSafetensorsFile`, bf16),
    ],
    notes: [
      `Decode of the BF16 checkpoint: ${bf16.cpuSeconds.toFixed(2)} CPU-seconds, target < 2 ${bf16.cpuSeconds < 2 ? 'met' : 'MISSED'}.`,
      `Decode of the ${mb} MB F16 checkpoint: ${decode.cpuSeconds.toFixed(2)} CPU-seconds, target < 2 ${decode.cpuSeconds < 2 ? 'met' : 'MISSED'}; ` +
        `${(previous.cpuSeconds / decode.cpuSeconds).toFixed(1)}× less CPU than the per-element decoder.`,
      `Peak RSS of the decode: ${decode.peakRssMB.toFixed(0)} MB for ${decode.decodedMB.toFixed(0)} MB of float32 output (baseline ${decode.baselineRssMB.toFixed(0)} MB); ` +
        `the per-element row discards each tensor after decoding it, so its peak is lower.`,
      `Folder ${folder.generatedSeconds > 0 ? `generated in ${folder.generatedSeconds.toFixed(1)} s` : 'reused'} at ${folder.dir}.`,
      `Load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}.`,
      'loadClip stage lines:',
      ...(full.lines ?? []).map((line) => `  ${line}`),
    ],
  };
}

export async function run(): Promise<BenchReport> {
  const parts = (process.env.CLIP_BENCH_PARTS ?? 'throughput,load').split(',');
  const reports: BenchReport[] = [];
  if (parts.includes('throughput')) reports.push(await throughput());
  if (parts.includes('load')) reports.push(await loading());
  return { rows: reports.flatMap((r) => r.rows), notes: reports.flatMap((r) => r.notes ?? []) };
}
