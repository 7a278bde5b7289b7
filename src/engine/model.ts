/**
 * The Sage model and its forward passes: a frozen CLIP, one adapter per vision block
 * (AdaptFormer or SG-Adapter), the trainable cosine classifier W, the frozen zero-shot
 * classifier W^zs and FIT's s1, s2. `createSageModel` is the one public factory: W^zs comes
 * from the CLIP text tower (60 templates with `init`, else "a photo of a [cls].", LIFT's
 * default) or ready-made (a saved adapter, tests); the trainable W starts equal to it, and
 * FIT's frozen W^zs is that same classifier.
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRows, zeroShotClassifier, zeroShotLogits, type ClipModel, type ClipTokenizer, type PromptEncoder, type VisionBlockHook } from '../clip';
import type { ImageBatch } from '../contracts/batches';
import type { ParameterReport } from '../contracts/metrics';
import type { Settings } from '../contracts/settings';
import { createAdaptFormer, createSgAdapter, liftBottleneck, parameterReport, type BlockAdapter, type NamedVariable } from './adapters';
import { EngineInputError } from './errors';
import { adjustedCrossEntropySum, classifierGuidance, cosineLogits, fitLogits, fitLossSum } from './heads';

export interface SageModel {
  readonly clip: ClipModel;
  readonly settings: Settings;
  readonly classNames: readonly string[];
  readonly numClasses: number;
  /** Vision hidden size d. */
  readonly width: number;
  readonly bottleneck: number;
  /** One per vision block; empty for the zero-shot method. */
  readonly adapters: readonly BlockAdapter[];
  /** `classifier.weight`, `[C, d]`. */
  readonly classifier: NamedVariable;
  /** `fit.s1`, `fit.s2` when FIT is on, else empty. */
  readonly fitScales: readonly NamedVariable[];
  /** Frozen W^zs, row-normalised and transposed: `[d, C]`. */
  readonly zeroShotWeightsT: tf.Tensor2D;
  /** Frozen class text embeddings in the projection space `[C, p]` (the zero-shot method's classifier). */
  readonly textEmbeddings: tf.Tensor2D | null;
  /** Every trainable variable in the fixed order the optimizer's slots follow. */
  trainableVariables(): NamedVariable[];
  parameterReport(): ParameterReport;
  dispose(): void;
}

interface ModelBase {
  clip: ClipModel;
  settings: Settings;
  classNames: readonly string[];
}

/** W^zs and the text embeddings, ready-made: `[C, d]` in the image hidden space and `[C, p]` in the projection space. */
export interface ZeroShotTensors {
  zeroShotWeights: tf.Tensor2D;
  textEmbeddings?: tf.Tensor2D;
  /**
   * The frozen `[d, C]` W^zs exactly as another model holds it (`zeroShotWeightsT`), instead of
   * normalising zeroShotWeights again: a data-parallel replica's copy then matches it bit for bit.
   */
  zeroShotWeightsT?: tf.Tensor2D;
}

/** W^zs from the CLIP text tower. */
export interface ZeroShotFromText {
  tokenizer: ClipTokenizer;
  /** Cache folder (or s3:// prefix) for the text classifier; null disables it; default the CLIP cache. */
  cacheDir?: string | null;
  /** Who encodes the text classifier's prompts (zeroShotClassifier's `encoder`); default this thread. */
  encoder?: PromptEncoder;
  /** Stage lines of the text classifier (prompts, ETA, cache hit); default silent. */
  log?: (line: string) => void;
}

export type CreateSageModelOptions = ModelBase & (ZeroShotFromText | ZeroShotTensors);

