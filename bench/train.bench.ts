/**
 * A real-size training job on this machine: `sage train` (the CLI, in a child process, as a
 * user runs it) on a ViT-B/16-shaped Hugging Face folder with random F16 weights under Hugging
 * Face's tensor names (position_ids as I64 included; bench/fixtures/vit-b16-folder.ts) and 224 px
 * JPEGs in WebDataset shards, with the automatic micro-batch, for a few steps (one epoch of a
 * small train split), then its final evaluation with the five-crop test-time ensemble. Measured:
 * the CLIP load time, the process's peak RSS, step times and images/s (log.jsonl), the
 * micro-batch it chose, the evaluation's time (metrics.json).
 *
 * `npm run bench -- train`. Env: TRAIN_BENCH_TRAIN (train images, default 240), TRAIN_BENCH_TEST
 * (test images, default 60: a few hundred JPEGs in all), TRAIN_BENCH_BATCH (default 40: six steps), TRAIN_BENCH_METHOD
 * (lift, default, or sage; Sage's FIT doubles the evaluation's cost). On wasm a ViT-B/16 image
 * takes seconds; on a GPU raise the counts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { mulberry32 } from '../src/common/random';
import { MetricsDocument } from '../src/contracts/metrics';
import { ShardWriter } from '../src/data/shards/writer';
import { LocalObjectStore } from '../src/storage';
import { vitB16Folder } from './fixtures/vit-b16-folder';
import type { BenchReport, BenchRow } from './types';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = 224;
const CLASSES = ['red apple', 'green pear', 'blue car', 'yellow bird'];

/** A photo-like 224 px JPEG whose colour depends on its class (quality 90, about 20 KB). */
async function jpeg(label: number, seed: number): Promise<Buffer> {
  const rng = mulberry32(seed);
  const tint = [
    [200, 40, 40],
    [80, 190, 60],
    [40, 60, 200],
    [220, 200, 40],
  ][label]!;
  const raw = Buffer.alloc(SIZE * SIZE * 3);
  const fx = 0.01 + 0.04 * rng();
  const fy = 0.01 + 0.04 * rng();
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const wave = 40 * Math.sin(fx * x) * Math.cos(fy * y);
      for (let c = 0; c < 3; c++) raw[(y * SIZE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(tint[c]! + wave + 24 * (rng() - 0.5))));
    }
  }
  return sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function writeSplit(dir: string, name: string, count: number, seed: number): Promise<{ indexUri: string; shards: number; bytes: number }> {
  const store = new LocalObjectStore();
  // Small shards, so that a few hundred images make several.
  const writer = new ShardWriter({ outUri: path.join(dir, name), store, prefix: name, maxShardBytes: 1024 * 1024 });
  for (let i = 0; i < count; i++) await writer.add({ key: `${name}${String(i).padStart(5, '0')}`, image: await jpeg(i % CLASSES.length, seed + i), label: i % CLASSES.length });
  const { index, indexUri } = await writer.finish();
  return { indexUri, shards: index.shards.length, bytes: index.shards.reduce((sum, shard) => sum + (shard.bytes ?? 0), 0) };
}

interface Timed {
  seconds: number;
  line: string;
}

interface ChildRun {
  code: number | null;
  lines: Timed[];
  peakRssBytes: number;
  wallSeconds: number;
}

/** Runs the CLI; stderr lines with their seconds since the start; the peak RSS from /proc (VmHWM). */
function runCli(args: string[]): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'sage.mjs'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Timed[] = [];
    let pending = '';
    let peakRssBytes = 0;
    const poll = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8')
        .then((status) => {
          const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
          peakRssBytes = Math.max(peakRssBytes, kb * 1024);
        })
        .catch(() => {});
    }, 250);
    child.stderr.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) lines.push({ seconds: (performance.now() - started) / 1000, line });
    });
    child.stdout.resume();
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(poll);
      resolve({ code, lines, peakRssBytes, wallSeconds: (performance.now() - started) / 1000 });
    });
  });
}

function at(lines: readonly Timed[], pattern: RegExp): Timed | undefined {
  return lines.find((l) => pattern.test(l.line));
}

const round = (value: number, digits = 3) => Number(value.toPrecision(digits));

