/**
 * What each GPU instance type does per hour and costs per hour: the table the estimate reads.
 * The defaults below are starting points with their sources; the deployed table lives in
 * cdk.json context (`sage:gpus`, user-editable) and reaches the validation function as JSON.
 * `efficiency` (achieved / peak FP32) is assumed until `sage doctor` measures it on the
 * instance; its JSON output replaces the assumed value (measuredBy records that it did).
 */
import { z } from 'zod';
import { EstimateError } from '../common/errors';

export const GpuSpec = z.object({
  /** The accelerator, for people: "T4", "A10G". */
  gpu: z.string().min(1),
  /** GPUs of the instance type; a job uses min(sage:jobGpus, gpus) of them, one data-parallel replica each. */
  gpus: z.number().int().positive(),
  /** GPU memory per GPU in GiB (for the micro-batch). */
  memoryGiB: z.number().positive(),
  /** Peak FP32 TFLOP/s per GPU (tfjs-node-gpu computes in float32). */
  peakTflops: z.number().positive(),
  /** Achieved share of the peak for CLIP training, in (0, 1]. */
  efficiency: z.number().gt(0).max(1),
  onDemandUsdPerHour: z.number().nonnegative(),
  spotUsdPerHour: z.number().nonnegative(),
  /** Minutes before the first step: instance start, image pull, weights, and on non-T4 GPUs the CUDA JIT of a cold cache. */
  startupMinutes: z.number().nonnegative(),
  /** Where the figures come from. */
  source: z.string().min(1),
  /** Set when `sage doctor` measured the efficiency on this type. */
  measuredBy: z.string().optional(),
});
export type GpuSpec = z.infer<typeof GpuSpec>;

export const GpuTable = z.record(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'an EC2 instance type such as g5.xlarge'), GpuSpec);
export type GpuTable = z.infer<typeof GpuTable>;

const PRICES = 'on-demand: AWS EC2 pricing, Linux, us-east-1 (2025); spot: assumed 40 % of on-demand (spot prices move: aws ec2 describe-spot-price-history)';
const ASSUMED = 'efficiency 0.30 assumed for tfjs-node-gpu FP32 until sage doctor measures it';
const JIT = 'startup includes the PTX JIT of libtensorflow 2.9 for sm_86/sm_89 with a cold CUDA cache (SPEC section 5)';

/** The default table: the stack's default instance types and a four-GPU host. */
export const DEFAULT_GPUS: GpuTable = {
  'g4dn.xlarge': { gpu: 'T4', gpus: 1, memoryGiB: 16, peakTflops: 8.1, efficiency: 0.3, onDemandUsdPerHour: 0.526, spotUsdPerHour: 0.21, startupMinutes: 5, source: `NVIDIA T4 datasheet (8.1 TFLOP/s FP32, 16 GB); ${PRICES}; ${ASSUMED}` },
  'g4dn.2xlarge': { gpu: 'T4', gpus: 1, memoryGiB: 16, peakTflops: 8.1, efficiency: 0.3, onDemandUsdPerHour: 0.752, spotUsdPerHour: 0.3, startupMinutes: 5, source: `NVIDIA T4 datasheet; ${PRICES}; ${ASSUMED}` },
  'g5.xlarge': { gpu: 'A10G', gpus: 1, memoryGiB: 24, peakTflops: 31.2, efficiency: 0.3, onDemandUsdPerHour: 1.006, spotUsdPerHour: 0.4, startupMinutes: 35, source: `NVIDIA A10 datasheet (31.2 TFLOP/s FP32, 24 GB); ${PRICES}; ${ASSUMED}; ${JIT}` },
  'g5.2xlarge': { gpu: 'A10G', gpus: 1, memoryGiB: 24, peakTflops: 31.2, efficiency: 0.3, onDemandUsdPerHour: 1.212, spotUsdPerHour: 0.48, startupMinutes: 35, source: `NVIDIA A10 datasheet; ${PRICES}; ${ASSUMED}; ${JIT}` },
  'g6.xlarge': { gpu: 'L4', gpus: 1, memoryGiB: 24, peakTflops: 30.3, efficiency: 0.3, onDemandUsdPerHour: 0.805, spotUsdPerHour: 0.32, startupMinutes: 35, source: `NVIDIA L4 datasheet (30.3 TFLOP/s FP32, 24 GB); ${PRICES}; ${ASSUMED}; ${JIT}` },
  'g5.12xlarge': { gpu: 'A10G', gpus: 4, memoryGiB: 24, peakTflops: 31.2, efficiency: 0.3, onDemandUsdPerHour: 5.672, spotUsdPerHour: 2.27, startupMinutes: 35, source: `NVIDIA A10 datasheet; 4 GPUs, of which a job uses sage:jobGpus (default 1), one data-parallel replica each; ${PRICES}; ${ASSUMED}; ${JIT}` },
};

export class GpuTableError extends EstimateError {
  constructor(message: string) {
    super(message);
    this.name = 'GpuTableError';
  }
}

/** Parses a table (cdk.json's `sage:gpus`, the function's GPU_TABLE), naming each bad entry. */
export function parseGpuTable(value: unknown, where: string): GpuTable {
  const parsed = GpuTable.safeParse(value);
  if (!parsed.success) {
    throw new GpuTableError(`${where}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(table)'}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}
