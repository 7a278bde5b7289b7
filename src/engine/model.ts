/**
 * The Sage model: a frozen CLIP, one adapter per vision block (AdaptFormer or SG-Adapter),
 * the trainable cosine classifier W, the frozen zero-shot classifier W^zs and FIT's s1, s2.
 * `buildSageModel` takes the zero-shot weights ready-made (tests, saved adapters);
 * `createSageModel` (zero-shot.ts) computes them with the CLIP text tower.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParameterReport } from '../contracts/metrics';
import type { Settings } from '../contracts/settings';
import type { ClipModel } from '../clip/types';
import { createAdaptFormer } from './adapters/adaptformer';
import type { NamedVariable } from './adapters/parameters';
import { createSgAdapter } from './adapters/sg-adapter';
import type { BlockAdapter } from './adapters/types';
import { EngineInputError } from './errors';
import { l2NormalizeRows } from './ops/normalize';
import { liftBottleneck, parameterReport } from './parameters';

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

export interface BuildSageModelOptions {
  clip: ClipModel;
  settings: Settings;
  classNames: readonly string[];
  /** W^zs `[C, d]` in the image hidden space (frozen; FIT's z^t uses it). */
  zeroShotWeights: tf.Tensor2D;
  /** Initial W `[C, d]`; defaults to W^zs. */
  initialWeights?: tf.Tensor2D;
  /** Class text embeddings `[C, p]` in the projection space, for the zero-shot method's logits. */
  textEmbeddings?: tf.Tensor2D;
}

function checkShape(tensor: tf.Tensor, expected: number[], what: string): void {
  if (tensor.shape.length !== expected.length || tensor.shape.some((s, i) => s !== expected[i])) {
    throw new EngineInputError(`${what} has shape [${tensor.shape.join(', ')}]; expected [${expected.join(', ')}]`);
  }
}

/** Assembles the model; the caller keeps ownership of the tensors passed in (they are copied). */
export function buildSageModel(options: BuildSageModelOptions): SageModel {
  const { clip, settings, classNames } = options;
  const numClasses = classNames.length;
  const vision = clip.config.vision;
  const width = vision.hiddenSize;
  if (numClasses < 2) throw new EngineInputError(`need at least 2 classes; got ${numClasses}`);
  checkShape(options.zeroShotWeights, [numClasses, width], 'zeroShotWeights');
  if (options.initialWeights) checkShape(options.initialWeights, [numClasses, width], 'initialWeights');

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
  const classifier: NamedVariable = {
    name: 'classifier.weight',
    variable: tf.variable(tf.clone(options.initialWeights ?? options.zeroShotWeights), trained),
  };
  const fitScales: NamedVariable[] =
    trained && settings.components.fit
      ? ['fit.s1', 'fit.s2'].map((name) => ({ name, variable: tf.variable(tf.scalar(settings.fitScaleInit), true) }))
      : [];
  const zeroShotWeightsT = tf.tidy(() => tf.transpose(l2NormalizeRows(options.zeroShotWeights)));
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
