/**
 * The automatic micro-batch (SPEC section 6, "Memory"): with `microBatchSize: null` the trainer
 * takes the largest micro-batch the memory model (src/estimate/memory.ts) fits in the device's
 * memory, at most the batch; out-of-memory errors later halve it (src/engine/out-of-memory.ts).
 * The device's memory: on tfjs-node-gpu the GPU's total less what others used before TensorFlow
 * loaded (nvidia-smi), on wasm the 4 GiB heap less XNNPACK's packed weights, on the CPU the free
 * host memory.
 */
import os from 'node:os';
import type { ClipConfig } from '../clip/types';
import type { DeviceFacts, MicroBatchBackoffRecord, MicroBatchChoice } from '../contracts/metrics';
import type { Settings } from '../contracts/settings';
import { fitEvaluationBatch, fitMicroBatch, fixedTrainingBytes, gpuTrainingBudget, inferenceBytesPerCrop, trainingBytesPerImage, wasmTrainingBudget } from '../estimate';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface MicroBatchPlan {
  chosen: number;
  reason: MicroBatchChoice['reason'];
  /** The figures, for the log and metrics.json. */
  detail: string;
  /** Set when the model says even one image does not fit (the run tries 1 anyway). */
  warning?: string;
}

/** What the trainer may use: bytes and where the figure comes from. */
export function deviceBudget(device: Pick<DeviceFacts, 'backend' | 'gpu'>, config: ClipConfig): { bytes: number; source: string } {
  // With OpenBLAS running the products XNNPACK packs nothing, but the room stays kept: a wasm heap that runs out aborts the run, and larger micro-batches are unmeasured there.
  if (device.backend === 'wasm') return { bytes: wasmTrainingBudget(config), source: 'the wasm heap (4 GiB) less room for XNNPACK\'s packed copies of the frozen matrices, 5 % kept free' };
  if (device.backend === 'tensorflow' && device.gpu) {
    const total = device.gpu.memoryMiB * MiB;
    const used = (device.gpu.usedMiB ?? 0) * MiB;
    return { bytes: gpuTrainingBudget(total, used), source: `${device.gpu.name}: ${device.gpu.memoryMiB} MiB, ${device.gpu.usedMiB ?? 0} MiB used by others, 90 % less 1 GiB for CUDA and cuDNN` };
  }
  return { bytes: 0.8 * os.freemem(), source: '80 % of the free host memory' };
}

/** The micro-batch to start with. */
export function planMicroBatch(settings: Settings, config: ClipConfig, classes: number, device: Pick<DeviceFacts, 'backend' | 'gpu'>): MicroBatchPlan {
  if (settings.microBatchSize !== null) return { chosen: settings.microBatchSize, reason: 'set', detail: `microBatchSize ${settings.microBatchSize} in the settings` };
  if (settings.method === 'zero-shot') return { chosen: settings.batchSize, reason: 'batch', detail: 'zero-shot: no training' };
  const budget = deviceBudget(device, config);
  const fixed = fixedTrainingBytes(config, settings, classes);
  const perImage = trainingBytesPerImage(config, settings, classes);
  const fit = fitMicroBatch(config, settings, classes, budget.bytes);
  const figures = `memory model: ${(fixed / GiB).toFixed(2)} GiB fixed + ${(perImage / MiB).toFixed(0)} MiB per image; budget ${(budget.bytes / GiB).toFixed(2)} GiB (${budget.source})`;
  if (fit >= settings.batchSize) return { chosen: settings.batchSize, reason: 'batch', detail: `the whole batch of ${settings.batchSize} fits (${fit} would); ${figures}` };
  if (fit === 0) {
    return {
      chosen: 1,
      reason: 'memory-model',
      detail: `${figures}; even one image does not fit by the model, trying 1`,
      warning: `the memory model says one training image does not fit (${figures}); trying micro-batch 1`,
    };
  }
  return { chosen: fit, reason: 'memory-model', detail: `${fit} of the batch's ${settings.batchSize} images fit per pass; ${figures}` };
}

/**
 * Images per evaluation pass: as many as the device holds with `crops` crops each (5 with TTE),
 * at most the batch (an evaluation pass keeps about one block's tensors per crop; all of a pass's
 * crops are in memory at once).
 */
export function planEvaluationBatch(settings: Settings, config: ClipConfig, classes: number, device: Pick<DeviceFacts, 'backend' | 'gpu'>, crops: number): { images: number; detail: string } {
  const budget = deviceBudget(device, config);
  const fit = fitEvaluationBatch(config, settings, classes, budget.bytes, crops);
  const images = Math.min(settings.batchSize, fit);
  return { images, detail: `${images} image(s) × ${crops} crop(s) per evaluation pass (${(inferenceBytesPerCrop(config, settings, classes) / MiB).toFixed(0)} MiB per crop; ${fit} would fit)` };
}

/** metrics.json's record of it. */
export function microBatchChoice(plan: MicroBatchPlan, final: number, backoffs: MicroBatchBackoffRecord[]): MicroBatchChoice {
  return { chosen: plan.chosen, reason: plan.reason, detail: plan.detail, final, backoffs };
}
