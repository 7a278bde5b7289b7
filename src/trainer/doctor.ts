/**
 * `sage doctor`: what this machine does for training, measured. Run in the image on a GPU host
 * (`docker run --gpus all <image> doctor --json doctor.json`) it prints the backend, the GPU, a
 * matmul rate, and LIFT and Sage training images/s and peak tensor memory per micro-batch at
 * ViT-B/16 shape (random weights in memory: no download), beside the memory model's figures; the
 * JSON (src/contracts/doctor.ts) carries the measured efficiency for the GPU table. Where
 * tfjs-node-gpu does not load (here: no GPU) it runs on wasm and says so first.
 */
import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { deviceFacts, diagnoseNativeBackend, describeDiagnosis, initBackend, randomClipModel, tensorflowOnCpu, type ClipConfig, type ClipModel } from '../clip';
import { DOCTOR_VERSION, DoctorReport, type DoctorTraining } from '../contracts/doctor';
import type { DeviceFacts } from '../contracts/metrics';
import { resolveSettings } from '../contracts/settings';
import { batchGradients, createSageModel, logitAdjustment, meanGradients, SgdMomentum } from '../engine';
import { DEFAULT_GPUS, fitMicroBatch, fixedTrainingBytes, passesPerImage, trainingBytesPerImage, visionForwardFlops } from '../estimate';
import { deviceBudget } from './micro-batch';

export const DOCTOR_SHAPES = {
  /** openai/clip-vit-base-patch16's vision tower; a small text tower (W^zs is random here). */
  'vit-b16': { name: 'ViT-B/16', vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 16 } },
  /** fixtures/mini-clip's vision tower: seconds, for a quick look and for tests. */
  mini: { name: 'mini-CLIP', vision: { hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, imageSize: 36, patchSize: 6 } },
} as const;
export type DoctorShape = keyof typeof DOCTOR_SHAPES;

export interface DoctorOptions {
  shape?: DoctorShape;
  /** Micro-batches to measure; default 1 and 2 on wasm, on a GPU also the automatic one. */
  microBatches?: number[];
  methods?: ('lift' | 'sage')[];
  /** Timed steps per (method, micro-batch) after the warm-up; default 2. */
  steps?: number;
  classes?: number;
  /** Start-up and progress lines; default stderr. */
  log?: (line: string) => void;
}

