/**
 * How much work a run is, in floating-point operations, counted from the CLIP config (never
 * hard-coded): SPEC section 6. F is one vision-tower forward of one image at the model's image
 * size; a LIFT training image costs about 2F (the forward and the backward to the inputs: the
 * frozen weights get no gradient), FIT adds the forward of f^zs (3F); a test image costs F
 * (2F with FIT, whose ẑ needs f^zs too), five times over with TTE. The text tower encodes each
 * class's prompts once (60 templates with Init, 1 without) for the classifier.
 *
 * Counts are multiply-adds × 2 of the matrix products; layer norms, activations and softmaxes
 * are a fraction of a percent at these shapes and are left out. For ViT-B/16 at 224 this gives
 * 35.1 GFLOP per image, the figure of SPEC section 6.
 */

/** The parts of a CLIP config the count needs (src/clip's ClipConfig has them all). */
export interface TowerShapes {
  vision: { hiddenSize: number; intermediateSize: number; numLayers: number; imageSize: number; patchSize: number };
  text: { hiddenSize: number; intermediateSize: number; numLayers: number; maxPositionEmbeddings: number };
  projectionDim: number;
}

/** What a run does, as the settings say (src/contracts/settings.ts). */
export interface RunShape {
  method: 'zero-shot' | 'lift' | 'sage';
  components: { init: boolean; fit: boolean };
  epochs: number;
  tte: boolean;
  /** Evaluations during training every this many epochs and after the last (settings.evalEvery); 0 or absent: none. */
  evalEvery?: number;
}

/** FLOPs of one transformer encoder over `tokens` tokens of width `width`. */
function encoderFlops(tokens: number, width: number, intermediate: number, layers: number): number {
  const attentionProjections = 4 * tokens * width * width; // q, k, v and out
  const attentionScores = 2 * tokens * tokens * width; // QKᵀ and the weighted sum
  const mlp = 2 * tokens * width * intermediate;
  return 2 * layers * (attentionProjections + attentionScores + mlp);
}

/** F: one image through the vision tower (patch embedding, blocks, projection). */
export function visionForwardFlops(shapes: TowerShapes): number {
  const { hiddenSize, intermediateSize, numLayers, imageSize, patchSize } = shapes.vision;
  const patches = Math.floor(imageSize / patchSize) ** 2;
  const patchEmbedding = 2 * patches * 3 * patchSize * patchSize * hiddenSize;
  return patchEmbedding + encoderFlops(patches + 1, hiddenSize, intermediateSize, numLayers) + 2 * hiddenSize * shapes.projectionDim;
}

/** One prompt through the text tower (the full context: CLIP pads every prompt to it). */
export function textForwardFlops(shapes: TowerShapes): number {
  const { hiddenSize, intermediateSize, numLayers, maxPositionEmbeddings } = shapes.text;
  return encoderFlops(maxPositionEmbeddings, hiddenSize, intermediateSize, numLayers) + 2 * hiddenSize * shapes.projectionDim;
}

/** Forward-equivalents of one training image and one test image for a run. */
export function passesPerImage(run: RunShape): { train: number; test: number } {
  const fit = run.method !== 'zero-shot' && run.components.fit;
  const train = run.method === 'zero-shot' ? 0 : fit ? 3 : 2;
  const test = (fit ? 2 : 1) * (run.tte ? 5 : 1);
  return { train, test };
}

export interface RunWork {
  /** F, per image. */
  forwardFlops: number;
  trainFlops: number;
  testFlops: number;
  /** Evaluations during training (evalEvery), each as the final one costs per image (TTE and FIT included). */
  evalFlops: number;
  /** The text classifier: classes × templates prompts. */
  textFlops: number;
  totalFlops: number;
}

/** How many evaluations a run makes during training: every `evalEvery` epochs and after the last (src/engine/train.ts). */
export function evaluationsDuringTraining(run: Pick<RunShape, 'method' | 'epochs' | 'evalEvery'>): number {
  const every = run.evalEvery ?? 0;
  if (run.method === 'zero-shot' || every <= 0 || run.epochs <= 0) return 0;
  return Math.floor(run.epochs / every) + (run.epochs % every === 0 ? 0 : 1);
}

/**
 * The whole run's FLOPs: `trainImages` × epochs training, `testImages` evaluated once at the
 * end, the evaluations during training on `evalImages` (the val split, else the test split),
 * the prompts encoded once.
 */
export function runWork(shapes: TowerShapes, run: RunShape, counts: { trainImages: number; testImages: number; classes: number; evalImages?: number }): RunWork {
  const forwardFlops = visionForwardFlops(shapes);
  const passes = passesPerImage(run);
  const trainFlops = run.method === 'zero-shot' ? 0 : counts.trainImages * run.epochs * passes.train * forwardFlops;
  const testFlops = counts.testImages * passes.test * forwardFlops;
  // Evaluations during training cost what the final one does per image: evaluate() uses the run's TTE (five crops) and FIT's second pass.
  const evalPasses = passes.test;
  const evalFlops = evaluationsDuringTraining(run) * (counts.evalImages ?? counts.testImages) * evalPasses * forwardFlops;
  const templates = run.components.init ? 60 : 1;
  const textFlops = counts.classes * templates * textForwardFlops(shapes);
  return { forwardFlops, trainFlops, testFlops, evalFlops, textFlops, totalFlops: trainFlops + testFlops + evalFlops + textFlops };
}
