/**
 * What a run will cost before it starts: FLOPs counted from the CLIP config (work.ts), a table
 * of GPU throughput and prices (gpus.ts), and hours, dollars and attempts per instance type
 * (estimate.ts), and the training memory model that sizes micro-batches (memory.ts).
 * Handler-safe: no TensorFlow.js, no AWS SDK.
 */
export { runWork, evaluationsDuringTraining, visionForwardFlops, textForwardFlops, passesPerImage, type RunShape, type RunWork, type TowerShapes } from './work';
export { DEFAULT_GPUS, GpuSpec, GpuTable, GpuTableError, parseGpuTable } from './gpus';
export { estimateSweep, describeSweepEstimate, storedEstimate, DEFAULT_BUDGET, type EntryEstimate, type SweepEstimate, type SweepRun, type StoredEstimate } from './sweep';
export { estimateRun, describeEstimate, formatHours, formatUsd, dataParallelSpeedup, EstimateBudgetError, BATCH_MAX_ATTEMPTS, CHECKPOINT_MARGIN_MINUTES, DATA_PARALLEL_EFFICIENCY, type AttemptBudget, type InstanceEstimate, type RunEstimate } from './estimate';
export { liftBottleneck, perBlockFormula, type AdapterKind } from './parameters';
export {
  trainingBytesPerImage,
  fixedTrainingBytes,
  fitMicroBatch,
  inferenceBytesPerCrop,
  fitEvaluationBatch,
  trainableParameters,
  frozenMatrixFloats,
  wasmTrainingBudget,
  gpuTrainingBudget,
  WASM_HEAP_BYTES,
  GPU_RESERVED_BYTES,
  type MemoryShapes,
  type MemoryRun,
} from './memory';
