/**
 * ClipModelImpl: the two towers and the visual projection behind the ClipModel
 * interface. Every public call runs in `tf.tidy`, so only its result outlives it.
 */
import * as tf from '@tensorflow/tfjs';
import { type TensorTable, tensorData } from './encoder';
import { FrozenLinear } from './layers';
import { TextTower } from './text';
import type { ClipConfig, ClipModel, EncodeImageOptions } from './types';
import { VisionTower } from './vision';

export interface ClipModelIdentity {
  source: string;
  fingerprint: string;
}

export class ClipModelImpl implements ClipModel {
  readonly source: string;
  readonly fingerprint: string;
  private readonly vision: VisionTower;
  private readonly text: TextTower;
  private readonly projection: FrozenLinear;

  /** Builds the towers from a checked tensor table (see checkClipTensors). */
  constructor(
    readonly config: ClipConfig,
    table: TensorTable,
    identity: ClipModelIdentity,
  ) {
    this.source = identity.source;
    this.fingerprint = identity.fingerprint;
    this.vision = new VisionTower(table, config.vision);
    this.text = new TextTower(table, config.text, config.projectionDim);
    this.projection = new FrozenLinear({ weight: tensorData(table, 'visual_projection.weight'), out: config.projectionDim, in: config.vision.hiddenSize });
  }

  encodeImageFeatures(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): tf.Tensor2D {
    return tf.tidy(() => this.vision.features(pixels, options.blockHook));
  }

  projectImage(features: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.projection.apply(features));
  }

  encodeText(ids: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.text.encode(ids));
  }

  get visualProjection(): tf.Tensor2D {
    return this.projection.weightTensor();
  }

  dispose(): void {
    this.vision.dispose();
    this.text.dispose();
    this.projection.dispose();
  }
}
