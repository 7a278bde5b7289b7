/**
 * Labelled image sets from the procedural world, as raw pixels or as CLIP-normalised NHWC
 * floats. Each class draws from its own seeded stream, so a set is reproducible and adding
 * images to one class never changes another's.
 */
import { applyDomain, type DomainName } from './domain';
import { createRng, mixSeed32 } from '../common/random';
import { renderImage } from './render';
import { sampleShapeSpec, WORLD_CLASSES } from './world';

/** CLIP's normalisation (SPEC section 2). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export interface LabelledImages {
  /** HWC RGB 0-255, `size`×`size` each. */
  images: Uint8Array[];
  labels: number[];
  size: number;
}

/** Stream tags, so the same seed gives unrelated training, held-out and dataset images. */
export const STREAM = { heldOut: 0x4e1d, monitor: 0x3017, datasetTrain: 0x7a1, datasetTest: 0x7e57 } as const;

/**
 * Image `index` of class `classIndex` in stream `stream` of `seed`, seen in `domain`: a pure
 * function of its arguments (the domain changes the colours, never the drawn scene).
 */
export function renderClassImage(classIndex: number, index: number, size: number, seed: number, stream: number, domain: DomainName = 'pretraining'): Uint8Array {
  const rng = createRng(mixSeed32(seed, stream, classIndex, index));
  return applyDomain(renderImage(sampleShapeSpec(classIndex, rng), size, rng), domain);
}

/** `perClass` images of every class (class-major order), from the given stream. */
export function renderBalancedSet(perClass: number, size: number, seed: number, stream: number = STREAM.heldOut): LabelledImages {
  const set: LabelledImages = { images: [], labels: [], size };
  for (const { index: classIndex } of WORLD_CLASSES) {
    for (let i = 0; i < perClass; i++) {
      set.images.push(renderClassImage(classIndex, i, size, seed, stream));
      set.labels.push(classIndex);
    }
  }
  return set;
}

/** HWC 0-255 images → CLIP-normalised NHWC floats `[count, size, size, 3]`. */
export function toClipPixels(images: readonly Uint8Array[], size: number): Float32Array {
  const plane = size * size * 3;
  const out = new Float32Array(images.length * plane);
  images.forEach((pixels, b) => {
    if (pixels.length !== plane) throw new RangeError(`toClipPixels expected ${plane} bytes per ${size}×${size} RGB image, image ${b} has ${pixels.length}`);
    for (let i = 0; i < plane; i++) {
      const c = i % 3;
      out[b * plane + i] = ((pixels[i] as number) / 255 - (CLIP_MEAN[c] as number)) / (CLIP_STD[c] as number);
    }
  });
  return out;
}
