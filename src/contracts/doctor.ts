/**
 * What `sage doctor` measures on a machine (src/trainer/doctor.ts), as the JSON it writes: the
 * backend and the GPU, a matmul rate, training throughput and peak tensor memory per micro-batch
 * at a model's shape, the memory model's figures beside them, and the measured efficiency in
 * the shape of the GPU table's entries (src/estimate/gpus.ts, cdk.json `sage:gpus`): merge
 * `gpuTable` into the table to replace the assumed efficiency of those instance types.
 */
import { z } from 'zod';
import { DeviceFacts } from './metrics';

export const DOCTOR_VERSION = 1 as const;

export const DoctorTraining = z.object({
  method: z.enum(['lift', 'sage']),
  microBatch: z.number().int().positive(),
  /** Timed steps (after one warm-up step, which is also the one profiled for memory). */
  steps: z.number().int().positive(),
  secondsPerStep: z.number().positive(),
  imagesPerSecond: z.number().positive(),
  /** tf.profile() peak of the warm-up step, all tensors included (weights too). */
  peakTensorBytes: z.number().nonnegative(),
  /** The wasm heap after the steps (its high-water mark); absent off wasm. */
  heapBytes: z.number().nonnegative().optional(),
  /** The memory model's peak for this micro-batch: fixed + micro-batch × per image. */
  modelPeakBytes: z.number().nonnegative(),
  /** Work per training image (SPEC section 6: 2F, 3F with FIT) and the rate it implies. */
  flopsPerImage: z.number().positive(),
  achievedTflops: z.number().nonnegative(),
});
export type DoctorTraining = z.infer<typeof DoctorTraining>;

export const DoctorReport = z.object({
  version: z.literal(DOCTOR_VERSION),
  format: z.literal('sage-doctor'),
  measuredAt: z.string(),
  device: DeviceFacts,
  /** Whether training ran on the GPU (tfjs-node-gpu); false: the figures are this CPU's. */
  onGpu: z.boolean(),
  /** What a person should know first (the backend, and why not the GPU when not). */
  notes: z.array(z.string()),
  /** The model shape measured ("ViT-B/16": 768 wide, 12 blocks, 224 px, C = 100 classes). */
  shape: z.object({ name: z.string(), hiddenSize: z.number().int(), numLayers: z.number().int(), imageSize: z.number().int(), patchSize: z.number().int(), classes: z.number().int() }),
  matmul: z.object({ m: z.number().int(), k: z.number().int(), n: z.number().int(), gflops: z.number().nonnegative() }),
  training: z.array(DoctorTraining),
  /** The memory model's budget on this device and the micro-batch the trainer would choose per method. */
  memory: z.object({ budgetBytes: z.number().nonnegative(), budgetSource: z.string(), automaticMicroBatch: z.record(z.string(), z.number().int().nonnegative()) }),
  /**
   * Entries for the GPU table, one per instance type whose GPU this is: the measured efficiency
   * (achieved FP32 FLOP/s of Sage training over the GPU's peak) and who measured it. Empty off a GPU.
   */
  gpuTable: z.record(z.string(), z.object({ efficiency: z.number().gt(0).max(1), measuredBy: z.string() })),
});
export type DoctorReport = z.infer<typeof DoctorReport>;