export async function run(): Promise<BenchReport> {
  const trainCount = Number(process.env.TRAIN_BENCH_TRAIN ?? 240);
  const testCount = Number(process.env.TRAIN_BENCH_TEST ?? 60);
  const batchSize = Number(process.env.TRAIN_BENCH_BATCH ?? 40);
  const method = process.env.TRAIN_BENCH_METHOD === 'sage' ? 'sage' : 'lift';
  const notes = [`load average at start ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`];

  const folder = await vitB16Folder();
  notes.push(`weights: ${folder.dir} (${(folder.weightsBytes / 2 ** 20).toFixed(0)} MiB of F16, ${folder.generatedSeconds > 0 ? `generated in ${folder.generatedSeconds.toFixed(0)} s` : 'reused'})`);

  const dataDir = path.join(repoRoot, 'out', 'bench', `train-bench-${trainCount}-${testCount}`);
  const marker = path.join(dataDir, '.complete.json');
  let shards: { train: { shards: number; bytes: number }; test: { shards: number; bytes: number } };
  if (existsSync(marker)) {
    shards = JSON.parse(await readFile(marker, 'utf8')) as typeof shards;
  } else {
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const train = await writeSplit(dataDir, 'train', trainCount, 1);
    const test = await writeSplit(dataDir, 'test', testCount, 100_000);
    shards = { train, test };
    await writeFile(marker, JSON.stringify(shards));
  }
  notes.push(`data: ${trainCount} train and ${testCount} test JPEGs of ${SIZE} px in ${shards.train.shards} + ${shards.test.shards} shards (${((shards.train.bytes + shards.test.bytes) / 2 ** 20).toFixed(1)} MiB)`);

  const manifestUri = path.join(dataDir, `manifest-${method}-${batchSize}.json`);
  await writeFile(
    manifestUri,
    JSON.stringify({
      version: 1,
      name: 'train-bench',
      classes: CLASSES,
      train: { shards: 'train/index.json' },
      test: { shards: 'test/index.json' },
      weights: folder.dir,
      training: { method, epochs: 1, batchSize, microBatchSize: null, tte: true, cropScaleMin: 0.5 },
    }),
  );
  const outDir = path.join(dataDir, `run-${method}-${batchSize}`);
  await rm(outDir, { recursive: true, force: true });
  const child = await runCli(['train', manifestUri, '--out', outDir, '--run-id', 'train-bench', '--cache-dir', path.join(dataDir, 'cache'), '--workers', '1']);
  if (child.code !== 0) throw new Error(`sage train exited with ${child.code}:\n${child.lines.map((l) => l.line).join('\n')}`);

  const metrics = MetricsDocument.parse(JSON.parse(await readFile(path.join(outDir, '0', 'metrics.json'), 'utf8')));
  const log = (await readFile(path.join(outDir, '0', 'log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; seconds?: number; imagesPerSecond?: number; step?: number });
  const steps = log.filter((r) => r.type === 'step');
  const backend = at(child.lines, /^tfjs backend:/);
  const loaded = at(child.lines, /CLIP .*: ready in/);
  const micro = at(child.lines, /^micro-batch \d+/);
  const firstStep = steps[0];
  const stepSeconds = steps.map((s) => s.seconds ?? 0);
  const laterSteps = stepSeconds.slice(1);
  const meanLater = laterSteps.length > 0 ? laterSteps.reduce((a, b) => a + b, 0) / laterSteps.length : (stepSeconds[0] ?? 0);
  const rows: BenchRow[] = [
    { measure: 'backend', value: metrics.device?.backend ?? metrics.backend, unit: '' },
    { measure: 'CLIP loaded (since start)', value: round(loaded?.seconds ?? NaN), unit: 's' },
    { measure: 'data-parallel replicas', value: Number((metrics.config.engine as { replicas?: number } | undefined)?.replicas ?? 1), unit: 'default for this machine' },
    { measure: 'micro-batch (automatic)', value: metrics.microBatch?.chosen ?? null, unit: `${metrics.microBatch?.reason ?? ''}, final ${metrics.microBatch?.final ?? ''}` },
    { measure: 'steps', value: steps.length, unit: `of ${batchSize} images` },
    { measure: 'first step', value: round(firstStep?.seconds ?? NaN), unit: 's' },
    { measure: 'later steps (mean)', value: round(meanLater), unit: 's' },
    { measure: 'training images/s', value: round(metrics.timings.trainImagesPerSecond), unit: 'img/s' },
    { measure: `evaluation with TTE (${testCount} images × 5 crops)`, value: round(metrics.timings.evalSeconds), unit: 's' },
    { measure: 'evaluation images/s', value: round(testCount / metrics.timings.evalSeconds), unit: 'img/s' },
    { measure: 'peak RSS', value: Math.round(child.peakRssBytes / 2 ** 20), unit: 'MiB' },
    { measure: 'wall time of sage train', value: round(child.wallSeconds), unit: 's' },
  ];
  notes.push(`sage train ${method}, batch ${batchSize}, 1 epoch, TTE: ${backend?.line ?? ''}`);
  if (micro) notes.push(micro.line);
  const evaluationLine = at(child.lines, /^evaluation: /);
  if (evaluationLine) notes.push(evaluationLine.line);
  notes.push(`step seconds: ${stepSeconds.map((s) => s.toFixed(1)).join(', ')}; accuracy ${(metrics.accuracy.all * 100).toFixed(1)} % (random weights: not meaningful)`);
  return { rows, notes };
}
