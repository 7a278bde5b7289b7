/**
 * Batch pixels → a tensor. The data loader's batches live in shared memory (a SharedArrayBuffer
 * the decode workers write into). The wasm backend copies into its own heap either way, but the
 * cpu backend would keep a view of the shared batch, and native bindings (tfjs-node's N-API
 * addon) are not known to accept shared views, so a shared view is copied into a plain buffer
 * first: about 0.6 MB an image at 224 px, small beside a training step.
 */
import * as tf from '@tensorflow/tfjs';

export function pixelTensor(images: Float32Array, shape: [number, number, number, number]): tf.Tensor4D {
  const owned = images.buffer instanceof SharedArrayBuffer ? images.slice() : images;
  return tf.tensor4d(owned, shape);
}