/** Builds the model; tensors passed in stay the caller's (they are copied). */
export async function createSageModel(options: CreateSageModelOptions): Promise<SageModel> {
  if ('zeroShotWeights' in options) return buildSageModel(options);
  const { clip, settings, classNames } = options;
  const zeroShot = await zeroShotClassifier(clip, options.tokenizer, classNames, {
    templates: settings.components.init ? 'ensemble60' : 'single',
    cacheDir: options.cacheDir,
    ...(options.encoder ? { encoder: options.encoder } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    return buildSageModel({ clip, settings, classNames, zeroShotWeights: zeroShot.weights, textEmbeddings: zeroShot.textEmbeddings });
  } finally {
    zeroShot.weights.dispose();
    zeroShot.textEmbeddings.dispose();
  }
}

function checkShape(tensor: tf.Tensor, expected: number[], what: string): void {
  if (tensor.shape.length !== expected.length || tensor.shape.some((s, i) => s !== expected[i])) {
    throw new EngineInputError(`${what} has shape [${tensor.shape.join(', ')}]; expected [${expected.join(', ')}]`);
  }
}

/** The synchronous assembly behind createSageModel (and loadAdapter). */
export function buildSageModel(options: ModelBase & ZeroShotTensors): SageModel {
  const { clip, settings, classNames } = options;
  const numClasses = classNames.length;
  const vision = clip.config.vision;
  const width = vision.hiddenSize;
  if (numClasses < 2) throw new EngineInputError(`need at least 2 classes; got ${numClasses}`);
  checkShape(options.zeroShotWeights, [numClasses, width], 'zeroShotWeights');

  const bottleneck = settings.bottleneck ?? liftBottleneck(numClasses, vision.numLayers);
  const trained = settings.method !== 'zero-shot';
  const adapters: BlockAdapter[] = [];
  if (trained) {
    for (let layer = 0; layer < vision.numLayers; layer++) {
      const shape = { layer, width, bottleneck, scaleInit: settings.adapterScale, seed: settings.seed };
      adapters.push(
        settings.components.sg
          ? createSgAdapter({ ...shape, alpha: settings.alpha, svtInit: settings.svtInit, projection: settings.sgProjection })
          : createAdaptFormer(shape),
      );
    }
  }
  // A variable shares its initial tensor's data: each initial handle is disposed, or the data outlives the variable.
  const variableFrom = (initial: tf.Tensor, trainable: boolean): tf.Variable => {
    const variable = tf.variable(initial, trainable);
    initial.dispose();
    return variable;
  };
  const classifier: NamedVariable = { name: 'classifier.weight', variable: variableFrom(tf.clone(options.zeroShotWeights), trained) };
  const fitScales: NamedVariable[] =
    trained && settings.components.fit
      ? ['fit.s1', 'fit.s2'].map((name) => ({ name, variable: variableFrom(tf.scalar(settings.fitScaleInit), true) }))
      : [];
  if (options.zeroShotWeightsT) checkShape(options.zeroShotWeightsT, [width, numClasses], 'zeroShotWeightsT');
  const zeroShotWeightsT = options.zeroShotWeightsT ? tf.clone(options.zeroShotWeightsT) : tf.tidy(() => tf.transpose(l2NormalizeRows(options.zeroShotWeights)));
  const textEmbeddings = options.textEmbeddings ? tf.clone(options.textEmbeddings) : null;
  const adapterVariables = () => adapters.flatMap((a) => a.variables);

  return {
    clip,
    settings,
    classNames,
    numClasses,
    width,
    bottleneck,
    adapters,
    classifier,
    fitScales,
    zeroShotWeightsT,
    textEmbeddings,
    trainableVariables: () => (trained ? [...adapterVariables(), classifier, ...fitScales] : []),
    parameterReport: () =>
      parameterReport({
        adapters: adapterVariables(),
        classifier: trained ? [classifier] : [],
        fitScalars: fitScales,
        numLayers: vision.numLayers,
        bottleneck: trained ? bottleneck : 0,
      }),
    dispose() {
      for (const v of [...adapterVariables(), classifier, ...fitScales]) v.variable.dispose();
      zeroShotWeightsT.dispose();
      textEmbeddings?.dispose();
    },
  };
}

/**
 * Batch pixels → a tensor. The data loader's batches live in shared memory (a SharedArrayBuffer
 * the decode workers write into). The wasm backend copies into its own heap either way, but the
 * cpu backend would keep a view of the shared batch, and native bindings (tfjs-node's N-API
 * addon) are not known to accept shared views, so a shared view is copied into a plain buffer
 * first: about 0.6 MB an image at 224 px, small beside a training step.
 */
export function pixelTensor(images: Float32Array, shape: [number, number, number, number]): tf.Tensor4D {
  const owned = images.buffer instanceof SharedArrayBuffer ? images.slice() : images;
  return tf.tensor4d(owned, shape);
}

/** f with the adapters: `[n, d]`. */
export function adaptedFeatures(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  if (model.adapters.length === 0) return model.clip.encodeImageFeatures(pixels);
  // w̄ is computed once per forward and shared by every block (SG-Adapter only).
  const guidance = model.settings.components.sg ? classifierGuidance(model.classifier.variable as tf.Tensor2D) : null;
  const blockHook: VisionBlockHook = (layer, xTilde) => {
    const adapter = model.adapters[layer];
    return adapter ? adapter.apply(xTilde, guidance) : null;
  };
  return model.clip.encodeImageFeatures(pixels, { blockHook });
}

/** f^zs, the frozen backbone's feature (no adapters); call outside any gradient tape. */
export function frozenFeatures(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  return model.clip.encodeImageFeatures(pixels);
}

export interface LossInputs {
  pixels: tf.Tensor4D;
  oneHot: tf.Tensor2D;
  /** τ log n (+ log Λ), `[C]`. */
  adjustment: tf.Tensor1D;
  /** f^zs for FIT, computed forward-only; null without FIT. */
  zeroShotFeatures: tf.Tensor2D | null;
}

/** Σ of the per-image training loss, and the logits used for prediction (for train accuracy). */
export function trainingLoss(model: SageModel, inputs: LossInputs): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const { settings } = model;
  const features = adaptedFeatures(model, inputs.pixels);
  const weights = model.classifier.variable as tf.Tensor2D;
  const [s1, s2] = model.fitScales;
  if (settings.components.fit && s1 && s2 && inputs.zeroShotFeatures) {
    const logits = fitLogits({
      features,
      zeroShotFeatures: inputs.zeroShotFeatures,
      weights,
      zeroShotWeightsT: model.zeroShotWeightsT,
      s1: s1.variable,
      s2: s2.variable,
      scale: settings.logitScale,
    });
    return { loss: fitLossSum(logits, inputs.oneHot, inputs.adjustment, settings), logits: logits.zFused };
  }
  const logits = cosineLogits(features, weights, settings.logitScale);
  return { loss: adjustedCrossEntropySum(logits, inputs.oneHot, inputs.adjustment), logits };
}

/** The logits a prediction is made from: ẑ with FIT, z otherwise, and for zero-shot CLIP's own logit scale (100) · cos(proj f, t). */
export function predictionLogits(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  const { settings } = model;
  if (settings.method === 'zero-shot') {
    if (!model.textEmbeddings) throw new EngineInputError('the zero-shot method needs the class text embeddings; build the model with textEmbeddings');
    return zeroShotLogits(model.clip, model.clip.encodeImageFeatures(pixels), model.textEmbeddings);
  }
  const features = adaptedFeatures(model, pixels);
  const weights = model.classifier.variable as tf.Tensor2D;
  const [s1, s2] = model.fitScales;
  if (settings.components.fit && s1 && s2) {
    const logits = fitLogits({
      features,
      zeroShotFeatures: frozenFeatures(model, pixels),
      weights,
      zeroShotWeightsT: model.zeroShotWeightsT,
      s1: s1.variable,
      s2: s2.variable,
      scale: settings.logitScale,
    });
    return logits.zFused;
  }
  return cosineLogits(features, weights, settings.logitScale);
}

/** Logits per item `[n, C]`, averaging the crops of an item when a batch holds several (TTE). */
export function batchLogits(model: SageModel, batch: Pick<ImageBatch, 'images' | 'n' | 'size' | 'crops'>): tf.Tensor2D {
  return tf.tidy(() => {
    const pixels = pixelTensor(batch.images, [batch.n * batch.crops, batch.size, batch.size, 3]);
    const logits = predictionLogits(model, pixels);
    if (batch.crops === 1) return logits;
    return tf.mean(tf.reshape(logits, [batch.n, batch.crops, model.numClasses]), 1); // [items, crops, classes] → [items, classes]
  });
}
