/**
 * Turns procedural images and captions into the trainer's input tensors: CLIP-normalised
 * image patches (with the zero row where the class token goes) and one-hot caption tokens with
 * the end-of-text mask. Everything is built in typed arrays first, so a batch is a pure
 * function of the random stream.
 */
import { captionFor, type CaptionOptions } from '../../src/procedural/captions';
import { renderImage } from '../../src/procedural/render';
import { shuffleInPlace, type Rng } from '../../src/common/random';
import { CLIP_MEAN, CLIP_STD } from '../../src/procedural/samples';
import { sampleShapeSpec, WORLD_CLASSES } from '../../src/procedural/world';

/** A caption is longer than the training context. */
export class MiniClipCaptionTooLongError extends Error {
  constructor(caption: string, tokens: number, context: number) {
    super(`caption "${caption}" has ${tokens} tokens with start and end; the training context holds ${context}`);
    this.name = 'MiniClipCaptionTooLongError';
  }
}

/**
 * HWC 0-255 RGB images → `[count * (grid² + 1), 3·p·p]` normalised patches, one zero row first
 * per image, patches in row-major grid order, each flattened (channel, y, x) like the HF conv.
 */
export function imagesToPatches(images: readonly Uint8Array[], imageSize: number, patchSize: number): Float32Array {
  const grid = imageSize / patchSize;
  const tokens = grid * grid + 1;
  const width = 3 * patchSize * patchSize;
  const out = new Float32Array(images.length * tokens * width);
  images.forEach((pixels, b) => {
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        const row = (b * tokens + 1 + gy * grid + gx) * width;
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < patchSize; ky++) {
            for (let kx = 0; kx < patchSize; kx++) {
              const value = pixels[((gy * patchSize + ky) * imageSize + gx * patchSize + kx) * 3 + c] as number;
              out[row + (c * patchSize + ky) * patchSize + kx] = (value / 255 - (CLIP_MEAN[c] as number)) / (CLIP_STD[c] as number);
            }
          }
        }
      }
    }
  });
  return out;
}

export interface EncodedCaptions {
  /** `[count * context, vocab]` one-hot token rows. */
  oneHot: Float32Array;
  /** `[count, context]` with a 1 at each caption's first end-of-text token. */
  eosMask: Float32Array;
}

/** Token ids (start … end, unpadded) → one-hot rows and the end-of-text mask, padded with the end id. */
export function encodeCaptionIds(ids: readonly (readonly number[])[], captions: readonly string[], context: number, vocabSize: number, eosId: number): EncodedCaptions {
  const oneHot = new Float32Array(ids.length * context * vocabSize);
  const eosMask = new Float32Array(ids.length * context);
  ids.forEach((row, b) => {
    if (row.length > context) throw new MiniClipCaptionTooLongError(captions[b] ?? '', row.length, context);
    for (let t = 0; t < context; t++) oneHot[(b * context + t) * vocabSize + (row[t] ?? eosId)] = 1;
    const eos = row.indexOf(eosId);
    if (eos < 0) throw new MiniClipCaptionTooLongError(captions[b] ?? '', row.length, context);
    eosMask[b * context + eos] = 1;
  });
  return { oneHot, eosMask };
}

export interface TrainingSample {
  images: Uint8Array[];
  captions: string[];
  classIndices: number[];
}

/**
 * `count` random (image, caption) pairs. Classes come in shuffled rounds of the whole class list,
 * so a batch holds each class at most ceil(count / classes) times: fewer same-class pairs
 * counted as negatives by the contrastive loss than with independent draws.
 */
export function sampleTrainingPairs(count: number, imageSize: number, frames: readonly string[], rng: Rng, captionOptions?: CaptionOptions): TrainingSample {
  const sample: TrainingSample = { images: [], captions: [], classIndices: [] };
  let round: number[] = [];
  for (let i = 0; i < count; i++) {
    if (round.length === 0) round = shuffleInPlace(WORLD_CLASSES.map((c) => c.index), rng);
    const classIndex = round.pop() as number;
    const spec = sampleShapeSpec(classIndex, rng);
    sample.images.push(renderImage(spec, imageSize, rng));
    sample.captions.push(captionFor(spec, rng, frames, captionOptions));
    sample.classIndices.push(classIndex);
  }
  return sample;
}