function config(shape: DoctorShape): ClipConfig {
  const vision = DOCTOR_SHAPES[shape].vision;
  return {
    vision: { ...vision, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
    text: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, maxPositionEmbeddings: 8, vocabSize: 64, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', eosTokenId: 63, bosTokenId: 62, padTokenId: 0 },
    projectionDim: 64,
    logitScale: 100,
  };
}


function wasmHeapBytes(): number | undefined {
  return (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
}

/** The best of five plain 2-D matmuls (no tf.tidy returning a TypedArray: slow on wasm, SPEC section 5). */
function matmulRate(m: number, k: number, n: number): number {
  const a = tf.randomNormal([m, k]) as tf.Tensor2D;
  const b = tf.randomNormal([k, n]) as tf.Tensor2D;
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
  return (2 * m * k * n) / best / 1e9;
}

async function measureTraining(clip: ClipModel, method: 'lift' | 'sage', microBatch: number, steps: number, classes: number): Promise<Omit<DoctorTraining, 'modelPeakBytes' | 'flopsPerImage' | 'achievedTflops'>> {
  const names = Array.from({ length: classes }, (_, i) => `class ${i}`);
  const settings = resolveSettings({ method, batchSize: microBatch, microBatchSize: microBatch });
  const zeroShot = tf.randomNormal([classes, clip.config.vision.hiddenSize], 0, 1, 'float32', 1) as tf.Tensor2D;
  const model = await createSageModel({ clip, settings, classNames: names, zeroShotWeights: zeroShot });
  zeroShot.dispose();
  const optimizer = new SgdMomentum(model.trainableVariables(), settings);
  const adjustment = tf.tensor1d(logitAdjustment(names.map((_, i) => Math.max(1, Math.floor(500 * 100 ** (-i / Math.max(1, classes - 1))))), settings));
  const size = clip.config.vision.imageSize;
  const images = new Float32Array(microBatch * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = Math.sin(i * 0.37) * 1.5;
  const batch = { images, labels: Int32Array.from({ length: microBatch }, (_, i) => i % classes), keys: names.slice(0, microBatch), n: microBatch, size, crops: 1 };
  const context = { model, adjustment, microBatchSize: microBatch };
  const step = () => {
    const gradients = batchGradients(batch, context);
    optimizer.step(meanGradients(gradients.sums, gradients.count));
  };
  try {
    // The warm-up step (kernels, packed weights, momentum slots) is the one profiled for memory.
    const check = tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS');
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
    let peakTensorBytes: number;
    try {
      peakTensorBytes = (await tf.profile(() => step())).peakBytes;
    } finally {
      tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', check);
    }
    let total = 0;
    for (let i = 0; i < steps; i++) {
      const started = performance.now();
      step();
      total += (performance.now() - started) / 1000;
    }
    const secondsPerStep = total / steps;
    const heap = wasmHeapBytes();
    return { method, microBatch, steps, secondsPerStep, imagesPerSecond: microBatch / secondsPerStep, peakTensorBytes, ...(heap !== undefined ? { heapBytes: heap } : {}) };
  } finally {
    optimizer.dispose();
    adjustment.dispose();
    model.dispose();
  }
}

/** The table's instance types whose GPU this is ("Tesla T4" is a T4, "NVIDIA A10G" an A10G). */
export function instanceTypesFor(gpuName: string): string[] {
  const name = gpuName.toUpperCase();
  return Object.entries(DEFAULT_GPUS)
    .filter(([, spec]) => new RegExp(`\\b${spec.gpu.toUpperCase()}\\b`).test(name))
    .map(([type]) => type);
}

/**
 * The GPU table's entries this measurement replaces: for each instance type with this GPU, the
 * efficiency of the fastest Sage row (LIFT when Sage was not measured) against the type's peak.
 */
export function gpuTableEntries(gpuName: string, training: readonly DoctorTraining[], label: string): DoctorReport['gpuTable'] {
  const rows = training.some((row) => row.method === 'sage') ? training.filter((row) => row.method === 'sage') : training;
  const best = [...rows].sort((a, b) => b.achievedTflops - a.achievedTflops)[0];
  const entries: DoctorReport['gpuTable'] = {};
  if (!best) return entries;
  for (const type of instanceTypesFor(gpuName)) {
    const efficiency = Math.min(1, best.achievedTflops / DEFAULT_GPUS[type]!.peakTflops);
    if (efficiency > 0) entries[type] = { efficiency: Number(efficiency.toFixed(3)), measuredBy: `sage doctor on ${gpuName}: ${best.method} at micro-batch ${best.microBatch}, ${label}` };
  }
  return entries;
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const startLines: string[] = [];
  const backend = await initBackend({ log: (line) => startLines.push(line) });
  startLines.forEach((line) => log(line));
  const device: DeviceFacts = await deviceFacts();
  const onGpu = backend === 'tensorflow' && device.gpu !== undefined;
  const notes: string[] = [];
  if (!onGpu) {
    notes.push(`backend ${backend}: NOT a GPU. The figures below are this CPU's${tensorflowOnCpu() ? '' : '; on a GPU host run the image with --gpus all so that tfjs-node-gpu loads'}.`);
    if (backend !== 'tensorflow') notes.push(`why not tensorflow: ${startLines.join(' ')}\n${describeDiagnosis(diagnoseNativeBackend([]))}`);
    const cpuOnly = tensorflowOnCpu();
    if (cpuOnly) notes.push(`TensorFlow loaded but runs on its CPU kernels: ${cpuOnly}. TensorFlow's own log above says which CUDA library it could not load; the figures below are NOT for the throughput table (no gpuTable is written).\n${describeDiagnosis(diagnoseNativeBackend([]))}`);
  } else {
    notes.push(`backend tensorflow on ${device.gpu!.name} (${device.gpu!.memoryMiB} MiB, driver ${device.gpu!.driver}${device.gpu!.cuda ? `, CUDA ${device.gpu!.cuda}` : ''})`);
  }
  notes.forEach((line) => log(line));

  const shapeName = options.shape ?? 'vit-b16';
  const c = config(shapeName);
  const classes = options.classes ?? 100;
  const [m, k, n] = onGpu ? [4096, 4096, 4096] : [1024, 768, 768];
  const gflops = matmulRate(m, k, n);
  log(`matmul ${m}×${k}×${n}${device.matmul ? ` (${device.matmul.kernel === 'openblas' ? device.matmul.detail : 'XNNPACK'})` : ''}: ${gflops.toFixed(1)} GFLOP/s`);

  const budget = deviceBudget(device, c);
  const methods = options.methods ?? ['lift', 'sage'];
  const automatic: Record<string, number> = {};
  for (const method of methods) automatic[method] = fitMicroBatch(c, resolveSettings({ method }), classes, budget.bytes);
  const microBatches = options.microBatches ?? (onGpu ? [...new Set([1, Math.max(1, Math.floor(Math.min(...Object.values(automatic)) / 2)), Math.max(1, Math.min(...Object.values(automatic)))])] : [1, 2]);
  const steps = options.steps ?? 2;
  log(`${DOCTOR_SHAPES[shapeName].name}, ${classes} classes: building a random CLIP in memory`);
  const clip = randomClipModel(c, 7, 'doctor');
  const training: DoctorTraining[] = [];
  try {
    for (const method of methods) {
      const settings = resolveSettings({ method });
      const flopsPerImage = passesPerImage(settings).train * visionForwardFlops(c);
      for (const microBatch of microBatches) {
        const measured = await measureTraining(clip, method, microBatch, steps, classes);
        const row: DoctorTraining = {
          ...measured,
          modelPeakBytes: fixedTrainingBytes(c, settings, classes) + microBatch * trainingBytesPerImage(c, settings, classes),
          flopsPerImage,
          achievedTflops: (measured.imagesPerSecond * flopsPerImage) / 1e12,
        };
        training.push(row);
        log(
          `${method} micro-batch ${microBatch}: ${row.imagesPerSecond.toPrecision(3)} images/s (${row.secondsPerStep.toPrecision(3)} s/step), ` +
            `peak tensors ${(row.peakTensorBytes / 2 ** 20).toFixed(0)} MiB (model ${(row.modelPeakBytes / 2 ** 20).toFixed(0)} MiB)` +
            `${row.heapBytes !== undefined ? `, wasm heap ${(row.heapBytes / 2 ** 20).toFixed(0)} MiB` : ''}, ${(row.achievedTflops * 1000).toFixed(1)} GFLOP/s`,
        );
      }
    }
  } finally {
    clip.dispose();
  }

  const measuredAt = new Date().toISOString();
  const gpuTable = onGpu ? gpuTableEntries(device.gpu!.name, training, `${DOCTOR_SHAPES[shapeName].name}, ${measuredAt.slice(0, 10)}`) : {};
  for (const [method, micro] of Object.entries(automatic)) log(`automatic micro-batch for ${method} here: ${micro} (budget ${(budget.bytes / 2 ** 30).toFixed(2)} GiB: ${budget.source})`);
  const { hiddenSize, numLayers, imageSize, patchSize } = c.vision;
  return DoctorReport.parse({
    version: DOCTOR_VERSION,
    format: 'sage-doctor',
    measuredAt,
    device,
    onGpu,
    notes,
    shape: { name: DOCTOR_SHAPES[shapeName].name, hiddenSize, numLayers, imageSize, patchSize, classes },
    matmul: { m, k, n, gflops },
    training,
    memory: { budgetBytes: budget.bytes, budgetSource: budget.source, automaticMicroBatch: automatic },
    gpuTable,
  });
}

/** The container's `doctor` argument: `[--json FILE] [--shape vit-b16|mini] [--micro-batches 1,2] [--methods lift,sage] [--steps N]`. Resolves to the exit code. */
export async function runDoctorCommand(argv: readonly string[], write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const list = (flag: string): string[] | undefined => value(flag)?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = value('--shape');
  if (shape !== undefined && !(shape in DOCTOR_SHAPES)) {
    process.stderr.write(`error: --shape ${shape}: expected one of ${Object.keys(DOCTOR_SHAPES).join(', ')}\n`);
    return 2;
  }
  const methods = list('--methods');
  if (methods && methods.some((m) => m !== 'lift' && m !== 'sage')) {
    process.stderr.write(`error: --methods ${methods.join(',')}: expected lift and/or sage\n`);
    return 2;
  }
  const microBatches = list('--micro-batches')?.map(Number);
  const steps = value('--steps') === undefined ? undefined : Number(value('--steps'));
  if ((microBatches && microBatches.some((n) => !(Number.isInteger(n) && n > 0))) || (steps !== undefined && !(Number.isInteger(steps) && steps > 0))) {
    process.stderr.write('error: --micro-batches and --steps take positive integers\n');
    return 2;
  }
  const report = await runDoctor({
    ...(shape ? { shape: shape as DoctorShape } : {}),
    ...(methods ? { methods: methods as ('lift' | 'sage')[] } : {}),
    ...(microBatches ? { microBatches } : {}),
    ...(steps !== undefined ? { steps } : {}),
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = value('--json');
  if (file) await writeFile(file, json);
  else write(json);
  return 0;
}
