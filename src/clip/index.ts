/** The CLIP runtime: load a Hugging Face CLIP folder and run it in TensorFlow.js. */
export {
  initBackend,
  deviceFacts,
  diagnoseNativeBackend,
  describeDiagnosis,
  tensorflowOnCpu,
  ClipBackendUnavailableError,
  type BackendName,
  type InitBackendOptions,
  type NativeBackendDiagnosis,
} from './backend';
/** What runs the wasm backend's matrix products (OpenBLAS through native/gemm, or XNNPACK). */
export { matmulFacts, type MatmulFacts } from './native-matmul';
/** A CLIP with seeded random weights at any shape, held in memory: sage doctor and the benchmarks time real shapes with it. */
export { randomClipModel } from './model';
export { loadClip, ClipFolderError, type LoadClipOptions } from './loader';
export { loadClipTokenizer, ClipTokenizerError, type LoadClipTokenizerOptions } from './tokenizer';
export { parseClipConfig, ClipConfigError } from './config';
export { ClipWeightsError, clipTensorSpecs } from './weights';
export { ClipInputShapeError } from './vision';
export {
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
  writeSafetensorsFile,
  SafetensorsFormatError,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFileSummary,
  type SafetensorsInput,
  type SafetensorsReadProgress,
  type SafetensorsSpec,
  type SafetensorsWriteDtype,
} from './safetensors';
export type { ClipLog } from './progress';
export { defaultClipCacheDir } from './folder';
export * from './types';
export {
  zeroShotClassifier,
  classifierCacheKey,
  encodePromptBatch,
  encodePromptBatches,
  ClipClassifierCacheError,
  type PromptEncoder,
  type TokenBatch,
  type ZeroShotClassifier,
  type ZeroShotClassifierOptions,
} from './classifier-init';
export { zeroShotLogits } from './zero-shot';
export { ENSEMBLE_TEMPLATES, SINGLE_TEMPLATE, fillTemplate, templatesFor, type TemplateMode } from './templates';
/** 2-D ops the engine's trainable parts share with the frozen towers (wasm's fast matMul path). */
export { matMul2d, l2NormalizeRows } from './layers';
