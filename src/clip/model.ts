/**
 * ClipModelImpl: the two towers and the visual projection behind the ClipModel
 * interface. Every public call runs in `tf.tidy`, so only its result outlives it.
 */
import * as tf from '@tensorflow/tfjs';
import { type TensorTable, tensorData } from './encoder';
import { FrozenLinear } from './layers';
import { TextTower } from './text';
import type { SafetensorsEntry } from './safetensors';
import { randomClipTensors } from './testing';
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

/**
 * A CLIP at `config`'s shape with seeded random F32 weights (Hugging Face's init), held in memory:
 * no folder is written, so sage doctor and the benchmarks can time ViT-B/16 shapes in seconds.
 */
export function randomClipModel(config: ClipConfig, seed = 0, fingerprint = `random-${seed}`): ClipModel {
  const table = new Map<string, SafetensorsEntry>();
  for (const [name, tensor] of Object.entries(randomClipTensors(config, seed))) table.set(name, { dtype: 'F32', shape: tensor.shape, data: tensor.data });
  return new ClipModelImpl(config, table, { source: `random:${config.vision.hiddenSize}x${config.vision.numLayers}`, fingerprint });
}
