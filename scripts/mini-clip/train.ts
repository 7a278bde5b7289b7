/**
 * Contrastive training of the mini-CLIP on procedural (image, caption) pairs: fresh pairs every
 * step from a seeded stream, AdamW with linear warm-up and cosine decay, progress on stderr.
 * Single-threaded wasm kernels are deterministic, so a seed fixes the trained weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/types';
import { fillFrame } from '../../src/procedural/captions';
import { createRng, mixSeed32 } from '../../src/common/random';
import { renderBalancedSet, STREAM } from '../../src/procedural/samples';
import { CLASS_NAMES } from '../../src/procedural/world';
import { encodeCaptionIds, imagesToPatches, sampleTrainingPairs } from './batches';
import { causalMask, contrastiveLoss, imageEmbeddings, textEmbeddings } from './model';
import { AdamW } from './optimizer';
import { initialValues, paramSpecs, type ParamSpec } from './params';

/** Turns a caption into token ids with the start and end tokens, unpadded. */
export type CaptionEncoder = (caption: string) => number[];

export interface MiniClipTrainOptions {
  seed: number;
  steps: number;
  batchSize: number;
  /** Peak learning rate after warm-up. */
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  /**
   * Most text tokens a caption may have in training (≤ max_position_embeddings). Each batch is
   * cut to its longest caption: causal attention makes the tokens after the end token irrelevant.
   */
  trainContext: number;
  /** Caption frames with a `[cls]` placeholder. */
  frames: readonly string[];
  /** Held-out zero-shot check every this many steps (0: never). */
  evalEvery: number;
  log: (line: string) => void;
}

export interface TrainedMiniClip {
  specs: ParamSpec[];
  /** Final values in the trainer layout, by HF name. */
  values: Map<string, Float32Array>;
  finalLoss: number;
  /** Last held-out zero-shot accuracy with the single prompt "a photo of a [cls]." (NaN when never evaluated). */
  heldOutAccuracy: number;
}

/** Decoupled decay for matrices only, as in CLIP: never for biases, LayerNorm, embeddings or the scale. */
function decays(spec: ParamSpec): boolean {
  return spec.layout !== 'same';
}

function learningRateAt(step: number, options: MiniClipTrainOptions): number {
  if (step < options.warmupSteps) return (options.learningRate * (step + 1)) / options.warmupSteps;
  const progress = (step - options.warmupSteps) / Math.max(1, options.steps - options.warmupSteps);
  return 0.5 * options.learningRate * (1 + Math.cos(Math.PI * progress));
}

interface Inputs {
  config: ClipConfig;
  encode: CaptionEncoder;
  options: MiniClipTrainOptions;
  /** Causal masks by context length, made once. */
  masks: Map<number, tf.Tensor2D>;
}

function captionTensors(captions: readonly string[], inputs: Inputs): { oneHot: tf.Tensor2D; eosMask: tf.Tensor3D; mask: tf.Tensor2D } {
  const { config, options } = inputs;
  const ids = captions.map(inputs.encode);
  // The batch's longest caption, or the limit so that an over-long caption is reported.
  const context = Math.min(options.trainContext, Math.max(...ids.map((row) => row.length)));
  const { oneHot, eosMask } = encodeCaptionIds(ids, captions, context, config.text.vocabSize, config.text.eosTokenId);
  let mask = inputs.masks.get(context);
  if (!mask) {
    mask = tf.keep(causalMask(context));
    inputs.masks.set(context, mask);
  }
  return {
    oneHot: tf.tensor2d(oneHot, [captions.length * context, config.text.vocabSize]),
    eosMask: tf.tensor3d(eosMask, [captions.length, context, 1]),
    mask,
  };
}

function patchTensor(images: readonly Uint8Array[], config: ClipConfig): tf.Tensor2D {
  const { imageSize, patchSize } = config.vision;
  const tokens = (imageSize / patchSize) ** 2 + 1;
  return tf.tensor2d(imagesToPatches(images, imageSize, patchSize), [images.length * tokens, 3 * patchSize * patchSize]);
}

/** Zero-shot top-1 of the current weights on a fixed held-out set, one prompt per class. */
function heldOutAccuracy(params: Map<string, tf.Variable>, inputs: Inputs, images: readonly Uint8Array[], labels: readonly number[]): number {
  return tf.tidy(() => {
    const prompts = CLASS_NAMES.map((name) => fillFrame('a photo of a [cls].', name));
    const { oneHot, eosMask, mask } = captionTensors(prompts, inputs);
    const text = textEmbeddings(params, inputs.config, oneHot, eosMask, mask);
    const image = imageEmbeddings(params, inputs.config, patchTensor(images, inputs.config), images.length);
    const scores = tf.matMul(tf.div(image, tf.norm(image, 'euclidean', 1, true)), tf.div(text, tf.norm(text, 'euclidean', 1, true)), false, true);
    const predicted = tf.argMax(scores, 1).dataSync();
    let correct = 0;
    labels.forEach((label, i) => {
      if (predicted[i] === label) correct++;
    });
    return correct / labels.length;
  });
}

export function trainMiniClip(config: ClipConfig, encode: CaptionEncoder, options: MiniClipTrainOptions): TrainedMiniClip {
  const specs = paramSpecs(config);
  const initRng = createRng(mixSeed32(options.seed, 0x1a17));
  const params = new Map<string, tf.Variable>();
  for (const spec of specs) params.set(spec.name, tf.variable(tf.tensor(initialValues(spec, initRng), spec.shape), true, spec.name));
  const variables = specs.map((spec) => ({ variable: params.get(spec.name) as tf.Variable, decay: decays(spec) }));
  const optimizer = new AdamW(variables, { weightDecay: options.weightDecay });
  const inputs: Inputs = { config, encode, options, masks: new Map() };
  const dataRng = createRng(mixSeed32(options.seed, 0xda7a));
  // Its own stream: the final evaluation's held-out images stay unseen by any choice made here.
  const heldOut = renderBalancedSet(4, config.vision.imageSize, options.seed, STREAM.monitor);
  let finalLoss = Number.NaN;
  let accuracy = Number.NaN;
  let smoothed = Number.NaN;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (let step = 0; step < options.steps; step++) {
    const pairs = sampleTrainingPairs(options.batchSize, config.vision.imageSize, options.frames, dataRng);
    const loss = tf.tidy(() => {
      const patches = patchTensor(pairs.images, config);
      const { oneHot, eosMask, mask } = captionTensors(pairs.captions, inputs);
      const { value, grads } = tf.variableGrads(
        () => contrastiveLoss(params, imageEmbeddings(params, config, patches, pairs.images.length), textEmbeddings(params, config, oneHot, eosMask, mask)),
        variables.map(({ variable }) => variable),
      );
      optimizer.apply(
        specs.map((spec) => grads[spec.name] as tf.Tensor),
        learningRateAt(step, options),
      );
      return value.dataSync()[0] as number;
    });
    finalLoss = loss;
    smoothed = Number.isNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
    const last = step === options.steps - 1;
    if (options.evalEvery > 0 && ((step + 1) % options.evalEvery === 0 || last)) {
      accuracy = heldOutAccuracy(params, inputs, heldOut.images, heldOut.labels);
    }
    if ((step + 1) % 25 === 0 || last) {
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuStarted);
      const scale = Math.exp((params.get('logit_scale') as tf.Variable).dataSync()[0] as number);
      options.log(
        `step ${step + 1}/${options.steps} loss ${smoothed.toFixed(3)} scale ${scale.toFixed(1)} lr ${learningRateAt(step, options).toExponential(2)}` +
          ` monitor zero-shot (1 prompt) ${Number.isNaN(accuracy) ? '-' : (100 * accuracy).toFixed(1)}% wall ${seconds.toFixed(0)}s cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)}s`,
      );
    }
  }
  const values = new Map<string, Float32Array>();
  for (const spec of specs) values.set(spec.name, new Float32Array((params.get(spec.name) as tf.Variable).dataSync()));
  optimizer.dispose();
  for (const mask of inputs.masks.values()) mask.dispose();
  for (const variable of params.values()) variable.dispose();
  return { specs, values, finalLoss, heldOutAccuracy: accuracy };
}
